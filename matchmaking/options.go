package matchmaking

import (
	"crypto/rand"
	"encoding/base32"
	"log/slog"
	"time"
)

// Options tune a Service. Every zero value has a documented default.
type Options struct {
	// Tick is how often the matching loop runs a pass over every queue.
	// Zero: 50 ms, a wait players do not notice, for a pass over an idle
	// queue that costs microseconds. Every Enqueue also wakes the loop
	// (at most one wake is pending), which then starts a pass early unless
	// MinGap or the pacing below holds it back.
	Tick time.Duration
	// MinGap is the least time between the end of one pass and the start
	// of an early (woken) one; the loop also waits twice the last pass's
	// duration, so a burst of Enqueues over a huge queue cannot keep the
	// matcher busy more than a third of the time. Zero: 5 ms.
	MinGap time.Duration
	// IdlePoll is how often a queue that was empty at its last pass is
	// read again by the timer's passes; a wake (an Enqueue on this
	// Service) reads every queue at once. With shards sharing a ticket
	// store, reading a queue is a Redis round trip, and empty queues read
	// every Tick were most of an idle shard's CPU; a first ticket enqueued
	// on another shard waits up to IdlePoll more to be seen, and a ticket
	// alone does not match. Zero: 500 ms (never less than Tick).
	IdlePoll time.Duration
	// Clock returns the time in unix milliseconds. Zero: the system clock.
	Clock func() int64
	// NewID returns a new unique id for a ticket or a match. Zero: 16
	// random base32 characters (80 bits) from crypto/rand.
	NewID func() string
	// Runs reports whether this Service runs the matcher of a queue now.
	// Shards sharing one ticket store run each queue's matcher on one
	// shard at a time, the holder of the queue's lease
	// (cluster.Leases.Held); Enqueue and Cancel work on every shard.
	// Zero: every queue, always (a single shard).
	Runs func(queue string) bool
	// Logger receives errors the Service cannot return to a caller (the
	// store or Lobbies failing inside the loop). Zero: slog.Default().
	Logger *slog.Logger
	// Observer learns of every match made, for metrics. Zero: none.
	Observer Observer
}

// Observer learns what the matching loop does (the gateway's metrics).
// Matched runs on the loop's goroutine after a match's lobby exists:
// queue, its players, its skill spread (highest minus lowest skill of its
// tickets) and how long each of its tickets waited, in milliseconds.
type Observer interface {
	Matched(queue string, players int, skillSpread float64, waitedMs []int64)
}

func (o *Options) applyDefaults() {
	if o.Tick <= 0 {
		o.Tick = 50 * time.Millisecond
	}
	if o.MinGap <= 0 {
		o.MinGap = 5 * time.Millisecond
	}
	if o.IdlePoll <= 0 {
		o.IdlePoll = 500 * time.Millisecond
	}
	o.IdlePoll = max(o.IdlePoll, o.Tick)
	if o.Clock == nil {
		o.Clock = func() int64 { return time.Now().UnixMilli() }
	}
	if o.NewID == nil {
		o.NewID = randomID
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Runs == nil {
		o.Runs = func(string) bool { return true }
	}
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func randomID() string {
	var b [10]byte
	rand.Read(b[:]) // never fails (crypto/rand: Go 1.24+)
	return idEncoding.EncodeToString(b[:])
}
