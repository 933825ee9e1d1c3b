package gateway

import (
	"maps"
	"math"
	"net"
	"sync"
	"time"
)

// tokenBucket is a rate limit: every message (or handshake) takes a
// token; PerSecond tokens come back a second, at most burst are held.
type tokenBucket struct {
	tokens float64
	last   int64 // unix ns of the last refill
}

// take reports whether a message may pass (and takes its token).
func (b *tokenBucket) take(now int64, perSecond float64, burst int) bool {
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
		return true
	}
	return false
}

// refusals counts a connection's refused messages for docs/protocol.md
// §5: more than 10 × burst within 10 s and the connection is closed with
// 4008. Owned by the connection's loop goroutine. 8 bytes: the window is
// kept to the second and the count in 32 bits (a burst is at most
// 1,000,000, so 10 × burst fits).
type refusals struct {
	n  int32  // refusals in the current window
	at uint32 // unix s the window started (uint32 lasts until 2106)
}

const refusalWindowSec = 10

// count counts one refusal at now and reports whether the connection has
// now been refused too often and must be closed.
func (r *refusals) count(now int64, burst int) (abuse bool) {
	// A clock that steps back makes sec-r.at wrap to a large number: a
	// new window, as a long pause would.
	if sec := uint32(now / int64(time.Second)); sec-r.at > refusalWindowSec {
		r.at, r.n = sec, 0
	}
	if r.n < math.MaxInt32 {
		r.n++
	}
	return int(r.n) > 10*burst
}

// full reports whether the bucket has refilled to burst by now, so that it
// holds nothing a fresh bucket would not: it may be forgotten.
func (b *tokenBucket) full(now int64, perSecond float64, burst int) bool {
	return b.last == 0 || b.tokens+float64(now-b.last)*perSecond/1e9 >= float64(burst)
}

// wait is how long until the bucket holds a token again.
func (b *tokenBucket) wait(perSecond float64) time.Duration {
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) / perSecond * 1e9)
}

// Rate is a token bucket's size: PerSecond tokens a second, at most Burst
// held. A zero PerSecond means no limit.
type Rate struct {
	PerSecond float64
	Burst     int
}

// sharedBucket is a token bucket several goroutines take from: a user's
// message bucket, which every connection of the user draws from (and
// finds again when it reconnects), and the handshake limits. 24 bytes, a
// size class of its own: one per connected player (docs/architecture.md,
// "Memory per idle player").
type sharedBucket struct {
	mu sync.Mutex
	b  tokenBucket
}

func (s *sharedBucket) take(now int64, r Rate) bool {
	s.mu.Lock()
	ok := s.b.take(now, r.PerSecond, r.Burst)
	s.mu.Unlock()
	return ok
}

// bucketTable keeps one bucket per key (a user id, a source address) so that
// a limit outlives the connections it was charged to: a client that
// reconnects finds its bucket as it left it. Its size is bounded: a bucket
// that has refilled holds nothing a new one would not, so sweeps drop those;
// when maxKeys buckets are all still draining, a new key gets a bucket of its
// own that is not kept (the limit fails open for it rather than refusing a
// key only because others are busy). Safe for concurrent use.
type bucketTable struct {
	maxKeys int

	mu sync.Mutex
	// Guarded by mu.
	rate    Rate // changed by a reload (setRate)
	m       map[string]*sharedBucket
	sweepAt int // len(m) at which the next insert sweeps
	peak    int // the most keys m has held (tidy)
}

const minSweep = 1024

func newBucketTable(r Rate, maxKeys int) *bucketTable {
	return &bucketTable{rate: r, maxKeys: maxKeys, m: make(map[string]*sharedBucket), sweepAt: minSweep}
}

// get returns key's bucket, making it if there is none.
func (t *bucketTable) get(key string, now int64) *sharedBucket {
	t.mu.Lock()
	defer t.mu.Unlock()
	if b := t.m[key]; b != nil {
		return b
	}
	if len(t.m) >= t.sweepAt {
		t.sweepLocked(now)
	}
	b := &sharedBucket{}
	if len(t.m) < t.maxKeys {
		t.m[key] = b
	}
	return b
}

// sweepLocked drops the buckets that have refilled. The next sweep runs
// when the table has doubled again, so sweeping costs O(1) per insert.
func (t *bucketTable) sweepLocked(now int64) {
	for k, b := range t.m {
		b.mu.Lock()
		full := b.b.full(now, t.rate.PerSecond, t.rate.Burst)
		b.mu.Unlock()
		if full {
			delete(t.m, k)
		}
	}
	t.sweepAt = max(2*len(t.m), minSweep)
}

// tidy drops the buckets that have refilled, and moves what is left to a
// new map once it is under a quarter of the most the old one held: Go's
// maps never shrink, and a burst of connects left a bucket and a table
// slot per player for good, ~60 bytes of an idle player on the three
// tables (docs/architecture.md, "Memory per idle player"). What is left
// after a sweep is only the buckets still draining, so a table in its
// steady state costs a tidy next to nothing. The gateway tidies its tables
// every 500 ms (expirySweep).
func (t *bucketTable) tidy(now int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.m) == 0 {
		return
	}
	t.peak = max(t.peak, len(t.m))
	t.sweepLocked(now)
	if t.peak >= minSweep && len(t.m) < t.peak/4 {
		m := make(map[string]*sharedBucket, len(t.m))
		maps.Copy(m, t.m)
		t.m, t.peak = m, len(m)
	}
}

// keep puts back b as key's bucket if it is still draining and key has
// none: a connection holds its user's bucket (connState.user) while tidy
// may drop it from the table once full, and a client that drained it and
// reconnects must find it as it left it, not a full one.
func (t *bucketTable) keep(key string, b *sharedBucket, now int64) {
	if t == nil || b == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.m[key]; ok || len(t.m) >= t.maxKeys {
		return
	}
	b.mu.Lock()
	full := b.b.full(now, t.rate.PerSecond, t.rate.Burst)
	b.mu.Unlock()
	if !full {
		t.m[key] = b
	}
}

// allow takes a token from key's bucket; when there is none it returns how
// long until there is. A table with no rate allows everything.
func (t *bucketTable) allow(key string, now int64) (ok bool, retry time.Duration) {
	if t == nil {
		return true, 0
	}
	rate := t.currentRate()
	if rate.PerSecond <= 0 {
		return true, 0
	}
	b := t.get(key, now)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.b.take(now, rate.PerSecond, rate.Burst) {
		return true, 0
	}
	return false, b.b.wait(rate.PerSecond)
}

// currentRate is the table's rate now.
func (t *bucketTable) currentRate() Rate {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.rate
}

// setRate changes the rate of every bucket of the table from its next take.
func (t *bucketTable) setRate(r Rate) {
	t.mu.Lock()
	t.rate = r
	t.mu.Unlock()
}

// len is the number of keys held (tests, metrics).
func (t *bucketTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// addressKey is the key a source address is limited by: an IPv4 address
// as it is, an IPv6 address by its /64 (one host is given a whole /64, so
// per-address limits on full IPv6 addresses would limit nothing).
func addressKey(ip net.IP) string {
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	if len(ip) == net.IPv6len {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}
