package cluster

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/lobbyd/lobbyd/internal/redistest"
)

// waitFor polls cond every 20 ms until it holds or within passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLeaseOneHolder(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ks := NewKeyspace(prefix)
	ctx := context.Background()
	ls := make([]*Lease, 8)
	for i := range ls {
		ls[i] = NewLease(rdb, ks, "duel", time.Minute)
	}
	var wg sync.WaitGroup
	held := make([]bool, len(ls))
	for i := range ls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := ls[i].Acquire(ctx)
			if err != nil {
				t.Error(err)
			}
			held[i] = ok
		}()
	}
	wg.Wait()
	n := 0
	for i := range ls {
		if held[i] {
			n++
			if e, ok := ls[i].Epoch(); !ok || e != 1 {
				t.Fatalf("holder epoch %d, %v", e, ok)
			}
		} else if _, ok := ls[i].Epoch(); ok {
			t.Fatal("a loser reports an epoch")
		}
	}
	if n != 1 {
		t.Fatalf("%d holders", n)
	}
	// Acquire again by the holder keeps its epoch; Release lets another in
	// at once with the next epoch.
	for i := range ls {
		if held[i] {
			if ok, _ := ls[i].Acquire(ctx); !ok {
				t.Fatal("holder lost its lease on re-acquire")
			}
			if e, _ := ls[i].Epoch(); e != 1 {
				t.Fatalf("re-acquire moved the epoch to %d", e)
			}
			if err := ls[i].Release(ctx); err != nil {
				t.Fatal(err)
			}
			j := (i + 1) % len(ls)
			if ok, _ := ls[j].Acquire(ctx); !ok {
				t.Fatal("no takeover after release")
			}
			if e, _ := ls[j].Epoch(); e != 2 {
				t.Fatalf("takeover epoch %d, want 2", e)
			}
		}
	}
}

// Two shards bid for a queue; the holder dies (stops renewing): the other
// takes over within the TTL plus one try, and the dead holder's claims
// are refused by the script even if it still believed it held the lease.
func TestLeaseTakeoverAndFencedClaim(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ks := NewKeyspace(prefix)
	// The TTL outlasts a loaded machine's stalls between a's Step and the
	// checks that a holds the lease.
	opts := LeaseOptions{TTL: 3 * time.Second, Renew: 200 * time.Millisecond}
	a := NewLeases(rdb, ks, []string{"duel"}, opts)
	b := NewLeases(rdb, ks, []string{"duel"}, opts)
	storeA := NewTicketStore(rdb, ks, TicketOptions{Fence: a.Fence})
	storeB := NewTicketStore(rdb, ks, TicketOptions{Fence: b.Fence})
	ctx := context.Background()

	a.Step(ctx)
	b.Step(ctx)
	if !a.Held("duel") || b.Held("duel") {
		t.Fatalf("held: a %v, b %v; want a only", a.Held("duel"), b.Held("duel"))
	}
	for _, id := range []string{"t1", "t2", "t3"} {
		if err := storeB.Add(ctx, ticket(id, "duel", 1, "u"+id)); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := storeB.Claim(ctx, []string{"t1"}); ok || !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("non-holder Claim = %v, %v", ok, err)
	}
	if ok, err := storeA.Claim(ctx, []string{"t1"}); !ok || err != nil {
		t.Fatalf("holder Claim = %v, %v", ok, err)
	}
	staleEpoch, _ := a.Epoch("duel")
	staleFence, _ := a.Fence("duel")

	// a dies: only b keeps stepping.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(opts.Renew)
		defer tk.Stop()
		for {
			b.Step(ctx)
			select {
			case <-stop:
				return
			case <-tk.C:
			}
		}
	}()
	waitFor(t, opts.TTL+10*time.Second, "b takes over", func() bool { return b.Held("duel") })
	close(stop)
	<-done
	if a.Held("duel") {
		t.Fatal("a still believes it holds the lease after its TTL")
	}
	// A cut-off matcher with the old epoch (its fence stuck) is refused by
	// the script itself.
	stuck := NewTicketStore(rdb, ks, TicketOptions{Fence: func(string) (string, bool) { return staleFence, true }})
	if ok, err := stuck.Claim(ctx, []string{"t2"}); ok || !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("stale epoch Claim = %v, %v", ok, err)
	}
	if ok, err := storeB.Claim(ctx, []string{"t2"}); !ok || err != nil {
		t.Fatalf("new holder Claim = %v, %v", ok, err)
	}
	if e, _ := b.Epoch("duel"); e != staleEpoch+1 {
		t.Fatalf("new epoch %d, want %d", e, staleEpoch+1)
	}
}

// A holder whose lease expired in Redis with nobody taking over cannot claim
// either: the script wants the lease key to still hold its epoch.
func TestLeaseExpiredClaimRefused(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ks := NewKeyspace(prefix)
	ctx := context.Background()
	l := NewLease(rdb, ks, "duel", time.Minute)
	if ok, err := l.Acquire(ctx); !ok || err != nil {
		t.Fatal(ok, err)
	}
	s := NewTicketStore(rdb, ks, TicketOptions{Fence: func(string) (string, bool) { return l.Fence() }})
	if err := s.Add(ctx, ticket("t1", "duel", 1, "u1")); err != nil {
		t.Fatal(err)
	}
	rdb.Del(ctx, ks.queueLease("duel")) // expired
	if ok, err := s.Claim(ctx, []string{"t1"}); ok || !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("Claim on an expired lease = %v, %v", ok, err)
	}
	if ok, _ := l.Renew(ctx); ok {
		t.Fatal("Renew of an expired lease succeeded")
	}
	if _, ok := l.Epoch(); ok {
		t.Fatal("a lost lease still reports an epoch")
	}
}

// Redis loses its data (a restart without persistence): epochs start over,
// and another shard can acquire the same epoch a cut-off holder still
// believes in. The claim compares the whole lease value, token included,
// so the old holder is refused all the same.
func TestLeaseSameEpochAfterDataLoss(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ks := NewKeyspace(prefix)
	ctx := context.Background()
	old := NewLease(rdb, ks, "duel", time.Minute)
	if ok, _ := old.Acquire(ctx); !ok {
		t.Fatal("no lease")
	}
	oldFence, _ := old.Fence()
	rdb.Del(ctx, ks.queueLease("duel"), ks.queueEpoch("duel")) // the data is gone
	next := NewLease(rdb, ks, "duel", time.Minute)
	if ok, _ := next.Acquire(ctx); !ok {
		t.Fatal("no lease after the loss")
	}
	if e1, _ := old.Epoch(); e1 != 1 {
		t.Fatalf("old epoch %d", e1)
	}
	if e2, _ := next.Epoch(); e2 != 1 {
		t.Fatalf("new epoch %d, want 1 again", e2)
	}
	s := NewTicketStore(rdb, ks, TicketOptions{})
	if err := s.Add(ctx, ticket("t1", "duel", 1, "u1")); err != nil {
		t.Fatal(err)
	}
	stale := NewTicketStore(rdb, ks, TicketOptions{Fence: func(string) (string, bool) { return oldFence, true }})
	if ok, err := stale.Claim(ctx, []string{"t1"}); ok || !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("old holder's Claim with the same epoch = %v, %v", ok, err)
	}
	fresh := NewTicketStore(rdb, ks, TicketOptions{Fence: func(string) (string, bool) { return next.Fence() }})
	if ok, err := fresh.Claim(ctx, []string{"t1"}); !ok || err != nil {
		t.Fatalf("holder's Claim = %v, %v", ok, err)
	}
}
