package cluster

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lobbyd/lobbyd/internal/redistest"
	"github.com/lobbyd/lobbyd/matchmaking"
	"github.com/lobbyd/lobbyd/protocol"
)

// mmShard is one shard's matchmaking: a Service over the Redis ticket
// store, fenced by its matcher leases, with lobbies and a sink that record.
type mmShard struct {
	svc    *matchmaking.Service
	leases *Leases
	mu     sync.Mutex
	made   []matchmaking.MatchLobbyParams
	events []matchmaking.Event
}

func (s *mmShard) LobbyOf(context.Context, string) (protocol.LobbyView, bool, error) {
	return protocol.LobbyView{}, false, nil
}
func (s *mmShard) CheckPlayer(matchmaking.Player) error { return nil }
func (s *mmShard) CreateMatch(_ context.Context, p matchmaking.MatchLobbyParams) (protocol.LobbyView, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.made = append(s.made, p)
	return protocol.LobbyView{ID: "lobby-" + p.MatchID}, nil
}
func (s *mmShard) Deliver(ev *matchmaking.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, *ev)
}

func (s *mmShard) matched() (lobbies [][]string, told []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.made {
		var us []string
		for _, m := range p.Members {
			us = append(us, m.UserID)
		}
		slices.Sort(us)
		lobbies = append(lobbies, us)
	}
	for _, e := range s.events {
		if e.Name == protocol.EvMatched {
			told = append(told, e.To...)
		}
	}
	slices.Sort(told)
	return lobbies, told
}

// Players enqueued on two shards meet in one queue; only the shard holding
// the queue's lease matches them, into one match; when it dies the other
// shard takes the queue over.
func TestTwoShardsOneMatcherPerQueue(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ks := NewKeyspace(prefix)
	ctx := context.Background()
	lo := LeaseOptions{TTL: 3 * time.Second, Renew: 200 * time.Millisecond} // outlasts a loaded machine's stalls
	shards := make([]*mmShard, 2)
	for i := range shards {
		sh := &mmShard{leases: NewLeases(rdb, ks, []string{"duel", "squad"}, lo)}
		store := NewTicketStore(rdb, ks, TicketOptions{Fence: sh.leases.Fence})
		svc, err := matchmaking.NewService(nil, store, sh, sh, matchmaking.Options{Runs: sh.leases.Held})
		if err != nil {
			t.Fatal(err)
		}
		sh.svc = svc
		shards[i] = sh
	}
	a, b := shards[0], shards[1]
	a.leases.Step(ctx)
	b.leases.Step(ctx)
	enqueue := func(sh *mmShard, user string) {
		t.Helper()
		sk := 1000.0
		if _, err := sh.svc.Enqueue(ctx, matchmaking.Player{UserID: user, Name: user},
			protocol.Enqueue{Queue: "duel", Skill: &sk, Region: "eu"}); err != nil {
			t.Fatal(err)
		}
	}
	enqueue(a, "p1")
	enqueue(b, "p2")
	if _, err := a.svc.Enqueue(ctx, matchmaking.Player{UserID: "p2", Name: "p2"}, protocol.Enqueue{Queue: "squad"}); err == nil {
		t.Fatal("p2 queued twice across shards")
	}
	b.svc.MatchNow(ctx) // not b's queue
	a.svc.MatchNow(ctx)
	la, ta := a.matched()
	lb, tb := b.matched()
	if len(la) != 1 || !slices.Equal(la[0], []string{"p1", "p2"}) || !slices.Equal(ta, []string{"p1", "p2"}) || len(lb)+len(tb) != 0 {
		t.Fatalf("a made %v told %v; b made %v told %v", la, ta, lb, tb)
	}

	// a dies; b's leases keep stepping until b runs the queue.
	waitFor(t, lo.TTL+10*time.Second, "b takes the duel queue over", func() bool {
		b.leases.Step(ctx)
		return b.leases.Held("duel")
	})
	enqueue(a, "p3")
	enqueue(b, "p4")
	a.svc.MatchNow(ctx) // a cut off: it no longer runs the queue
	b.svc.MatchNow(ctx)
	la, _ = a.matched()
	lb, tb = b.matched()
	if len(la) != 1 || len(lb) != 1 || !slices.Equal(lb[0], []string{"p3", "p4"}) || !slices.Equal(tb, []string{"p3", "p4"}) {
		t.Fatalf("after takeover: a made %v; b made %v told %v", la, lb, tb)
	}
}
