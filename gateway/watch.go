package gateway

import (
	"bufio"
	"errors"
	"net"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/lobbyd/lobbyd/protocol"
	"github.com/lobbyd/lobbyd/watch"
)

// handleWatch is GET /v1/lobbies/watch, the live lobby list
// (docs/protocol.md §4): the filters of GET /v1/lobbies, no cursor, then a
// Server-Sent Events stream fed by the shard's watch.Hub.
func (g *Gateway) handleWatch(c *fiber.Ctx) error {
	if g.watch == nil {
		return httpError(c, protocol.CodeNotFound, "this shard's store has no live listing")
	}
	if c.Query("cursor") != "" {
		return httpError(c, protocol.CodeBadRequest, "the live lobby list takes no cursor")
	}
	q, err := parseListQuery(c)
	if err != nil {
		return g.httpFail(c, err)
	}
	if g.draining.Load() {
		c.Set(fiber.HeaderRetryAfter, "5")
		return httpError(c, protocol.CodeUnavailable, "draining")
	}
	if c.Method() == fiber.MethodHead {
		// The checks of a GET, without a stream that would never be read.
		c.Set(fiber.HeaderContentType, "text/event-stream")
		return nil
	}
	w, err := g.watch.Add(q)
	switch {
	case errors.Is(err, watch.ErrFull):
		c.Set(fiber.HeaderRetryAfter, "5")
		return httpError(c, protocol.CodeUnavailable, "too many live lobby list streams on this shard (max_watchers)")
	case errors.Is(err, watch.ErrClosed):
		c.Set(fiber.HeaderRetryAfter, "5")
		return httpError(c, protocol.CodeUnavailable, "draining")
	case err != nil:
		return g.httpFail(c, err)
	}
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	// A reverse proxy (nginx) must pass events on as they come.
	c.Set("X-Accel-Buffering", "no")
	// The connection ends with the stream: then the goroutine below may
	// read from it (nothing after the stream is a request fasthttp must
	// see), which is how a client that went away is noticed at once, not
	// at the next keep-alive write.
	c.Context().SetConnectionClose()
	conn := c.Context().Conn()
	go awaitHangUp(conn, w)
	// fasthttp sets the connection's write deadline once per response; a
	// stream lasts longer, so it sets its own before each write.
	c.Context().SetBodyStreamWriter(func(bw *bufio.Writer) {
		w.Stream(bw, conn.SetWriteDeadline)
	})
	return nil
}

// awaitHangUp ends w when its client closes the connection (or sends
// anything: a stream's client has nothing to say). It returns when the
// connection is closed, which the server does when the stream ends.
func awaitHangUp(conn net.Conn, w *watch.Watcher) {
	_ = conn.SetReadDeadline(time.Time{}) // the request's read timeout no longer applies
	var b [1]byte
	_, _ = conn.Read(b[:])
	w.End()
}
