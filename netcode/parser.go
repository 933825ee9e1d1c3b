package netcode

import (
	"encoding/binary"
	"sync"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// frameSink receives what the parser finds. Each method reports whether the
// parser should go on (false once the connection is closing).
type frameSink interface {
	// onMessage gets one complete binary message, unmasked in place; valid
	// only during the call.
	onMessage(msg []byte) bool
	// onPing gets a ping's payload (≤125 bytes), to be echoed in a pong.
	onPing(payload []byte) bool
	// onPong is traffic, nothing more.
	onPong(payload []byte) bool
}

// closeReq says why the parser stopped: a protocol violation (the code to
// close with), or the peer's close frame (peer set; code is what we echo).
// code 0 means the parser did not ask to close.
type closeReq struct {
	code   uint16
	reason string
	peer   bool
}

// parser turns a client's byte stream into frames (RFC 6455 §5). It is pure:
// no sockets, no clocks, so it is tested and fuzzed alone.
//
// The input chunks it is fed (the loop's read buffer) are unmasked in place.
// It keeps bytes only while it must: partial holds an incomplete frame, frag
// holds a fragmented message's payload so far (at most max). Both grow with
// the bytes that arrive, never with what a header declares: a peer that
// sends a header claiming max bytes and then waits costs a few hundred
// bytes, not max (at most twice what it sent, and never more than
// maxClientHeader+max). Both are set to nil when done, so an idle
// connection holds no buffer.
//
// Both live, with the bytes a connection has not fed yet, in a parserState
// held only while one of them is in use (taken from parserStates, given
// back as soon as none is): a
// shard holds one Conn (and its parser) per player, and an idle player's
// connection has neither a frame nor a message in progress
// (docs/architecture.md, "Memory per idle player").
type parser struct {
	max int          // largest message payload after reassembly
	st  *parserState // nil while no frame or message is in progress
}

// parserState is what a parser keeps between two chunks of input.
type parserState struct {
	partial []byte // an incomplete frame's bytes, header included
	frag    []byte // payload of the fragmented message in progress
	fragOn  bool   // a fragmented message is in progress (frag may be empty)
	// pending: bytes received but not fed yet (the first frames that came
	// with a connection's handshake, until its loop feeds them).
	pending []byte
}

// parserStates recycles the states of frames cut by a read: a state
// lives from the read that cuts a frame to the one that completes it, on
// any of thousands of connections, and a new one each time was an
// allocation per split frame on the read path.
var parserStates = sync.Pool{New: func() any { return new(parserState) }}

// state returns p's state, made if absent.
func (p *parser) state() *parserState {
	if p.st == nil {
		p.st = parserStates.Get().(*parserState)
	}
	return p.st
}

// tidy drops p's state once nothing is in it. It is empty then, and no
// slice of the parser's points into it: it goes back to parserStates.
func (p *parser) tidy() {
	if st := p.st; st != nil && st.partial == nil && !st.fragOn && st.frag == nil && st.pending == nil {
		p.st = nil
		parserStates.Put(st)
	}
}

// fragOn reports whether a fragmented message is in progress, fragLen how
// many payload bytes of it have arrived.
func (p *parser) fragOn() bool { return p.st != nil && p.st.fragOn }
func (p *parser) fragLen() int {
	if p.st == nil {
		return 0
	}
	return len(p.st.frag)
}

// setPending keeps b to be fed later (takePending).
func (p *parser) setPending(b []byte) {
	if len(b) > 0 {
		p.state().pending = b
	}
}

// takePending returns the bytes kept by setPending, forgetting them.
func (p *parser) takePending() []byte {
	if p.st == nil {
		return nil
	}
	b := p.st.pending
	p.st.pending = nil
	p.tidy()
	return b
}

// frameHeader is a parsed client frame header.
type frameHeader struct {
	fin    bool
	op     ws.OpCode
	mask   [4]byte
	length int // payload bytes; validated against the limits before use
	size   int // header bytes
}

// crProtocol is a close with 1002 (protocol error).
func crProtocol(reason string) closeReq {
	return closeReq{code: CloseProtocolError, reason: reason}
}

// header parses and validates the frame header at the start of b. It checks
// everything it can as soon as the bytes for it are there, so a hostile
// length is refused before anything is buffered. n is the header size when
// complete, 0 when b is too short (and no violation was found yet).
func (p *parser) header(b []byte) (h frameHeader, n int, cr closeReq) {
	if len(b) < 2 {
		return h, 0, cr
	}
	b0, b1 := b[0], b[1]
	h.fin = b0&bitFin != 0
	h.op = ws.OpCode(b0 & 0x0f)
	if b0&bitsRsv != 0 {
		return h, 0, crProtocol("reserved bits set")
	}
	if b1&bitMask == 0 {
		return h, 0, crProtocol("client frame not masked")
	}
	l7 := int(b1 & maskLen)
	switch h.op {
	case ws.OpPing, ws.OpPong, ws.OpClose:
		if !h.fin {
			return h, 0, crProtocol("fragmented control frame")
		}
		if l7 > maxControlPayload {
			return h, 0, crProtocol("control frame too long")
		}
	case ws.OpContinuation:
		if !p.fragOn() {
			return h, 0, crProtocol("continuation without a message")
		}
	case ws.OpBinary, ws.OpText:
		if p.fragOn() {
			return h, 0, crProtocol("new message inside a fragmented one")
		}
		if h.op == ws.OpText {
			return h, 0, closeReq{code: CloseUnsupportedData, reason: "text frames are not supported"}
		}
	default:
		return h, 0, crProtocol("unknown opcode")
	}
	var ext int
	switch l7 {
	case 126:
		ext = 2
	case 127:
		ext = 8
	}
	if len(b) < 2+ext {
		return h, 0, cr
	}
	var length uint64
	switch ext {
	case 0:
		length = uint64(l7)
	case 2:
		length = uint64(binary.BigEndian.Uint16(b[2:4]))
		if length < 126 {
			return h, 0, crProtocol("length not minimally encoded")
		}
	case 8:
		length = binary.BigEndian.Uint64(b[2:10])
		if length>>63 != 0 {
			return h, 0, crProtocol("invalid 64-bit length")
		}
		if length <= 0xFFFF {
			return h, 0, crProtocol("length not minimally encoded")
		}
	}
	// Data frames: the declared length, and the running total of the
	// fragments, are checked before any byte of the payload is kept.
	if !h.op.IsControl() && length > uint64(p.max-p.fragLen()) {
		return h, 0, closeReq{code: CloseTooLarge, reason: "message too large"}
	}
	size := 2 + ext + 4
	if len(b) < size {
		return h, 0, cr
	}
	copy(h.mask[:], b[2+ext:size])
	h.length = int(length)
	h.size = size
	return h, size, cr
}

// headerSize is how many bytes the header starting at b takes (b has at
// least 2 bytes; header has validated them).
func headerSize(b []byte) int {
	switch b[1] & maskLen {
	case 126:
		return 2 + 2 + 4
	case 127:
		return 2 + 8 + 4
	}
	return 2 + 4
}

// feed parses b, a chunk of the stream, delivering every complete frame to
// s and keeping an incomplete tail (partial). It unmasks b in place. It
// stops at the first violation or close frame (returned) or when s says so.
func (p *parser) feed(b []byte, s frameSink) closeReq {
	cr := p.parse(b, s)
	p.tidy()
	return cr
}

// parse is feed but for dropping the state once it is empty.
func (p *parser) parse(b []byte, s frameSink) closeReq {
	if p.st != nil && len(p.st.partial) > 0 {
		var cr closeReq
		var more bool
		b, cr, more = p.completePartial(b, s)
		if cr.code != 0 || !more {
			return cr
		}
	}
	for len(b) > 0 {
		h, n, cr := p.header(b)
		if cr.code != 0 {
			return cr
		}
		if n == 0 {
			p.keep(b, maxClientHeader)
			return cr
		}
		total := n + h.length
		if len(b) < total {
			p.keep(b, total)
			return cr
		}
		cr, more := p.frame(h, b[n:total], s)
		if cr.code != 0 || !more {
			return cr
		}
		b = b[total:]
	}
	return closeReq{}
}

// minPartial is the least a partial buffer starts with: room for a header
// and a small frame, so the common frame cut by the read buffer is carried
// in one allocation.
const minPartial = 512

// keep starts the partial frame with b, for a frame of size bytes in all. The
// buffer is sized by what arrived (see growPartial), not by size.
func (p *parser) keep(b []byte, size int) {
	p.state().partial = append(make([]byte, 0, min(size, max(len(b), minPartial))), b...)
}

// growPartial makes room in the partial frame for n more bytes of a frame of total
// bytes: doubling, so a frame that trickles in is copied O(1) times per
// byte, and never past total.
func (p *parser) growPartial(n, total int) {
	st := p.st
	need := len(st.partial) + n
	if need <= cap(st.partial) {
		return
	}
	grown := make([]byte, len(st.partial), min(total, max(need, 2*cap(st.partial))))
	copy(grown, st.partial)
	st.partial = grown
}

// completePartial moves bytes from b into the partial frame until the frame there is
// complete, then handles it. It returns what is left of b; more is false
// when parsing must stop (a close, or b ran out before the frame did).
func (p *parser) completePartial(b []byte, s frameSink) (rest []byte, cr closeReq, more bool) {
	st := p.st
	for {
		h, n, cr := p.header(st.partial)
		if cr.code != 0 {
			return nil, cr, false
		}
		if n == 0 {
			// Take header bytes only, then validate again: a bad length
			// is refused as soon as its bytes are in.
			if len(b) == 0 {
				return nil, cr, false
			}
			need := 2
			if len(st.partial) >= 2 {
				need = headerSize(st.partial)
			}
			take := min(need-len(st.partial), len(b))
			st.partial = append(st.partial, b[:take]...)
			b = b[take:]
			continue
		}
		total := n + h.length
		take := min(total-len(st.partial), len(b))
		p.growPartial(take, total)
		st.partial = append(st.partial, b[:take]...)
		b = b[take:]
		if len(st.partial) < total {
			return nil, cr, false
		}
		f := st.partial
		st.partial = nil
		cr, more = p.frame(h, f[n:total], s)
		return b, cr, more
	}
}

// frame handles one complete frame whose header h has been validated.
func (p *parser) frame(h frameHeader, payload []byte, s frameSink) (closeReq, bool) {
	ws.Cipher(payload, h.mask, 0)
	switch h.op {
	case ws.OpPing:
		return closeReq{}, s.onPing(payload)
	case ws.OpPong:
		return closeReq{}, s.onPong(payload)
	case ws.OpClose:
		return closeFrame(payload), false
	case ws.OpBinary:
		if h.fin {
			return closeReq{}, s.onMessage(payload)
		}
		p.state().fragOn = true
		p.appendFrag(payload)
		return closeReq{}, true
	default: // ws.OpContinuation; header admits no other opcode here
		p.appendFrag(payload)
		if !h.fin {
			return closeReq{}, true
		}
		msg := p.st.frag
		p.st.frag, p.st.fragOn = nil, false
		return closeReq{}, s.onMessage(msg)
	}
}

// appendFrag adds a fragment's payload to the message in progress. header
// has already checked len(frag)+len(payload) <= p.max; growth is capped
// at p.max so the buffer never exceeds the limit.
func (p *parser) appendFrag(payload []byte) {
	st := p.st
	need := len(st.frag) + len(payload)
	if need > cap(st.frag) {
		c := max(2*cap(st.frag), need, 512)
		c = min(c, p.max)
		grown := make([]byte, len(st.frag), c)
		copy(grown, st.frag)
		st.frag = grown
	}
	st.frag = append(st.frag, payload...)
}

// closeFrame validates a peer's close payload (RFC 6455 §5.5.1, §7.4) and
// says what to echo.
func closeFrame(payload []byte) closeReq {
	switch {
	case len(payload) == 0:
		return closeReq{code: CloseNormal, peer: true}
	case len(payload) == 1:
		return crProtocol("close payload of one byte")
	}
	code := binary.BigEndian.Uint16(payload)
	if !sendableCloseCode(code) {
		return crProtocol("invalid close code")
	}
	if !utf8.Valid(payload[2:]) {
		return closeReq{code: CloseInvalidPayload, reason: "close reason not UTF-8"}
	}
	return closeReq{code: code, peer: true}
}

// release drops the parser's buffers (the connection is gone).
func (p *parser) release() {
	p.st = nil
}
