//go:build linux

package netcode

import (
	"bufio"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

// TestSlotsAreExact: Upgrade takes a slot before anything else and refuses
// with ErrFull (writing nothing) at the limit; a refused handshake, a
// closing connection and a closed one give their slot back.
func TestSlotsAreExact(t *testing.T) {
	ts := startServer(t, Config{MaxConnections: 2, CloseTimeout: time.Minute}, newEchoHandler())
	rawDial(t, ts.addr, nil)
	a := ts.waitOpen(t)
	rawDial(t, ts.addr, nil)
	ts.waitOpen(t)
	if n := ts.srv.Slots(); n != 2 {
		t.Fatalf("slots %d, want 2", n)
	}
	// A third handshake: ErrFull reaches the route, which answers 500 here
	// (the gateway answers 503).
	c, st := dialStatus(t, ts.addr)
	if st == fiber.StatusSwitchingProtocols {
		t.Fatal("third connection upgraded over the limit")
	}
	c.Close()
	a.Close(4009, "replaced") // the peer never answers: closing for a minute
	deadline := time.Now().Add(5 * time.Second)
	for ts.srv.Slots() != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n, l := ts.srv.Slots(), ts.srv.Len(); n != 1 || l != 2 {
		t.Fatalf("after a close: slots %d (want 1), sockets %d (want 2)", n, l)
	}
	rawDial(t, ts.addr, nil) // the closing one's slot is free again
	ts.waitOpen(t)
}

// TestClosingSocketsAreBounded: closing connections no longer hold slots,
// so they are bounded on their own (MaxClosing): over it, the oldest are
// closed at once instead of waiting out CloseTimeout.
func TestClosingSocketsAreBounded(t *testing.T) {
	ts := startServer(t, Config{MaxConnections: 100, MaxClosing: 3, Loops: 1, CloseTimeout: time.Minute}, newEchoHandler())
	for range 10 {
		rawDial(t, ts.addr, nil) // never answers a close
		ts.waitOpen(t).Close(4009, "replaced")
		if code := ts.waitClose(t); code != 4009 {
			t.Fatalf("OnClose %d", code)
		}
	}
	ts.waitLen(t, 3)
	if n := ts.srv.Slots(); n != 0 {
		t.Fatalf("slots %d, want 0", n)
	}
}

// dialStatus sends an upgrade request and returns the answer's status.
func dialStatus(t *testing.T, addr string) (net.Conn, int) {
	t.Helper()
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	req := "GET /ws HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, resp.StatusCode
}
