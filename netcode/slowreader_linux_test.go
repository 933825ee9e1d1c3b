//go:build linux

package netcode

import (
	"bufio"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"
)

// heldBytes is the capacity of c's write queue: what the connection holds,
// whatever it owes.
func heldBytes(c *Conn) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.out.ring())
}

// smallBufferDial connects with a small receive buffer, set before the
// connect so the window is small from the start (shrinking it later makes
// the kernel drop segments and wait for retransmits), and without
// autotuning, so what the reader does not take stays in the server's queue
// instead of in megabytes of kernel buffers. The server's send buffer is
// made small too.
func smallBufferDial(t *testing.T, ts *testServer) (net.Conn, *bufio.Reader, *Conn) {
	t.Helper()
	d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 16<<10)
		})
		return errors.Join(err, serr)
	}}
	nc, br := rawDialWith(t, d, ts.addr, nil)
	sc := ts.waitOpen(t)
	if err := unix.SetsockoptInt(sc.fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 16<<10); err != nil {
		t.Fatal(err)
	}
	return nc, br, sc
}

// TestSlowReaderQueueStaysBounded is issue 10's first defect over a real
// socket: a reader that stays behind by up to 3/4 of the bound, never the
// whole of it, while 32× the bound goes through. The old queue freed its
// buffer only when it drained completely and never moved its unsent tail
// forward, so it held everything written meanwhile (119 MiB after 40 s).
func TestSlowReaderQueueStaysBounded(t *testing.T) {
	const bound = 256 << 10
	ts := startServer(t, Config{WriteQueueBytes: bound}, newEchoHandler())
	nc, br, sc := smallBufferDial(t, ts)
	msg := make([]byte, 1000)
	var scratch [32 << 10]byte
	peak := 0
	for written := 0; written < 32*bound; written += len(msg) {
		// Read only when the server owes a lot: the queue is never empty
		// for long, and never full.
		for sc.Queued() > bound/2 {
			if _, err := io.ReadFull(br, scratch[:]); err != nil {
				t.Fatal(err)
			}
		}
		if err := sc.Write(msg); err != nil {
			t.Fatalf("after %d bytes: %v", written, err)
		}
		peak = max(peak, heldBytes(sc))
	}
	if peak > bound {
		t.Fatalf("write queue held %d bytes, over its %d bound", peak, bound)
	}
	nc.Close()
}

// TestSlowConsumerSeesItsCloseCode: when a connection is closed as a slow
// consumer, the data it has not begun to receive is dropped, so its close
// frame (1008) is next after the frame in flight, not behind a queue it
// would not read before CloseTimeout cut it off with EOF mid-frame.
func TestSlowConsumerSeesItsCloseCode(t *testing.T) {
	ts := startServer(t, Config{WriteQueueBytes: 64 << 10}, newEchoHandler())
	_, br := rawDial(t, ts.addr, nil) // does not read until the close
	sc := ts.waitOpen(t)
	msg := make([]byte, 1000)
	var err error
	for i := 0; i < 100_000 && err == nil; i++ { // the kernel buffers a few MB
		err = sc.Write(msg)
	}
	if !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("write error %v, want ErrSlowConsumer", err)
	}
	// Still owed: at most the rest of one frame and the close frame.
	if q := sc.Queued(); q > len(msg)+maxServerHeader+maxServerHeader+maxControlPayload {
		t.Fatalf("%d bytes still queued after the slow-consumer close", q)
	}
	// Every frame the reader gets is whole, and the last is the close.
	rd := bufio.NewReader(br)
	for {
		f, err := ws.ReadFrame(rd)
		if err != nil {
			t.Fatalf("stream ended without a close frame: %v", err)
		}
		if f.Header.OpCode == ws.OpClose {
			if code, _ := ws.ParseCloseFrameData(f.Payload); uint16(code) != ClosePolicyViolation {
				t.Fatalf("close code %d", code)
			}
			break
		}
		if f.Header.OpCode == ws.OpBinary && len(f.Payload) != len(msg) {
			t.Fatalf("frame of %d bytes", len(f.Payload))
		}
	}
	if code := ts.waitClose(t); code != ClosePolicyViolation {
		t.Fatalf("OnClose %d", code)
	}
}
