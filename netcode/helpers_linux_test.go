//go:build linux

package netcode

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gofiber/fiber/v2"
)

// echoHandler echoes every message and records the connection's life.
type echoHandler struct {
	opened chan *Conn
	closed chan uint16

	mu     sync.Mutex
	closes map[*Conn]int // OnClose calls per conn
	onMsg  func(c *Conn, msg []byte)
	noEcho bool

	// As an Acker: mark gives PingMark's answer (nil: none), acked gets
	// every OnAck's mark.
	mark  func(c *Conn) (uint64, bool)
	acked chan uint64
}

func newEchoHandler() *echoHandler {
	return &echoHandler{
		opened: make(chan *Conn, 1024),
		closed: make(chan uint16, 1024),
		closes: make(map[*Conn]int),
		acked:  make(chan uint64, 1024),
	}
}

func (h *echoHandler) PingMark(c *Conn) (uint64, bool) {
	if h.mark == nil {
		return 0, false
	}
	return h.mark(c)
}

func (h *echoHandler) OnAck(c *Conn, mark uint64) {
	select {
	case h.acked <- mark:
	default:
	}
}

func (h *echoHandler) OnOpen(c *Conn) { h.opened <- c }
func (h *echoHandler) OnMessage(c *Conn, msg []byte) {
	if h.onMsg != nil {
		h.onMsg(c, msg)
		return
	}
	if !h.noEcho {
		_ = c.Write(msg)
	}
}
func (h *echoHandler) OnClose(c *Conn, code uint16) {
	h.mu.Lock()
	h.closes[c]++
	h.mu.Unlock()
	h.closed <- code
}

// closeCounts reports how many conns saw OnClose and whether any saw it
// more than once.
func (h *echoHandler) closeCounts() (conns int, dup bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, n := range h.closes {
		if n != 1 {
			dup = true
		}
	}
	return len(h.closes), dup
}

type testServer struct {
	srv  *Server
	h    *echoHandler
	addr string
	url  string
}

// startServer runs a Fiber app with GET /ws → Upgrade on 127.0.0.1.
func startServer(t testing.TB, cfg Config, h *echoHandler) *testServer {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv, err := NewServer(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true, ReadTimeout: 5 * time.Second})
	ConfigureApp(app)
	app.Get("/ws", func(c *fiber.Ctx) error { return srv.Upgrade(c, "v") })
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() {
		_ = app.ShutdownWithTimeout(2 * time.Second)
		srv.Shutdown()
	})
	addr := ln.Addr().String()
	return &testServer{srv: srv, h: h, addr: addr, url: "ws://" + addr + "/ws"}
}

// waitOpen returns the next opened server-side Conn.
func (ts *testServer) waitOpen(t testing.TB) *Conn {
	t.Helper()
	select {
	case c := <-ts.h.opened:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no OnOpen")
		return nil
	}
}

// waitClose returns the next OnClose code.
func (ts *testServer) waitClose(t testing.TB) uint16 {
	t.Helper()
	select {
	case code := <-ts.h.closed:
		return code
	case <-time.After(5 * time.Second):
		t.Fatal("no OnClose")
		return 0
	}
}

// waitLen waits until the server holds n connections.
func (ts *testServer) waitLen(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for ts.srv.Len() != n {
		if time.Now().After(deadline) {
			t.Fatalf("Len %d, want %d", ts.srv.Len(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rawDial performs a handshake by hand (so the test controls every byte
// after it); extra is sent in the same write as the request.
func rawDial(t testing.TB, addr string, extra []byte) (net.Conn, *bufio.Reader) {
	t.Helper()
	return rawDialWith(t, &net.Dialer{}, addr, extra)
}

// rawDialWith is rawDial through d (to set socket options before connect).
func rawDialWith(t testing.TB, d *net.Dialer, addr string, extra []byte) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := d.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	req := "GET /ws HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := c.Write(append([]byte(req), extra...)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != acceptKey(key) {
		t.Fatalf("handshake: %d %q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Accept"))
	}
	return c, br
}

// readClose reads server frames (with gobwas/ws) until a close frame and
// returns its code; pings and data before it are skipped.
func readClose(t testing.TB, br *bufio.Reader) uint16 {
	t.Helper()
	for {
		f, err := ws.ReadFrame(br)
		if err != nil {
			t.Fatalf("reading for a close frame: %v", err)
		}
		if f.Header.Masked {
			t.Fatal("server frame is masked")
		}
		if f.Header.OpCode == ws.OpClose {
			code, _ := ws.ParseCloseFrameData(f.Payload)
			return uint16(code)
		}
	}
}

// maskedFrame compiles a client frame with gobwas/ws.
func maskedFrame(op ws.OpCode, fin bool, p []byte) []byte {
	return ws.MustCompileFrame(ws.MaskFrameWith(ws.NewFrame(op, fin, bytes.Clone(p)), testMask))
}
