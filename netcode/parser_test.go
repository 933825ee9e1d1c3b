package netcode

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/gobwas/ws"
)

// recSink records what the parser delivers.
type recSink struct {
	msgs  [][]byte
	pings [][]byte
	pongs int
}

func (r *recSink) onMessage(m []byte) bool { r.msgs = append(r.msgs, bytes.Clone(m)); return true }
func (r *recSink) onPing(p []byte) bool    { r.pings = append(r.pings, bytes.Clone(p)); return true }
func (r *recSink) onPong([]byte) bool      { r.pongs++; return true }

var testMask = [4]byte{0x12, 0x34, 0x56, 0x78}

// cf compiles a masked client frame with gobwas/ws (an encoder that is not
// ours).
func cf(op ws.OpCode, fin bool, p []byte) []byte {
	return ws.MustCompileFrame(ws.MaskFrameWith(ws.NewFrame(op, fin, bytes.Clone(p)), testMask))
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// rawHeader builds a header by hand for frames gobwas would not compile.
func rawHeader(b0 byte, masked bool, length uint64) []byte {
	var b1 byte
	if masked {
		b1 = bitMask
	}
	out := []byte{b0, 0}
	switch {
	case length <= 125:
		out[1] = b1 | byte(length)
	case length <= 0xFFFF:
		out[1] = b1 | 126
		out = binary.BigEndian.AppendUint16(out, uint16(length))
	default:
		out[1] = b1 | 127
		out = binary.BigEndian.AppendUint64(out, length)
	}
	if masked {
		out = append(out, testMask[:]...)
	}
	return out
}

func TestParserFrames(t *testing.T) {
	big := bytes.Repeat([]byte{7}, 1000)
	closeBody := func(code uint16, reason string) []byte {
		return binary.BigEndian.AppendUint16(nil, code)[:2:2]
	}
	tests := []struct {
		name  string
		in    []byte
		msgs  [][]byte
		pings int
		pongs int
		code  uint16
		peer  bool
	}{
		{name: "one binary", in: cf(ws.OpBinary, true, []byte("hello")), msgs: [][]byte{[]byte("hello")}},
		{name: "empty binary", in: cf(ws.OpBinary, true, nil), msgs: [][]byte{{}}},
		{name: "two frames", in: cat(cf(ws.OpBinary, true, []byte("a")), cf(ws.OpBinary, true, []byte("bc"))),
			msgs: [][]byte{[]byte("a"), []byte("bc")}},
		{name: "16-bit length", in: cf(ws.OpBinary, true, big), msgs: [][]byte{big}},
		{name: "fragments with ping between", in: cat(
			cf(ws.OpBinary, false, []byte("ab")), cf(ws.OpPing, true, []byte("p")),
			cf(ws.OpContinuation, false, nil), cf(ws.OpContinuation, true, []byte("cd"))),
			msgs: [][]byte{[]byte("abcd")}, pings: 1},
		{name: "pong", in: cf(ws.OpPong, true, []byte("x")), pongs: 1},
		{name: "close empty echoes 1000", in: cf(ws.OpClose, true, nil), code: CloseNormal, peer: true},
		{name: "close 1001", in: cf(ws.OpClose, true, append(closeBody(1001, ""), "bye"...)), code: 1001, peer: true},
		{name: "close stops parsing", in: cat(cf(ws.OpClose, true, closeBody(4000, "")), cf(ws.OpBinary, true, []byte("x"))), code: 4000, peer: true},
		{name: "close one byte", in: cf(ws.OpClose, true, []byte{3}), code: CloseProtocolError},
		{name: "close code 1005", in: cf(ws.OpClose, true, closeBody(1005, "")), code: CloseProtocolError},
		{name: "close reason not utf8", in: cf(ws.OpClose, true, append(closeBody(1000, ""), 0xff, 0xfe)), code: CloseInvalidPayload},
		{name: "unmasked", in: cat(rawHeader(0x82, false, 1), []byte{1}), code: CloseProtocolError},
		{name: "rsv1", in: cat(rawHeader(0x82|0x40, true, 1), []byte{1}), code: CloseProtocolError},
		{name: "rsv3", in: cat(rawHeader(0x82|0x10, true, 1), []byte{1}), code: CloseProtocolError},
		{name: "opcode 3", in: cat(rawHeader(0x83, true, 1), []byte{1}), code: CloseProtocolError},
		{name: "opcode 0xB", in: cat(rawHeader(0x8B, true, 0)), code: CloseProtocolError},
		{name: "fragmented ping", in: cat(rawHeader(0x09, true, 1), []byte{1}), code: CloseProtocolError},
		{name: "ping over 125", in: rawHeader(0x89, true, 126), code: CloseProtocolError},
		{name: "continuation first", in: cf(ws.OpContinuation, true, []byte("x")), code: CloseProtocolError},
		{name: "binary inside fragments", in: cat(cf(ws.OpBinary, false, []byte("x")), cf(ws.OpBinary, true, []byte("y"))),
			code: CloseProtocolError},
		{name: "text", in: cf(ws.OpText, true, []byte("hi")), code: CloseUnsupportedData},
		{name: "text after good frame", in: cat(cf(ws.OpBinary, true, []byte("a")), cf(ws.OpText, true, []byte("hi"))),
			msgs: [][]byte{[]byte("a")}, code: CloseUnsupportedData},
		{name: "declared over max", in: rawHeader(0x82, true, 2049), code: CloseTooLarge},
		{name: "fragments over max", in: cat(cf(ws.OpBinary, false, big), cf(ws.OpContinuation, false, big),
			cf(ws.OpContinuation, true, big)), code: CloseTooLarge},
		{name: "64-bit msb", in: rawHeader(0x82, true, 1<<63), code: CloseProtocolError},
		{name: "16-bit not minimal", in: []byte{0x82, 0x80 | 126, 0, 5}, code: CloseProtocolError},
		{name: "64-bit not minimal", in: []byte{0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0, 1, 0}, code: CloseProtocolError},
	}
	for _, tt := range tests {
		// Whole, then split at every byte: the result must not depend on
		// how the stream is cut.
		for _, chunk := range []int{len(tt.in), 1, 3, 7} {
			p := parser{max: 2048}
			var s recSink
			var cr closeReq
			in := bytes.Clone(tt.in)
			for off := 0; off < len(in) && cr.code == 0; off += chunk {
				cr = p.feed(in[off:min(off+chunk, len(in))], &s)
			}
			if cr.code != tt.code || cr.peer != tt.peer {
				t.Errorf("%s/chunk %d: close %d peer %v, want %d peer %v", tt.name, chunk, cr.code, cr.peer, tt.code, tt.peer)
			}
			if len(s.msgs) != len(tt.msgs) {
				t.Fatalf("%s/chunk %d: %d messages, want %d", tt.name, chunk, len(s.msgs), len(tt.msgs))
			}
			for i := range s.msgs {
				if !bytes.Equal(s.msgs[i], tt.msgs[i]) {
					t.Errorf("%s/chunk %d: message %d = %q, want %q", tt.name, chunk, i, s.msgs[i], tt.msgs[i])
				}
			}
			if len(s.pings) != tt.pings || s.pongs != tt.pongs {
				t.Errorf("%s/chunk %d: pings %d pongs %d, want %d %d", tt.name, chunk, len(s.pings), s.pongs, tt.pings, tt.pongs)
			}
			if tt.code == 0 && p.st != nil {
				t.Errorf("%s/chunk %d: state kept after complete input", tt.name, chunk)
			}
		}
	}
}

func TestParserRefusesBeforeBuffering(t *testing.T) {
	// A header declaring a too-large payload is refused on the header
	// alone: no byte of the payload is awaited or kept.
	p := parser{max: 1 << 16}
	var s recSink
	cr := p.feed(rawHeader(0x82, true, 1<<20), &s)
	if cr.code != CloseTooLarge {
		t.Fatalf("close %d, want 1009", cr.code)
	}
	if p.partialBuf() != nil {
		t.Fatalf("kept %d bytes", cap(p.partialBuf()))
	}
}

// TestParserPartialGrowsWithArrivals: a header declaring a large frame
// costs what arrived, not what it declares (issue 10: 2,000 connections
// each sending a 14-byte header pinned 147 MiB). The buffer grows with the
// bytes, at most doubling what arrived and never past the frame's size.
func TestParserPartialGrowsWithArrivals(t *testing.T) {
	const size = 60000
	f := cf(ws.OpBinary, true, bytes.Repeat([]byte{1}, size))
	for _, first := range []int{4, 14} { // header cut, header whole
		p := parser{max: 1 << 16}
		var s recSink
		p.feed(f[:first], &s)
		if cap(p.partialBuf()) > minPartial {
			t.Fatalf("after %d bytes of a %d-byte frame, partial cap %d", first, len(f), cap(p.partialBuf()))
		}
		fed := first
		for fed < len(f) {
			n := min(1000, len(f)-fed)
			p.feed(f[fed:fed+n], &s)
			fed += n
			if fed < len(f) && (cap(p.partialBuf()) > max(2*fed, minPartial) || cap(p.partialBuf()) > len(f)) {
				t.Fatalf("after %d bytes, partial cap %d", fed, cap(p.partialBuf()))
			}
		}
		if len(s.msgs) != 1 || len(s.msgs[0]) != size || p.partialBuf() != nil {
			t.Fatalf("got %d messages, partial %v", len(s.msgs), p.partialBuf() != nil)
		}
	}
}

func TestPutClosePayload(t *testing.T) {
	long := string(bytes.Repeat([]byte("é"), 100)) // 200 bytes, 2-byte runes
	tests := []struct {
		code   uint16
		reason string
		want   uint16
		maxLen int
	}{
		{1000, "bye", 1000, 5},
		{4010, long, 4010, 124}, // cut on a rune boundary: 2 + 122
		{1006, "", 1000, 2},     // never sent on the wire
		{0, "", 1000, 2},
	}
	for _, tt := range tests {
		var b [maxControlPayload]byte
		n := putClosePayload(&b, tt.code, tt.reason)
		code, reason := ws.ParseCloseFrameData(b[:n])
		if uint16(code) != tt.want || n != tt.maxLen {
			t.Errorf("code %d %q: got %d, %d bytes, want %d, %d", tt.code, tt.reason[:min(10, len(tt.reason))], code, n, tt.want, tt.maxLen)
		}
		_ = reason
	}
}

// partialBuf and fragBuf are the parser's buffers (nil without a state).
func (p *parser) partialBuf() []byte {
	if p.st == nil {
		return nil
	}
	return p.st.partial
}

func (p *parser) fragBuf() []byte {
	if p.st == nil {
		return nil
	}
	return p.st.frag
}
