// Package budget is a shard-wide memory budget: one byte count that the
// holders of buffered output (netcode's write queues) and of replay
// (gateway's replay rings) charge when they grow and release when they
// shrink, so that the shard as a whole holds at most a configured number of
// bytes for them, whatever the number of connections.
//
// What is charged is what is held (a buffer's capacity), not what is owed,
// because that is what the process's memory is made of.
//
// The budget decides nothing on its own: TryCharge refuses growth past the
// limit, and Pressure tells whoever sheds load (the gateway) that the
// high-water mark was crossed. A nil *Budget is unlimited: every method is
// a no-op and TryCharge always succeeds.
//
// Concurrency: every method is safe from any goroutine; none blocks.
package budget

import "sync/atomic"

// Budget is a shard-wide byte budget.
type Budget struct {
	limit int64
	high  int64 // Pressure fires when used goes above it
	used  atomic.Int64
	// pressure holds at most one pending signal: a burst of charges over
	// the high-water mark wakes the shedder once.
	pressure chan struct{}
}

// New returns a budget of limit bytes (limit > 0) whose high-water mark is
// high (0 < high ≤ limit).
func New(limit, high int64) *Budget {
	if limit <= 0 || high <= 0 || high > limit {
		panic("budget: need 0 < high <= limit")
	}
	return &Budget{limit: limit, high: high, pressure: make(chan struct{}, 1)}
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

// Used is the number of bytes charged now.
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	return b.used.Load()
}

// TryCharge charges n bytes if that keeps the total within the limit, and
// reports whether it did.
func (b *Budget) TryCharge(n int) bool {
	if b == nil || n <= 0 {
		return true
	}
	for {
		u := b.used.Load()
		if u+int64(n) > b.limit {
			b.signal()
			return false
		}
		if b.used.CompareAndSwap(u, u+int64(n)) {
			if u+int64(n) > b.high {
				b.signal()
			}
			return true
		}
	}
}

// Charge charges n bytes even past the limit: for memory that is already
// held and must stay (an encoded event, a close frame). The shedder brings
// the total back down.
func (b *Budget) Charge(n int) {
	if b == nil || n <= 0 {
		return
	}
	if b.used.Add(int64(n)) > b.high {
		b.signal()
	}
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
