package cluster

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lobbyd/lobbyd/internal/redistest"
)

// Two shards heartbeat; List shows both with their reports; one dies
// (stops heartbeating): it leaves the list within the TTL, and the other
// shard's Run reports it dead exactly once.
func TestRegistryLiveAndDead(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ks := NewKeyspace(prefix)
	var conns atomic.Int64
	conns.Store(7)
	var mu sync.Mutex
	var reaped []string
	opts := RegistryOptions{Interval: 100 * time.Millisecond, TTL: 2 * time.Second,
		OnDead: func(_ context.Context, id string) error {
			mu.Lock()
			reaped = append(reaped, id)
			mu.Unlock()
			return nil
		}}
	a := NewRegistry(rdb, ks, "a", func() ShardInfo {
		return ShardInfo{Addr: "10.0.0.1:8080", Connections: int(conns.Load()), Lobbies: 3}
	}, opts)
	b := NewRegistry(rdb, ks, "b", func() ShardInfo {
		return ShardInfo{Addr: "10.0.0.2:8080", Draining: true, ID: "forged", LastSeen: 1}
	}, opts)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	before := time.Now().UnixMilli()
	var list []ShardInfo
	waitFor(t, 10*time.Second, "both shards listed", func() bool {
		if _, err := b.Refresh(ctx); err != nil { // b heartbeats until then, and never again
			t.Fatal(err)
		}
		list, _ = a.List(ctx)
		return len(list) == 2
	})
	if list[0].ID != "a" || list[0].Addr != "10.0.0.1:8080" || list[0].Connections != 7 || list[0].Lobbies != 3 || list[0].Draining {
		t.Fatalf("a listed as %+v", list[0])
	}
	if after := time.Now().UnixMilli(); list[1].ID != "b" || !list[1].Draining || list[1].LastSeen < before-1000 || list[1].LastSeen > after+1000 {
		t.Fatalf("b listed as %+v (listed between %d and %d)", list[1], before, after)
	}
	conns.Store(9)
	waitFor(t, 10*time.Second, "a's report refreshed", func() bool {
		list, _ = a.List(ctx)
		return len(list) > 0 && list[0].Connections == 9
	})
	// b is dead from now on.
	waitFor(t, 10*time.Second, "b leaves the list", func() bool {
		list, _ = a.List(ctx)
		return len(list) == 1 && list[0].ID == "a"
	})
	waitFor(t, 10*time.Second, "b reported dead", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(reaped) > 0
	})
	if ids, err := b.Dead(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("b reported dead again: %v, %v", ids, err)
	}
	mu.Lock()
	if !slices.Equal(reaped, []string{"b"}) {
		t.Fatalf("reaped %v", reaped)
	}
	mu.Unlock()
	// b comes back: it learns it had been declared dead.
	if rejoined, err := b.Refresh(ctx); err != nil || !rejoined {
		t.Fatalf("b's return: rejoined %v, %v", rejoined, err)
	}
	if rejoined, _ := b.Refresh(ctx); rejoined {
		t.Fatal("a second heartbeat reports a rejoin")
	}
	if err := b.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if list, _ := a.List(ctx); len(list) != 1 {
		t.Fatalf("after Leave: %+v", list)
	}
}

// Many shards reap at once: each dead shard is reported once in all.
func TestRegistryDeadReportedOnce(t *testing.T) {
	rdb, prefix := redistest.Cluster(t)
	ks := NewKeyspace(prefix)
	opts := RegistryOptions{TTL: 200 * time.Millisecond}
	ctx := context.Background()
	for _, id := range []string{"x", "y", "z"} {
		if _, err := NewRegistry(rdb, ks, id, func() ShardInfo { return ShardInfo{} }, opts).Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	regs := make([]*Registry, 4)
	for i := range regs {
		regs[i] = NewRegistry(rdb, ks, "live", func() ShardInfo { return ShardInfo{} }, opts)
	}
	var mu sync.Mutex
	var all []string
	waitFor(t, 10*time.Second, "x, y, z reaped", func() bool {
		var wg sync.WaitGroup
		for _, r := range regs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ids, err := r.Dead(ctx)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				all = append(all, ids...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return len(all) >= 3
	})
	slices.Sort(all)
	if !slices.Equal(all, []string{"x", "y", "z"}) {
		t.Fatalf("reaped %v", all)
	}
}

// A dead shard's chores are claimed by one live shard at a time; chores
// that fail are claimed again after ChoreRetry (by any shard), done ones
// never again, and those of a shard that came back are dropped.
func TestRegistryChoresRetried(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ks := NewKeyspace(prefix)
	ctx := t.Context()
	opts := RegistryOptions{TTL: 200 * time.Millisecond, ChoreRetry: 300 * time.Millisecond}
	for _, id := range []string{"x", "y"} {
		if _, err := NewRegistry(rdb, ks, id, func() ShardInfo { return ShardInfo{} }, opts).Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	live := NewRegistry(rdb, ks, "live", func() ShardInfo { return ShardInfo{} }, opts)
	other := NewRegistry(rdb, ks, "other", func() ShardInfo { return ShardInfo{} }, opts)
	waitFor(t, 10*time.Second, "x and y dead", func() bool {
		_, _ = live.Dead(ctx)
		n, _ := rdb.ZCard(ctx, ks.registryChores()).Result()
		return n == 2
	})
	ids, err := live.Chores(ctx, 10)
	if slices.Sort(ids); err != nil || !slices.Equal(ids, []string{"x", "y"}) {
		t.Fatalf("chores %v, %v", ids, err)
	}
	if again, _ := other.Chores(ctx, 10); len(again) != 0 {
		t.Fatalf("claimed twice: %v", again)
	}
	if err := live.ChoreDone(ctx, "x"); err != nil { // y failed
		t.Fatal(err)
	}
	var retried []string
	waitFor(t, 10*time.Second, "y's chores claimable again", func() bool {
		retried, _ = other.Chores(ctx, 10)
		return len(retried) > 0
	})
	if !slices.Equal(retried, []string{"y"}) {
		t.Fatalf("retried %v", retried)
	}
	// y comes back before its chores are redone: they are dropped.
	if _, err := NewRegistry(rdb, ks, "y", func() ShardInfo { return ShardInfo{} }, opts).Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "y's chores dropped", func() bool {
		got, _ := other.Chores(ctx, 10)
		n, _ := rdb.ZCard(ctx, ks.registryChores()).Result()
		return len(got) == 0 && n == 0
	})
}
