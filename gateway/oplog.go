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
	if ok, held := g.refusals.allow(time.Now()); ok {
		g.log.Info("connection refused", "status", code.Status(), "code", string(code), "reason", msg,
			"remote", c.IP(), "refused_since_last_line", held)
	}
	g.metrics.refused.WithLabelValues(string(code)).Inc()
	return httpError(c, code, msg)
}
