package client

import "encoding/binary"

// scanner reads the few MessagePack shapes the load generator needs straight
// from a received frame, without allocating. It is written here on purpose:
// the receive path runs for every delivered message of every connection, and
// a general decoder (vmihailenco/msgpack) allocates per key and per value,
// which would make the load generator, not the server, the bottleneck. Cold
// paths (replies) still use vmihailenco/msgpack.
//
// Every method checks bounds against the bytes left and reports false on
// short or unexpected input; nothing panics on hostile bytes.
type scanner struct {
	b []byte
	i int
}

// maxSkipDepth bounds recursion in skip.
const maxSkipDepth = 32

func (s *scanner) byte1() (byte, bool) {
	if s.i >= len(s.b) {
		return 0, false
	}
	c := s.b[s.i]
	s.i++
	return c, true
}

// uintN reads an n-byte big-endian unsigned integer.
func (s *scanner) uintN(n int) (uint64, bool) {
	if n > len(s.b)-s.i {
		return 0, false
	}
	var v uint64
	switch n {
	case 1:
		v = uint64(s.b[s.i])
	case 2:
		v = uint64(binary.BigEndian.Uint16(s.b[s.i:]))
	case 4:
		v = uint64(binary.BigEndian.Uint32(s.b[s.i:]))
	case 8:
		v = binary.BigEndian.Uint64(s.b[s.i:])
	default:
		return 0, false
	}
	s.i += n
	return v, true
}

// take returns the next n bytes as a sub-slice.
func (s *scanner) take(n uint64) ([]byte, bool) {
	if n > uint64(len(s.b)-s.i) {
		return nil, false
	}
	out := s.b[s.i : s.i+int(n)]
	s.i += int(n)
	return out, true
}

// mapLen reads a map header.
func (s *scanner) mapLen() (int, bool) {
	c, ok := s.byte1()
	if !ok {
		return 0, false
	}
	var n uint64
	switch {
	case c&0xf0 == 0x80:
		n = uint64(c & 0x0f)
	case c == 0xde:
		n, ok = s.uintN(2)
	case c == 0xdf:
		n, ok = s.uintN(4)
	default:
		return 0, false
	}
	// Each entry needs at least two bytes: a larger count is a lie.
	if !ok || n > uint64(len(s.b)-s.i)/2 {
		return 0, false
	}
	return int(n), true
}

// fields walks a map: for each key, field reads (or skips) the value and
// reports whether it was well formed. False on malformed input.
func (s *scanner) fields(field func(key []byte) bool) bool {
	n, ok := s.mapLen()
	if !ok {
		return false
	}
	for range n {
		k, ok := s.raw()
		if !ok || !field(k) {
			return false
		}
	}
	return true
}

// raw reads a str or bin value (both carry bytes).
func (s *scanner) raw() ([]byte, bool) {
	c, ok := s.byte1()
	if !ok {
		return nil, false
	}
	var n uint64
	switch {
	case c&0xe0 == 0xa0:
		n = uint64(c & 0x1f)
	case c == 0xd9 || c == 0xc4:
		n, ok = s.uintN(1)
	case c == 0xda || c == 0xc5:
		n, ok = s.uintN(2)
	case c == 0xdb || c == 0xc6:
		n, ok = s.uintN(4)
	default:
		return nil, false
	}
	if !ok {
		return nil, false
	}
	return s.take(n)
}

// uint reads a non-negative integer of any width.
func (s *scanner) uint() (uint64, bool) {
	c, ok := s.byte1()
	if !ok {
		return 0, false
	}
	switch {
	case c <= 0x7f:
		return uint64(c), true
	case c == 0xcc || c == 0xd0:
		return s.uintN(1)
	case c == 0xcd || c == 0xd1:
		return s.uintN(2)
	case c == 0xce || c == 0xd2:
		return s.uintN(4)
	case c == 0xcf || c == 0xd3:
		return s.uintN(8)
	}
	return 0, false
}

