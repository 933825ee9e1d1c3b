package cluster

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// TestCheckedConnReadWrite: a Redis connection's raw read(2) and write(2)
// keep net.Conn's behaviour: bytes both ways, a write larger than the
// socket buffers (EAGAIN: it waits in the netpoller and goes on), a read
// or write deadline (a timeout error, os.ErrDeadlineExceeded), the peer's
// close (io.EOF), and this side's close (net.ErrClosed, never a write to a
// reused descriptor).
func TestCheckedConnReadWrite(t *testing.T) {
	c, peer := checkedPair(t)

	// Both ways, and a write far beyond the socket buffers while the peer
	// reads slowly.
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, len(big))
		time.Sleep(50 * time.Millisecond) // the writer fills the buffers first
		_, err := io.ReadFull(peer, b)
		if err != nil {
			b = nil
		}
		got <- b
	}()
	if n, err := c.Write(big); err != nil || n != len(big) {
		t.Fatalf("write: %d, %v", n, err)
	}
	if b := <-got; !bytes.Equal(b, big) {
		t.Fatal("the peer read other bytes than were written")
	}
	if _, err := peer.Write([]byte("+OK\r\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "+OK\r\n" {
		t.Fatalf("read: %q, %v", buf[:n], err)
	}

	// A read deadline with nothing to read.
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := c.Read(buf)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past its deadline: %v", err)
	}
	c.SetReadDeadline(time.Time{})

	// A write deadline while the peer reads nothing (more than loopback's
	// buffers, which autotune to megabytes, can hold).
	c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	_, err = c.Write(bytes.Repeat(big, 16))
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("write past its deadline: %v", err)
	}
	c.SetWriteDeadline(time.Time{})

	// The peer closes: EOF once what it sent is read (drain what the
	// timed-out write left in the peer's direction first: nothing).
	peer.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(buf); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("read after the peer closed: %v", err)
	}

	// This side closes: the descriptor is not touched again.
	c.Close()
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	if _, err := c.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
}

// isReset reports a connection reset: a peer that closed with unread data
// in its buffer (the timed-out write's) resets the connection.
func isReset(err error) bool {
	var se *os.SyscallError
	return errors.As(err, &se) && se.Err.Error() == "connection reset by peer"
}

// TestCheckedConnAllocatesNothing: a read or write on a Redis connection
// allocates nothing (a command's round trip is the cluster's hot path).
func TestCheckedConnAllocatesNothing(t *testing.T) {
	c, peer := checkedPair(t)
	defer c.Close()
	msg, buf, echo := []byte("*1\r\n$4\r\nPING\r\n"), make([]byte, 64), make([]byte, 64)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		n, err := io.ReadAtLeast(peer, echo, len(msg))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := peer.Write(echo[:n]); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAtLeast(c, buf, n); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per write and read", allocs)
	}
}

// checkedPair dials a loopback listener through checkedDial: the
// checkedConn and the peer's end (closed with the test).
func checkedPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peers := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			peers <- c
		}
	}()
	var d net.Dialer
	c, err := checkedDial(d.DialContext)(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(*checkedConn); !ok {
		t.Fatalf("dialled a %T, not a checkedConn", c)
	}
	peer := <-peers
	t.Cleanup(func() { peer.Close() })
	return c, peer
}
