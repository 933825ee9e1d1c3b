package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/internal/redistest"
)

// privateClient is a client of a redis-server of the test's own, with
// short timeouts so that an outage shows within the test's bounds.
func privateClient(t *testing.T) (*redistest.Process, *redis.Client) {
	t.Helper()
	p := redistest.Server(t)
	c := redis.NewClient(&redis.Options{Addr: p.Addr, DialTimeout: 300 * time.Millisecond,
		ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return p, c
}

// A holder whose Redis stops answering stops matching before its lease can
// expire in Redis: Held turns false within the TTL, with no renewal
// answered.
func TestLeaseHolderStopsWhenRedisStalls(t *testing.T) {
	p, rdb := privateClient(t)
	ls := NewLeases(rdb, NewKeyspace("t:"), []string{"duel"}, LeaseOptions{TTL: 2 * time.Second, Renew: 200 * time.Millisecond})
	ctx := context.Background()
	ls.Step(ctx)
	if !ls.Held("duel") {
		t.Fatal("no lease")
	}
	p.Pause()
	defer p.Resume()
	waitFor(t, 10*time.Second, "the holder gives the queue up", func() bool {
		ls.Step(ctx) // renewals time out
		return !ls.Held("duel")
	})
	p.Resume()
	waitFor(t, 10*time.Second, "the lease is held again", func() bool {
		ls.Step(ctx)
		return ls.Held("duel")
	})
}

// The control bus survives a Redis restart: go-redis resubscribes, and
// close messages reach the shard again.
func TestBusAfterRedisRestart(t *testing.T) {
	p, rdb := privateClient(t)
	ks := NewKeyspace("t:")
	a := newFakeShard()
	busA := NewBus(rdb, ks, "a", a, BusOptions{})
	if err := busA.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer busA.Close()
	b := NewBus(rdb, ks, "b", newFakeShard(), BusOptions{})
	ctx := context.Background()
	if err := b.CloseSession(ctx, "a", "u1", "s1"); err != nil {
		t.Fatal(err)
	}
	wantClosed(t, a, "s1")
	if err := p.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a close reaches a again", func() bool {
		// Unreachable until a has resubscribed; each try is one publish.
		if b.CloseSession(ctx, "a", "u1", "s2") != nil {
			return false
		}
		wantClosed(t, a, "s2")
		return true
	})
}
