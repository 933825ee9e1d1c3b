package gateway

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/lobbyd/lobbyd/protocol"
)

// Kinds of log line a client can cause. Each kind has its own limiter, so
// a flood of one (bad tokens from a botnet) neither floods the log nor
// hides the others (a store failing).
const (
	logRefused       = "handshake_refused" // a /ws handshake turned down
	logAbuseClose    = "abuse_close"       // a connection closed for what its client did (4008, 1002, 1003, 1009)
	logRequestError  = "request_failed"    // a request that failed on our side (internal)
	logStoreError    = "store_failed"      // a store call on a session's path failed
	logHTTPError     = "http_failed"       // an HTTP request that failed on our side
	logResumeRefused = "resume_refused"    // a resume the cluster's session directory turned down
	logGapClose      = "gap_close"         // a connection closed 1011 "event backlog": its stream would have had a gap
)

var logKinds = []string{logRefused, logAbuseClose, logRequestError, logStoreError, logHTTPError, logResumeRefused, logGapClose}

// Each kind may write logBurst lines per logWindow; what is held back is
// counted, reported by the next line written (dropped_since_last_line) and
// in lobbyd_log_lines_dropped_total.
const (
	logBurst  = 10
	logWindow = time.Second
)

// sampler lets through at most burst log lines per interval and counts the
// ones it held back. A client retrying in a loop (or an attacker) must not
// be able to turn each refusal into a log line: the log would cost more
// than the refusal.
type sampler struct {
	every time.Duration
	burst int

	mu         sync.Mutex
	windowEnd  time.Time
	n          int // lines written in the window
	suppressed int
}

// allow reports whether a line may be written now and how many were held
// back since the last one.
func (s *sampler) allow(now time.Time) (ok bool, suppressed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !now.Before(s.windowEnd) {
		s.windowEnd, s.n = now.Add(s.every), 0
	}
	if s.n >= max(s.burst, 1) {
		s.suppressed++
		return false, 0
	}
	s.n++
	suppressed, s.suppressed = s.suppressed, 0
	return true, suppressed
}

// logLimits holds one sampler per kind of line.
type logLimits map[string]*sampler

func newLogLimits() logLimits {
	l := make(logLimits, len(logKinds))
	for _, k := range logKinds {
		l[k] = &sampler{every: logWindow, burst: logBurst}
	}
	return l
}

// logLimited writes a line of a kind a client can cause, unless its kind
// is over its rate; then it is counted as dropped.
func (g *Gateway) logLimited(kind string, level slog.Level, msg string, args ...any) {
	if !g.log.Enabled(context.Background(), level) {
		return
	}
	ok, dropped := g.logLimits[kind].allow(time.Now())
	if !ok {
		if g.metrics != nil {
			g.metrics.logDropped[kind].Inc()
		}
		return
	}
	if dropped > 0 {
		args = append(args, "dropped_since_last_line", dropped)
	}
	g.log.Log(context.Background(), level, msg, args...)
}

// refuseWS answers a handshake with an HTTP error, counts it under reason
// and logs the refusal (limited) with the peer's address, so an operator
// can see why players cannot connect without a line per attempt.
func (g *Gateway) refuseWS(c *fiber.Ctx, code protocol.Code, reason, msg string) error {
	return g.refuseWSStatus(c, code.Status(), code, reason, msg)
}

// refuseWSStatus is refuseWS with a status of its own (426 for a wrong
// WebSocket version carries bad_request).
func (g *Gateway) refuseWSStatus(c *fiber.Ctx, status int, code protocol.Code, reason, msg string) error {
	g.logLimited(logRefused, slog.LevelInfo, "connection refused", "status", status, "code", string(code),
		"reason", reason, "detail", msg, "remote", c.IP())
	g.metrics.refuse(reason)
	return httpErrorStatus(c, status, code, msg)
}

// refuseUpgrade is netcode's refusal writer (netcode.Config.Refuse): the
// handshakes netcode turns down (malformed, a wrong version, shutting down,
// a TLS listener) are answered, logged and counted like the gateway's own,
// with docs/protocol.md §5's error body and netcode's status.
func (g *Gateway) refuseUpgrade(c *fiber.Ctx, status int, msg string) error {
	code, reason := protocol.CodeBadRequest, refuseBadUpgrade
	switch {
	case status == fiber.StatusServiceUnavailable:
		code, reason = protocol.CodeUnavailable, refuseShutdown
	case status >= 500:
		code, reason = protocol.CodeInternal, refuseInternal
	}
	return g.refuseWSStatus(c, status, code, reason, msg)
}

// logGapClose logs a connection closed 1011 "event backlog" (hub.gapClose):
// a slow reader or a stalled delivery record let the ring drop what the
// connection had yet to be sent. Caller holds s.mu.
func (g *Gateway) logGapClose(s *Session, why string, sent uint64) {
	g.logLimited(logGapClose, slog.LevelWarn, "connection closed 1011 (event backlog): its stream would have had a gap; the client resumes",
		"session_id", s.id, "user_id", s.userID, "why", why, "sent", sent, "session_seq", s.seq,
		"ring_from", s.ring.oldest(), "ring_kept", int(s.ring.n))
}
