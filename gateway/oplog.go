package gateway

import (
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/lobbyd/lobbyd/protocol"
)

// sampler lets through at most one log line per interval and counts the
// ones it held back. Refused handshakes are logged at info for operators,
// but a client retrying in a loop (or an attacker) must not be able to
// turn each refusal into a log line: the log would cost more than the
// refusal.
type sampler struct {
	every time.Duration

	mu         sync.Mutex
	next       time.Time
	suppressed int
}

// allow reports whether a line may be written now and how many were held
// back since the last one.
func (s *sampler) allow(now time.Time) (ok bool, suppressed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Before(s.next) {
		s.suppressed++
		return false, 0
	}
	s.next = now.Add(s.every)
	suppressed, s.suppressed = s.suppressed, 0
	return true, suppressed
}

// refuseWS answers a handshake with an HTTP error and logs the refusal
// (sampled) with the peer's address, so an operator can see why players
// cannot connect without a line per attempt.
func (g *Gateway) refuseWS(c *fiber.Ctx, code protocol.Code, msg string) error {
	return g.refuseWSStatus(c, code.Status(), code, msg)
}

// refuseWSStatus is refuseWS with a status of its own (426 for a wrong
// WebSocket version carries bad_request).
func (g *Gateway) refuseWSStatus(c *fiber.Ctx, status int, code protocol.Code, msg string) error {
	if ok, held := g.refusals.allow(time.Now()); ok {
		g.log.Info("connection refused", "status", status, "code", string(code), "reason", msg,
			"remote", c.IP(), "refused_since_last_line", held)
	}
	g.metrics.refused.WithLabelValues(string(code)).Inc()
	return httpErrorStatus(c, status, code, msg)
}

// refuseUpgrade is netcode's refusal writer (netcode.Config.Refuse): the
// handshakes netcode turns down (malformed, a wrong version, shutting down,
// a TLS listener) are answered, logged and counted like the gateway's own,
// with docs/protocol.md §5's error body and netcode's status.
func (g *Gateway) refuseUpgrade(c *fiber.Ctx, status int, msg string) error {
	code := protocol.CodeBadRequest
	switch {
	case status == fiber.StatusServiceUnavailable:
		code = protocol.CodeUnavailable
	case status >= 500:
		code = protocol.CodeInternal
	}
	return g.refuseWSStatus(c, status, code, msg)
}
