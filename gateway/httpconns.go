package gateway

import (
	"net"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// httpConns knows which of the HTTP server's connections are inside a
// handler, so that Shutdown can close the others at once.
//
// fasthttp's shutdown closes keep-alive connections that sit between
// requests, but a connection waiting for its first request (a browser's
// preconnect, a load balancer's spare, an HTTP client's extra dial, a slow
// client) is "active" to it until ReadTimeout: one such connection held
// Shutdown for its whole bound and made lobbyd exit with "context deadline
// exceeded". After a drain no request is owed to a connection that has not
// reached a handler; one whose request is still arriving is closed with
// the rest, as a client must expect of a server that is going away.
type httpConns struct {
	mu sync.Mutex
	// busy is, per connection, whether it has a request in a handler or a
	// response not yet written: from the handler's start until fasthttp
	// calls the connection idle, after the response is out.
	busy map[net.Conn]bool
}

func newHTTPConns() *httpConns {
	return &httpConns{busy: make(map[net.Conn]bool)}
}

// track is fasthttp's ConnState hook: a connection is known from its
// accept until it is closed or hijacked (an upgraded WebSocket belongs to
// netcode, which closes it itself), and is not busy once its response is
// written.
func (h *httpConns) track(c net.Conn, s fasthttp.ConnState) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch s {
	case fasthttp.StateNew, fasthttp.StateIdle:
		h.busy[c] = false
	case fasthttp.StateHijacked, fasthttp.StateClosed:
		delete(h.busy, c)
	}
}

// middleware marks the connection busy before the rest of the chain runs;
// track clears the mark when the response has been written.
func (h *httpConns) middleware(c *fiber.Ctx) error {
	conn := c.Context().Conn()
	h.mu.Lock()
	if _, ok := h.busy[conn]; ok {
		h.busy[conn] = true
	}
	h.mu.Unlock()
	return c.Next()
}

// closeWaiting closes every known connection that is not busy, and says
// how many it closed.
func (h *httpConns) closeWaiting() int {
	h.mu.Lock()
	var waiting []net.Conn
	for c, busy := range h.busy {
		if !busy {
			waiting = append(waiting, c)
			delete(h.busy, c)
		}
	}
	h.mu.Unlock()
	for _, c := range waiting {
		_ = c.Close()
	}
	return len(waiting)
}

// closeWaitingDuring runs shutdown (the HTTP server's) and, until it
// returns, calls closeWaiting every tick: the server closes its listener
// after this starts, so a connection accepted in between is caught on the
// next tick, as is one whose response has just been written.
func (h *httpConns) closeWaitingDuring(shutdown func() error, tick time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- shutdown() }()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		h.closeWaiting()
		select {
		case err := <-done:
			return err
		case <-t.C:
		}
	}
}
