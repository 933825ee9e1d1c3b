//go:build linux

package netcode

import (
	"io"
	"runtime"
	"testing"
)

// paceWriter lets the loop catch up every 256 writes. A writer goroutine
// that does nothing but Write outruns the loop that flushes (it holds the
// conn's lock nearly all the time), and the write queue's bound is real: it
// would end as a slow consumer. In lobbyd most writes come from the loops
// themselves.
func paceWriter(c *Conn, i int) {
	if i%256 == 0 {
		for c.Queued() > 1<<20 {
			runtime.Gosched()
		}
	}
}

// BenchmarkWrite100 writes 100-byte messages to a connected socket whose
// client drains it: the writev path, header on the stack, 0 allocs.
func BenchmarkWrite100(b *testing.B) {
	ts := startServer(b, Config{}, newEchoHandler())
	nc, br := rawDial(b, ts.addr, nil)
	go func() { _, _ = io.Copy(io.Discard, br) }()
	c := ts.waitOpen(b)
	msg := make([]byte, 100)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		paceWriter(c, i)
		if err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	nc.Close()
}

// BenchmarkWriteParts100 is the broadcast shape: a per-recipient head and
// a shared body, written without joining them.
func BenchmarkWriteParts100(b *testing.B) {
	ts := startServer(b, Config{}, newEchoHandler())
	nc, br := rawDial(b, ts.addr, nil)
	go func() { _, _ = io.Copy(io.Discard, br) }()
	c := ts.waitOpen(b)
	head, body := make([]byte, 20), make([]byte, 80)
	b.SetBytes(100)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		paceWriter(c, i)
		if err := c.WriteParts(head, body); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	nc.Close()
}
