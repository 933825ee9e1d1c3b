package cluster

import (
	"encoding/binary"
	"math"
)

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
	b = mpStr(b, "l")
	b = mpUint(b, last)
	b = mpStr(b, "s")
	b = mpArrayLen(b, len(sessions))
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
	b = append(b, 0x80|byte(n)) // fixmap: at most 6 fields
	b = mpStr(mpStr(b, "i"), p.ID)
	b = mpUint(mpStr(b, "a"), p.After)
	b = mpUint(mpStr(b, "r"), p.Arrived)
	if p.ArrivedIn {
		b = append(mpStr(b, "ri"), 0xc3)
	}
	if p.ArrivedAt != 0 {
		b = mpUint(mpStr(b, "ro"), p.ArrivedAt)
	}
	if len(p.Events) > 0 {
		b = mpArrayLen(mpStr(b, "e"), len(p.Events))
		for _, v := range p.Events {
			b = mpUint(b, v)
		}
	}
	return b
}

func mpArrayLen(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xdc), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(b, 0xdd), uint32(n))
	}
}

func mpStr(b []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

func mpUint(b []byte, u uint64) []byte {
	switch {
	case u <= math.MaxInt8:
		return append(b, byte(u))
	case u <= math.MaxUint8:
		return append(b, 0xcc, byte(u))
	case u <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(u))
	case u <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(u))
	default:
		return binary.BigEndian.AppendUint64(append(b, 0xcf), u)
	}
}
