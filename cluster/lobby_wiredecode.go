package cluster

import (
	"errors"
)

// Reading wire events straight from the published message (or a log
// entry), without msgpack's Decoder: every shard with members reads each
// event of a split lobby, and the Decoder made a string per recipient, per
// recipient's shard, per key and per text field. Here every string is a
// substring of the message (which the message's events keep alive until
// they are delivered), the recipients and their shards share one slice and
// only the relay's data is copied. An event with a field this reader does
// not know in its simple form (a member, a lobby view, a key a newer shard
// added) is read by the Decoder instead (DecodeMsgpack), so both read the
// same events (TestWireEventStringDecoder).

// errWireFallback: the event needs the Decoder.
var errWireFallback = errors.New("cluster: wire event needs the full decoder")

// decodeWireEventString reads one event from the start of p and returns
// what follows it.
func decodeWireEventString(p string) (wireEvent, string, error) {
	w, rest, err := decodeWireFast(p)
	if err == nil {
		return w, rest, nil
	}
	if !errors.Is(err, errWireFallback) {
		return wireEvent{}, "", err
	}
	wc := wireCoders.Get().(*wireCoder)
	defer wireCoders.Put(wc)
	wc.src.Reset(p)
	wc.dec.Reset(&wc.src)
	if err := w.DecodeMsgpack(wc.dec); err != nil {
		return wireEvent{}, "", err
	}
	return w, p[len(p)-wc.src.Len():], nil
}

// wireReader reads MessagePack values from a string.
type wireReader struct {
	p   string
	err error
}

var errWireShort = errors.New("cluster: truncated wire event")

func (r *wireReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *wireReader) take(n int) string {
	if r.err != nil || n < 0 || n > len(r.p) {
		r.fail(errWireShort)
		return ""
	}
	s := r.p[:n]
	r.p = r.p[n:]
	return s
}

func (r *wireReader) byte() byte {
	s := r.take(1)
	if s == "" {
		return 0
	}
	return s[0]
}

// length reads a big-endian length of n bytes (1, 2 or 4).
func (r *wireReader) length(n int) int {
	s := r.take(n)
	if r.err != nil {
		return 0
	}
	v := 0
	for i := 0; i < len(s); i++ {
		v = v<<8 | int(s[i])
	}
	return v
}

// u64 reads a big-endian 8-byte integer.
func (r *wireReader) u64() uint64 {
	s := r.take(8)
	if r.err != nil {
		return 0
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		v = v<<8 | uint64(s[i])
	}
	return v
}

// mapLen reads a map header.
func (r *wireReader) mapLen() int {
	c := r.byte()
	switch {
	case c >= 0x80 && c <= 0x8f:
		return int(c & 0x0f)
	case c == 0xde:
		return r.length(2)
	case c == 0xdf:
		return r.length(4)
	}
	r.fail(errWireFallback)
	return 0
}

// str reads a string (nil reads as "").
func (r *wireReader) str() string {
	c := r.byte()
	switch {
	case c >= 0xa0 && c <= 0xbf:
		return r.take(int(c & 0x1f))
	case c == 0xd9:
		return r.take(r.length(1))
	case c == 0xda:
		return r.take(r.length(2))
	case c == 0xdb:
		return r.take(r.length(4))
	case c == 0xc0:
		return ""
	}
	r.fail(errWireFallback)
	return ""
}

// bin reads a byte string (bin or str, nil reads as nil), copied.
func (r *wireReader) bin() []byte {
	c := r.p
	if len(c) > 0 && c[0] >= 0xc4 && c[0] <= 0xc6 {
		r.take(1)
		s := r.take(r.length(1 << (c[0] - 0xc4)))
		return []byte(s)
	}
	if len(c) > 0 && c[0] == 0xc0 {
		r.take(1)
		return nil
	}
	return []byte(r.str())
}

// int reads an integer of any width.
func (r *wireReader) int() int64 {
	c := r.byte()
	switch {
	case c <= 0x7f:
		return int64(c)
	case c >= 0xe0:
		return int64(int8(c))
	case c == 0xcc:
		return int64(r.length(1))
	case c == 0xcd:
		return int64(r.length(2))
	case c == 0xce:
		return int64(uint32(r.length(4)))
	case c == 0xcf:
		return int64(r.u64())
	case c == 0xd0:
		return int64(int8(r.length(1)))
	case c == 0xd1:
		return int64(int16(r.length(2)))
	case c == 0xd2:
		return int64(int32(uint32(r.length(4))))
	case c == 0xd3:
		return int64(r.u64())
	}
	r.fail(errWireFallback)
	return 0
}

// strs reads a list of strings (nil: nil) into room taken from buf.
func (r *wireReader) strs(buf *[]string) []string {
	c := r.byte()
	var n int
	switch {
	case c >= 0x90 && c <= 0x9f:
		n = int(c & 0x0f)
	case c == 0xdc:
		n = r.length(2)
	case c == 0xdd:
		n = r.length(4)
	case c == 0xc0:
		return nil
	default:
		r.fail(errWireFallback)
		return nil
	}
	if r.err != nil {
		return nil
	}
	if n > maxWireRecipients {
		r.fail(errors.New("cluster: too many recipients in a wire event"))
		return nil
	}
	if cap(*buf)-len(*buf) < n {
		*buf = make([]string, 0, 2*n)
	}
	out := (*buf)[len(*buf) : len(*buf)+n : len(*buf)+n]
	*buf = (*buf)[:len(*buf)+n]
	for i := range out {
		out[i] = r.str()
	}
	return out
}

// decodeWireFast reads an event whose fields all have their simple form;
// errWireFallback otherwise.
func decodeWireFast(p string) (wireEvent, string, error) {
	var w wireEvent
	r := wireReader{p: p}
	n := r.mapLen()
	var lists []string // To and Shards share one allocation
	for i := 0; i < n && r.err == nil; i++ {
		switch k := r.str(); k {
		case "n":
			w.Name = r.str()
		case "to":
			w.To = r.strs(&lists)
		case "sh":
			w.Shards = r.strs(&lists)
		case "u":
			w.UserID = r.str()
		case "r":
			w.Reason = r.str()
		case "f":
			w.From = r.str()
		case "t":
			w.Text = r.str()
		case "ts":
			w.TS = r.int()
		case "d":
			w.Data = r.bin()
		case "mi":
			w.MatchID = r.str()
		default:
			r.fail(errWireFallback)
		}
	}
	if r.err != nil {
		return wireEvent{}, "", r.err
	}
	return w, r.p, nil
}
