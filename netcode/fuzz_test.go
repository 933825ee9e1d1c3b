package netcode

import (
	"bytes"
	"testing"

	"github.com/gobwas/ws"
)

// FuzzParseFrames feeds arbitrary bytes, cut at an arbitrary size, to the
// parser. It must never panic, never keep more than one frame (header plus
// the limit) or one message's limit, and never deliver a message over the
// limit.
func FuzzParseFrames(f *testing.F) {
	good := cat(cf(ws.OpBinary, false, []byte("ab")), cf(ws.OpPing, true, []byte("p")),
		cf(ws.OpContinuation, true, []byte("cd")), cf(ws.OpBinary, true, bytes.Repeat([]byte{9}, 300)),
		cf(ws.OpClose, true, []byte{3, 232}))
	f.Add(good, byte(0))
	for _, cut := range []int{1, 2, 5, 9, 20, len(good) - 3} {
		f.Add(good[:cut], byte(cut))
	}
	f.Add(rawHeader(0x82, true, 1<<63), byte(3))
	f.Add(rawHeader(0x82, true, 70000), byte(1))
	f.Add(cf(ws.OpText, true, []byte("hi")), byte(2))
	f.Add([]byte{0x82, 0x80 | 126, 0, 5}, byte(0))

	const limit = 1024
	f.Fuzz(func(t *testing.T, data []byte, cut byte) {
		chunk := int(cut)
		if chunk == 0 {
			chunk = len(data) + 1
		}
		p := parser{max: limit}
		s := &limitSink{t: t, limit: limit}
		for off := 0; off < len(data); off += chunk {
			cr := p.feed(data[off:min(off+chunk, len(data))], s)
			if cap(p.partialBuf()) > maxClientHeader+limit {
				t.Fatalf("partial buffer %d over the bound", cap(p.partialBuf()))
			}
			if cap(p.fragBuf()) > limit {
				t.Fatalf("fragment buffer %d over the limit", cap(p.fragBuf()))
			}
			if cr.code != 0 {
				if !sendableCloseCode(cr.code) || (!cr.peer && cr.code >= 3000) {
					t.Fatalf("close code %d (peer %v)", cr.code, cr.peer)
				}
				return
			}
		}
	})
}

type limitSink struct {
	t     *testing.T
	limit int
}

func (s *limitSink) onMessage(m []byte) bool {
	if len(m) > s.limit {
		s.t.Fatalf("message of %d bytes over the limit", len(m))
	}
	return true
}
func (s *limitSink) onPing(p []byte) bool {
	if len(p) > maxControlPayload {
		s.t.Fatalf("ping of %d bytes", len(p))
	}
	return true
}
func (s *limitSink) onPong([]byte) bool { return true }
