package gateway

import "time"

// tokenBucket is the per-connection rate limit of PROTOCOL.md §5: every data
// message takes a token; a connection refused more than 10 × burst times
// within 10 s is closed with 4008. Owned by the connection's loop goroutine.
type tokenBucket struct {
	tokens   float64
	last     int64 // unix ns of the last refill
	refused  int   // refusals in the current window
	windowAt int64 // unix ns the window started
}

const refusalWindow = int64(10 * time.Second)

// take reports whether a message may pass, and whether the connection has
// now been refused too often and must be closed.
func (b *tokenBucket) take(now int64, perSecond float64, burst int) (ok, abuse bool) {
	if b.last == 0 {
		b.tokens, b.last = float64(burst), now
	}
	b.tokens += float64(now-b.last) * perSecond / 1e9
	if max := float64(burst); b.tokens > max {
		b.tokens = max
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, false
	}
	if now-b.windowAt > refusalWindow {
		b.windowAt, b.refused = now, 0
	}
	b.refused++
	return false, b.refused > 10*burst
}
