package netcode

import (
	"testing"

	"github.com/gobwas/ws"
)

type nopSink struct{ n int }

func (s *nopSink) onMessage(m []byte) bool { s.n += len(m); return true }
func (s *nopSink) onPing([]byte) bool      { return true }
func (s *nopSink) onPong([]byte) bool      { return true }

// BenchmarkParseFrame64 parses and unmasks one 64-byte masked binary
// frame. Unmasking in place twice restores the bytes, so the same buffer
// is a valid frame on every iteration.
func BenchmarkParseFrame64(b *testing.B) {
	f := cf(ws.OpBinary, true, make([]byte, 64))
	p := parser{max: 1 << 16}
	var s nopSink
	b.SetBytes(int64(len(f)))
	b.ReportAllocs()
	for b.Loop() {
		if cr := p.feed(f, &s); cr.code != 0 {
			b.Fatal(cr.reason)
		}
	}
}

// BenchmarkParseFrame64Split feeds the same frame in two reads, the path
// of a frame cut by the read buffer (it allocates the partial buffer).
func BenchmarkParseFrame64Split(b *testing.B) {
	f := cf(ws.OpBinary, true, make([]byte, 64))
	p := parser{max: 1 << 16}
	var s nopSink
	b.ReportAllocs()
	for b.Loop() {
		p.feed(f[:30], &s)
		if cr := p.feed(f[30:], &s); cr.code != 0 {
			b.Fatal(cr.reason)
		}
	}
}
