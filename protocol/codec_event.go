package protocol

import (
	"encoding/binary"
	"fmt"
)

// Events (docs/protocol.md §2) are encoded as {"seq": uint64, "ev": name, "d": ...}
// with "seq" first and always in its 9-byte form (0xcf + 8 bytes). Its place
// is then fixed — byte 6 of the message — so an event is encoded once and the
// same bytes are stamped with each recipient's session seq (SetEventSeq) just
// before they are written, instead of being encoded once per recipient.
//
//	offset 0      1 2 3 4         5     6..13
//	       0x83   0xa3 's' 'e' 'q' 0xcf  seq (big endian)
//
// EventHeadLen is the length of that per-recipient part: a writer can send
// its own copy of the first EventHeadLen bytes and share the rest.
const (
	EventSeqOffset = 6
	EventHeadLen   = EventSeqOffset + 8
)

var eventPrefix = [EventSeqOffset]byte{0x83, 0xa3, 's', 'e', 'q', 0xcf}

// appendEventHeader appends an event's envelope up to and including the "d"
// key, with seq 0: the caller appends the encoded "d" map right after.
func appendEventHeader(b []byte, name string) []byte {
	b = append(b, eventPrefix[:]...)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0)
	b = append(b, 0xa2, 'e', 'v')
	b = appendStr(b, name)
	return append(b, 0xa1, 'd')
}

// AppendEvent appends the event name with payload v (a struct or map; nil
// is {}) encoded by the msgpack library, and seq 0. For cold events; on
// error b is returned unchanged.
func AppendEvent(b []byte, name string, v any) ([]byte, error) {
	n := len(b)
	out, err := appendValue(appendEventHeader(b, name), v)
	if err != nil {
		return b[:n], err
	}
	return out, nil
}

// AppendDataEvent appends lobby.data {"from": from, "data": bin} with seq 0,
// without the msgpack library: it is the hot event.
func AppendDataEvent(b []byte, from string, data []byte) []byte {
	b = appendEventHeader(b, EvData)
	b = append(b, 0x82, 0xa4, 'f', 'r', 'o', 'm')
	b = appendStr(b, from)
	b = append(b, 0xa4, 'd', 'a', 't', 'a')
	return appendBin(b, data)
}

// isEvent reports whether ev starts like a message of appendEventHeader.
func isEvent(ev []byte) bool {
	return len(ev) >= EventHeadLen && [EventSeqOffset]byte(ev[:EventSeqOffset]) == eventPrefix
}

// SetEventSeq writes seq into an event built by this package. The event
// must not be shared with a goroutine that reads it meanwhile: stamp a
// copy, or stamp and write under the same lock. A message that is not such
// an event is a bug in the caller, and panics.
func SetEventSeq(ev []byte, seq uint64) {
	if !isEvent(ev) {
		panic(fmt.Sprintf("protocol: SetEventSeq on a message that is not an event (%d bytes)", len(ev)))
	}
	binary.BigEndian.PutUint64(ev[EventSeqOffset:], seq)
}

// EventSeq reads the seq of an event built by this package; 0 when ev is
// not such an event.
func EventSeq(ev []byte) uint64 {
	if !isEvent(ev) {
		return 0
	}
	return binary.BigEndian.Uint64(ev[EventSeqOffset:])
}