// skip steps over one value of any type.
func (s *scanner) skip(depth int) bool {
	if depth > maxSkipDepth {
		return false
	}
	c, ok := s.byte1()
	if !ok {
		return false
	}
	var n uint64 // payload bytes to skip
	var elems uint64
	switch {
	case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
		return true
	case c&0xf0 == 0x80:
		elems = 2 * uint64(c&0x0f)
	case c&0xf0 == 0x90:
		elems = uint64(c & 0x0f)
	case c&0xe0 == 0xa0:
		n = uint64(c & 0x1f)
	case c == 0xc4, c == 0xd9:
		n, ok = s.uintN(1)
	case c == 0xc5, c == 0xda:
		n, ok = s.uintN(2)
	case c == 0xc6, c == 0xdb:
		n, ok = s.uintN(4)
	case c == 0xc7:
		n, ok = s.uintN(1)
		n++
	case c == 0xc8:
		n, ok = s.uintN(2)
		n++
	case c == 0xc9:
		n, ok = s.uintN(4)
		n++
	case c == 0xca:
		n = 4
	case c == 0xcb:
		n = 8
	case c == 0xcc, c == 0xd0:
		n = 1
	case c == 0xcd, c == 0xd1:
		n = 2
	case c == 0xce, c == 0xd2:
		n = 4
	case c == 0xcf, c == 0xd3:
		n = 8
	case c == 0xd4:
		n = 2
	case c == 0xd5:
		n = 3
	case c == 0xd6:
		n = 5
	case c == 0xd7:
		n = 9
	case c == 0xd8:
		n = 17
	case c == 0xdc:
		elems, ok = s.uintN(2)
	case c == 0xdd:
		elems, ok = s.uintN(4)
	case c == 0xde:
		elems, ok = s.uintN(2)
		elems *= 2
	case c == 0xdf:
		elems, ok = s.uintN(4)
		elems *= 2
	default:
		return false
	}
	if !ok {
		return false
	}
	if elems > 0 {
		if elems > uint64(len(s.b)-s.i) { // each element is at least one byte
			return false
		}
		for range elems {
			if !s.skip(depth + 1) {
				return false
			}
		}
		return true
	}
	_, ok = s.take(n)
	return ok
}

// frameKind tells what a received server frame is.
type frameKind uint8

const (
	frameOther frameKind = iota // an event the workloads ignore
	frameReply                  // a reply; rid set
	frameData                   // a lobby.data event; data set
	frameChat                   // a lobby.chat event; data is its text
	frameBad                    // not a well-formed envelope
)

// classify reads the envelope of a server frame: for replies the rid, for
// lobby.data events the "data" bytes of "d", for lobby.chat events its
// "text" (sub-slices of b).
func classify(b []byte) (kind frameKind, rid uint64, data []byte) {
	s := scanner{b: b}
	n, ok := s.mapLen()
	if !ok {
		return frameBad, 0, nil
	}
	isData, isChat, isReply := false, false, false
	for range n {
		k, ok := s.raw()
		if !ok {
			return frameBad, 0, nil
		}
		switch string(k) { // no allocation: the compiler compares in place
		case "rid":
			if rid, ok = s.uint(); !ok {
				return frameBad, 0, nil
			}
			isReply = true
		case "ev":
			v, ok := s.raw()
			if !ok {
				return frameBad, 0, nil
			}
			isData = string(v) == "lobby.data"
			isChat = string(v) == "lobby.chat"
		case "d":
			start := s.i
			if data, ok = dataField(&s); !ok {
				s.i = start
				if !s.skip(0) {
					return frameBad, 0, nil
				}
			}
		default:
			if !s.skip(0) {
				return frameBad, 0, nil
			}
		}
	}
	switch {
	case isReply:
		return frameReply, rid, nil
	case isData && data != nil:
		return frameData, 0, data
	case isChat && data != nil:
		return frameChat, 0, data
	}
	return frameOther, 0, nil
}

// dataField reads a map and returns its "data" (lobby.data) or "text"
// (lobby.chat) entry when it holds bytes or a string.
func dataField(s *scanner) ([]byte, bool) {
	var data []byte
	ok := s.fields(func(k []byte) bool {
		if string(k) != "data" && string(k) != "text" {
			return s.skip(1)
		}
		var ok bool
		data, ok = s.raw()
		return ok
	})
	return data, ok && data != nil
}
