//go:build linux

package netcode

import (
	"io"
	"testing"
)

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
	for b.Loop() {
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
	for b.Loop() {
		if err := c.WriteParts(head, body); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	nc.Close()
}
