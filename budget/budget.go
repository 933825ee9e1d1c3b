// Package budget is a shard-wide memory budget: one byte count that the
// holders of buffered output (netcode's write queues) and of replay
// (gateway's replay rings) charge when they grow and release when they
// shrink, so that the shard as a whole holds at most a configured number of
// bytes for them, whatever the number of connections.
//
// What is charged is what is held (a buffer's capacity), not what is owed,
// because that is what the process's memory is made of.
//
// The budget decides nothing on its own. It has four marks, fractions of
// its limit L:
//
//   - L: what the shard should never hold. Only forced charges (memory that
//     exists already and must be kept a moment: an encoded event, a close
//     frame) may pass it.
//   - 15/16 L: TryCharge (a write queue that wants to grow) is refused
//     above it; the sixteenth left is headroom for the forced charges.
//   - 7/8 L (High): above it Pressure signals whoever sheds load.
//   - 3/4 L (Low): what shedding brings the total back down to.
//
// A nil *Budget is unlimited: every method is a no-op and TryCharge always
// succeeds.
//
// Concurrency: every method is safe from any goroutine; none blocks.
package budget

import "sync/atomic"

// Budget is a shard-wide byte budget.
type Budget struct {
	limit    int64
	tryLimit int64 // TryCharge refuses above it
	high     int64 // Pressure fires when used goes above it
	low      int64 // shedding target
	used     atomic.Int64
	peak     atomic.Int64 // highest used seen
	// pressure holds at most one pending signal: a burst of charges over
	// the high-water mark wakes the shedder once.
	pressure chan struct{}
}

// MinLimit is the smallest budget New accepts.
const MinLimit = 1 << 20

// New returns a budget of limit bytes (at least MinLimit).
func New(limit int64) *Budget {
	if limit < MinLimit {
		panic("budget: limit under MinLimit")
	}
	return &Budget{
		limit:    limit,
		tryLimit: limit - limit/16,
		high:     limit - limit/8,
		low:      limit - limit/4,
		pressure: make(chan struct{}, 1),
	}
}

// Limit is the budget in bytes (0 for a nil budget).
func (b *Budget) Limit() int64 {
	if b == nil {
		return 0
	}
	return b.limit
}

// High is the high-water mark in bytes (0 for a nil budget).
func (b *Budget) High() int64 {
	if b == nil {
		return 0
	}
	return b.high
}

// Low is the shedding target in bytes (0 for a nil budget).
func (b *Budget) Low() int64 {
	if b == nil {
		return 0
	}
	return b.low
}

// Peak is the highest total charged so far.
func (b *Budget) Peak() int64 {
	if b == nil {
		return 0
	}
	return b.peak.Load()
}

// Used is the number of bytes charged now.
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	return b.used.Load()
}

// TryCharge charges n bytes if that keeps the total within 15/16 of the
// limit, and reports whether it did.
func (b *Budget) TryCharge(n int) bool {
	if b == nil || n <= 0 {
		return true
	}
	for {
		u := b.used.Load()
		if u+int64(n) > b.tryLimit {
			b.signal()
			return false
		}
		if b.used.CompareAndSwap(u, u+int64(n)) {
			b.after(u + int64(n))
			return true
		}
	}
}

// after notes a new total: the peak, and pressure above High.
func (b *Budget) after(u int64) {
	for p := b.peak.Load(); u > p && !b.peak.CompareAndSwap(p, u); p = b.peak.Load() {
	}
	if u > b.high {
		b.signal()
	}
}

// Charge charges n bytes even past the limit: for memory that is already
// held and must stay (an encoded event, a close frame). The shedder brings
// the total back down.
func (b *Budget) Charge(n int) {
	if b == nil || n <= 0 {
		return
	}
	b.after(b.used.Add(int64(n)))
}

// Release gives n bytes back.
func (b *Budget) Release(n int) {
	if b == nil || n <= 0 {
		return
	}
	b.used.Add(-int64(n))
}

// Pressure returns a channel that receives a value after the total went
// above the high-water mark (or a charge was refused). One value stands
// for any number of crossings since it was last received.
func (b *Budget) Pressure() <-chan struct{} {
	if b == nil {
		return nil
	}
	return b.pressure
}

func (b *Budget) signal() {
	select {
	case b.pressure <- struct{}{}:
	default:
	}
}
