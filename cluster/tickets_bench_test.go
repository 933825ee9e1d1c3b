package cluster

import (
	"context"
	"fmt"
	"testing"

	"github.com/lobbyd/lobbyd/internal/redistest"
)

// fillQueue adds n single-player tickets to queue.
func fillQueue(b *testing.B, s *TicketStore, queue string, n int) {
	b.Helper()
	ctx := context.Background()
	for i := range n {
		if err := s.Add(ctx, ticket(fmt.Sprint("f", i), queue, int64(i), fmt.Sprint("fu", i))); err != nil {
			b.Fatal(err)
		}
	}
}

// One matcher pass's snapshot of a queue of 10,000 tickets: unchanged
// since the last pass, and with one ticket added and one removed between
// passes (the usual case under load).
func BenchmarkTicketStoreWaiting(b *testing.B) {
	rdb, prefix := redistest.Client(b)
	s := NewTicketStore(rdb, NewKeyspace(prefix), TicketOptions{})
	cost := counted(rdb)
	const n = 10_000
	fillQueue(b, s, "duel", n)
	ctx := context.Background()
	dst, err := s.Waiting(ctx, "duel", nil) // the first pass loads the whole queue
	if err != nil {
		b.Fatal(err)
	}
	b.Run("unchanged", func(b *testing.B) {
		b.ReportAllocs()
		cost.reset()
		for b.Loop() {
			var err error
			if dst, err = s.Waiting(ctx, "duel", dst); err != nil || len(dst) != n {
				b.Fatal(len(dst), err)
			}
		}
		cost.report(b)
	})
	b.Run("one_change", func(b *testing.B) {
		b.ReportAllocs()
		cost.reset()
		i := 0
		for b.Loop() {
			i++
			b.StopTimer()
			cost.paused.Store(true)
			if err := s.Add(ctx, ticket(fmt.Sprint("c", i), "duel", int64(n+i), fmt.Sprint("cu", i))); err != nil {
				b.Fatal(err)
			}
			if _, err := s.Remove(ctx, fmt.Sprint("c", i)); err != nil {
				b.Fatal(err)
			}
			cost.paused.Store(false)
			b.StartTimer()
			var err error
			if dst, err = s.Waiting(ctx, "duel", dst); err != nil || len(dst) != n {
				b.Fatal(len(dst), err)
			}
		}
		cost.report(b)
	})
}

// A duel's life in the store: two Adds, then the matcher's Claim of the
// pair (ids from its last Waiting, as the Service does).
func BenchmarkTicketStoreAddClaim(b *testing.B) {
	rdb, prefix := redistest.Client(b)
	s := NewTicketStore(rdb, NewKeyspace(prefix), TicketOptions{})
	ctx := context.Background()
	if err := s.Add(ctx, ticket("warm", "duel", 0, "warm")); err != nil { // scripts loaded
		b.Fatal(err)
	}
	if _, err := s.Waiting(ctx, "duel", nil); err != nil {
		b.Fatal(err)
	}
	cost := counted(rdb)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		x, y := fmt.Sprint("x", i), fmt.Sprint("y", i)
		if err := s.Add(ctx, ticket(x, "duel", int64(i), "u"+x)); err != nil {
			b.Fatal(err)
		}
		if err := s.Add(ctx, ticket(y, "duel", int64(i), "u"+y)); err != nil {
			b.Fatal(err)
		}
		if ok, err := s.Claim(ctx, []string{x, y}); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
	cost.report(b)
}
