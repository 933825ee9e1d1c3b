package cluster

import "github.com/lobbyd/lobbyd/protocol"

// The delivery record's MessagePack encoding, written out instead of left
// to the library's reflection: every shard with members encodes one record
// per lobby message it delivers (deliveries.go), and msgpack.Marshal of a
// []recordEntry allocated ~30 times per record (the omitempty checks of
// each session's fields most of all) and took a third of a recording
// shard's allocations. The format is the reflective one's — a map keyed by
// the struct tags, empty optional fields left out, ints in their smallest
// form — so that ResumePoint (msgpack.Unmarshal) reads records written by
// either (TestRecordCodecMatchesReflection). Appends never allocate when b
// has room.

// appendRecordEntry appends one message of a record: {"l": last, "s": [sessions]}.
func appendRecordEntry(b []byte, last uint64, sessions []SessionDelivery) []byte {
	b = append(b, 0x82) // fixmap of 2
	b = protocol.AppendString(b, "l")
	b = protocol.AppendUint(b, last)
	b = protocol.AppendString(b, "s")
	b = protocol.AppendArrayHeader(b, len(sessions))
	for i := range sessions {
		b = appendSessionDelivery(b, &sessions[i])
	}
	return b
}

// appendSessionDelivery appends one session's part of a record entry.
func appendSessionDelivery(b []byte, p *SessionDelivery) []byte {
	n := 3
	if p.ArrivedIn {
		n++
	}
	if p.ArrivedAt != 0 {
		n++
	}
	if len(p.Events) > 0 {
		n++
	}
	if p.Derive {
		n++
	}
	b = append(b, 0x80|byte(n)) // fixmap: at most 7 fields
	b = protocol.AppendString(protocol.AppendString(b, "i"), p.ID)
	b = protocol.AppendUint(protocol.AppendString(b, "a"), p.After)
	b = protocol.AppendUint(protocol.AppendString(b, "r"), p.Arrived)
	if p.ArrivedIn {
		b = append(protocol.AppendString(b, "ri"), 0xc3)
	}
	if p.ArrivedAt != 0 {
		b = protocol.AppendUint(protocol.AppendString(b, "ro"), p.ArrivedAt)
	}
	if len(p.Events) > 0 {
		b = protocol.AppendArrayHeader(protocol.AppendString(b, "e"), len(p.Events))
		for _, v := range p.Events {
			b = protocol.AppendUint(b, v)
		}
	}
	if p.Derive {
		b = append(protocol.AppendString(b, "d"), 0xc3)
	}
	return b
}
