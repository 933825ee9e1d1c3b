package budget

import (
	"context"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// The budget bounds what the shard holds for output and replay, but a
// buffer the shard lets go (shed, drained, closed) is garbage until the
// next collection, and with GOGC alone the heap may grow to 1.25× its live
// size before that collection comes (lobbyd runs at GOGC=25). Under a
// slow-reader attack that slack, not the budget, set the peak RSS: twice
// the budget. So the Go runtime is given a soft memory limit that follows
// the budget:
//
//	limit = budget + (live heap outside the budget) + GoLimitBase
//
// refreshed every GoLimitEvery. In normal play the budget is far from
// full, and its unused part is the heap's headroom: with the default budget
// (a quarter of memory) that is more than GOGC's own 25% of the rest up to
// twice the budget, so GOGC alone paces collections. As the budget fills,
// the headroom shrinks to GoLimitBase and collections come sooner, and the
// garbage of shed buffers is returned before the heap grows past the
// budget.

// GoLimitBase is room for the runtime's own memory (stacks, metadata) and
// the allocations between two refreshes.
const GoLimitBase = 16 << 20

// GoLimitEvery is how often FollowGoLimit recomputes the limit.
const GoLimitEvery = time.Second

// GoLimit is the soft memory limit for a heap of liveBytes live bytes of
// which b holds used (see above).
func (b *Budget) GoLimit(liveBytes int64) int64 {
	if b == nil {
		return math.MaxInt64
	}
	outside := max(liveBytes-b.Used(), 0)
	return b.limit + outside + GoLimitBase
}

// FollowGoLimit sets the Go runtime's soft memory limit from the budget
// (GoLimit) now and every GoLimitEvery until ctx ends, then restores the
// limit it found. The caller decides whether to run it: an operator's
// GOMEMLIMIT wins.
func (b *Budget) FollowGoLimit(ctx context.Context) {
	if b == nil {
		return
	}
	before := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(before)
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	t := time.NewTicker(GoLimitEvery)
	defer t.Stop()
	for {
		metrics.Read(sample)
		var live int64
		if sample[0].Value.Kind() == metrics.KindUint64 {
			live = int64(sample[0].Value.Uint64())
		}
		debug.SetMemoryLimit(b.GoLimit(live))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
