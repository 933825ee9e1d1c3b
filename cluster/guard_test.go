package cluster

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/internal/redistest"
)

var incrGuarded = newGuardedScript(`return redis.call('INCR', KEYS[1])`)

// A guarded script written to a paused Redis, given up on by its caller,
// does nothing when Redis reads it after the pause: the caller's
// "unavailable" stays true.
func TestGuardedScriptLateHasNoEffect(t *testing.T) {
	p := redistest.Server(t)
	rdb := redis.NewClient(&redis.Options{Addr: p.Addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	defer rdb.Close()
	bg := context.Background()
	if err := runGuarded(bg, rdb, incrGuarded, []string{"n"}).Err(); err != nil {
		t.Fatal(err) // loads the script
	}
	p.Pause()
	ctx, cancel := context.WithTimeout(bg, lateMargin+300*time.Millisecond)
	err := runGuarded(ctx, rdb, incrGuarded, []string{"n"}).Err()
	cancel()
	p.Resume()
	if err == nil {
		t.Fatal("a paused Redis answered")
	}
	waitFor(t, 10*time.Second, "Redis answers again", func() bool { return rdb.Ping(bg).Err() == nil })
	// The script was in Redis's socket buffer: it ran on resume, late,
	// and refused.
	if n, err := rdb.Get(bg, "n").Int(); err != nil || n != 1 {
		t.Fatalf("counter %d, %v: the late script took effect", n, err)
	}
}

// A context whose liveness has ended refuses a guarded script without a
// round trip; one still live runs it.
func TestGuardedScriptFencedByLiveness(t *testing.T) {
	p := redistest.Server(t)
	rdb := redis.NewClient(&redis.Options{Addr: p.Addr})
	defer rdb.Close()
	l := &Liveness{}
	ctx := WithLiveness(context.Background(), l)
	l.extend(time.Now().Add(time.Minute))
	if err := runGuarded(ctx, rdb, incrGuarded, []string{"n"}).Err(); err != nil {
		t.Fatal(err)
	}
	l.end()
	if err := runGuarded(ctx, rdb, incrGuarded, []string{"n"}).Err(); !errors.Is(err, ErrLate) {
		t.Fatalf("after the liveness ended: %v", err)
	}
	// A deadline in the past reaching Redis (a shard's clock ahead, a
	// write held in the network) is refused there.
	if err := incrGuarded.Run(context.Background(), rdb, []string{"n"}, time.Now().Add(-time.Second).UnixMilli()).Err(); err == nil || !isLate(err) {
		t.Fatalf("a late deadline in Redis: %v", err)
	}
	if n, _ := rdb.Get(context.Background(), "n").Int(); n != 1 {
		t.Fatalf("counter %d, want 1", n)
	}
}

// The registry notices Redis restarted empty (the cluster token is gone)
// and a Redis that stops answering for longer than the liveness: each
// loss is reported once, the liveness ends, and the next heartbeat
// answered starts a new incarnation.
func TestRegistryLosses(t *testing.T) {
	p := redistest.Server(t)
	rdb := redis.NewClient(&redis.Options{Addr: p.Addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	defer rdb.Close()
	l := &Liveness{}
	var mu sync.Mutex
	var losses []Loss
	r := NewRegistry(rdb, NewKeyspace("t:"), "a", func() ShardInfo { return ShardInfo{} }, RegistryOptions{
		Interval: 100 * time.Millisecond, TTL: 2 * time.Second, Liveness: l,
		OnLost: func(_ context.Context, why Loss) {
			mu.Lock()
			losses = append(losses, why)
			mu.Unlock()
		}})
	lost := func() []Loss {
		mu.Lock()
		defer mu.Unlock()
		return append([]Loss(nil), losses...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(t, 10*time.Second, "registered", func() bool { return r.Incarnation() == 1 && l.Live() })

	if err := p.Restart(); err != nil { // no AOF: empty
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the empty Redis noticed", func() bool { return len(lost()) == 1 && r.Incarnation() == 2 })
	if got := lost(); got[0] != LossStore {
		t.Fatalf("losses %v", got)
	}

	p.Pause()
	waitFor(t, 20*time.Second, "cut off", func() bool { return len(lost()) == 2 && !l.Live() })
	p.Resume()
	waitFor(t, 20*time.Second, "rejoined", func() bool { return r.Incarnation() == 3 && l.Live() })
	if got := lost(); got[1] != LossCutOff || len(got) != 2 {
		t.Fatalf("losses %v", got)
	}
}

// The default timings keep docs/protocol.md §5a with room to spare: a dead
// shard is found within 10 s less a margin, its liveness (the fence) ends
// before the others may declare it dead, and a 5 s Redis pause ends
// before the liveness of a shard whose last heartbeat was answered just
// before it (docs/failures.md).
func TestDefaultTimingsFence(t *testing.T) {
	ttl, every := DefaultRegistryTTL, DefaultRegistryInterval
	if found := ttl + every; found > 9*time.Second {
		t.Errorf("a dead shard is found after up to %v, want at most 9 s", found)
	}
	live := livenessFor(ttl)
	if live >= ttl {
		t.Errorf("liveness %v does not end before the TTL %v", live, ttl)
	}
	if live-every < 5*time.Second+500*time.Millisecond {
		t.Errorf("a 5 s pause can outlast the liveness: %v after the last heartbeat sent, one every %v", live, every)
	}
	if DefaultLeaseTTL > ttl {
		t.Errorf("a dead shard's lease (%v) outlives its registry entry (%v)", DefaultLeaseTTL, ttl)
	}
}
