package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/internal/redistest"
	"github.com/lobbyd/lobbyd/matchmaking"
	"github.com/lobbyd/lobbyd/matchmaking/matchtest"
	"github.com/lobbyd/lobbyd/protocol"
)

func TestTicketStoreConformance(t *testing.T) {
	matchtest.RunTicketStore(t, func(t *testing.T) matchmaking.TicketStore {
		rdb, prefix := redistest.Client(t)
		return NewTicketStore(rdb, NewKeyspace(prefix), TicketOptions{})
	})
}

func TestTicketStoreConformanceOnRedisCluster(t *testing.T) {
	matchtest.RunTicketStore(t, func(t *testing.T) matchmaking.TicketStore {
		rdb, prefix := redistest.Cluster(t)
		return NewTicketStore(rdb, NewKeyspace(prefix), TicketOptions{})
	})
}

func ticket(id, queue string, created int64, members ...string) matchmaking.Ticket {
	return matchmaking.Ticket{ID: id, Queue: queue, Members: members, Skill: 1000, CreatedAt: created}
}

func isCode(err error, code protocol.Code) bool {
	var pe *protocol.Error
	return errors.As(err, &pe) && pe.Code == code
}

// Two stores (two shards) race to queue the same users on tickets of
// different queues, many rounds, Redis Cluster so that the hints and the
// queues are on different nodes: after every round each user is on at most
// one queued ticket, and the refused Adds left nothing behind.
func TestTicketStoreUserNeverOnTwoTickets(t *testing.T) {
	onEachRedis(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ks := NewKeyspace(prefix)
		shards := []*TicketStore{NewTicketStore(rdb, ks, TicketOptions{}), NewTicketStore(rdb, ks, TicketOptions{})}
		ctx := context.Background()
		queues := []string{"duel", "squad", "solo"}
		const rounds, users = 30, 4
		for r := range rounds {
			// Every contender tries a party of all users, or one user,
			// on its own queue; all start together.
			var wg sync.WaitGroup
			errs := make([]error, 6)
			start := make(chan struct{})
			for c := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					members := []string{fmt.Sprint("u", c%users)}
					if c%3 == 0 {
						members = []string{"u0", "u1", "u2", "u3"}
					}
					<-start
					errs[c] = shards[c%2].Add(ctx, ticket(fmt.Sprint("r", r, "c", c), queues[c%3], int64(c), members...))
				}()
			}
			close(start)
			wg.Wait()
			onTicket := map[string]string{}
			for _, q := range queues {
				w, err := shards[0].Waiting(ctx, q, nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, tk := range w {
					for _, u := range tk.Members {
						if prev, dup := onTicket[u]; dup {
							t.Fatalf("round %d: %s on %s and %s", r, u, prev, tk.ID)
						}
						onTicket[u] = tk.ID
					}
				}
			}
			for c, err := range errs {
				if err != nil && !isCode(err, protocol.CodeAlreadyQueued) {
					t.Fatalf("round %d contender %d: %v", r, c, err)
				}
			}
			for u := range users {
				uid := fmt.Sprint("u", u)
				got, err := shards[1].ByUser(ctx, uid)
				if want, ok := onTicket[uid]; ok != (err == nil) || (ok && got.ID != want) {
					t.Fatalf("round %d: ByUser(%s) = %s, %v; queued on %q", r, uid, got.ID, err, want)
				}
			}
			// Empty the queues for the next round (claims free the users).
			for _, q := range queues {
				w, _ := shards[1].Waiting(ctx, q, nil)
				for _, tk := range w {
					if ok, err := shards[r%2].Claim(ctx, []string{tk.ID}); !ok || err != nil {
						t.Fatalf("Claim %s = %v, %v", tk.ID, ok, err)
					}
				}
			}
		}
	})
}

// A hint naming a ticket that is gone is taken over once it is older than
// the window; a young one (an Add in flight) is respected.
func TestTicketStoreStaleHint(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ks := NewKeyspace(prefix)
	s := NewTicketStore(rdb, ks, TicketOptions{})
	ctx := context.Background()
	now := time.Now().UnixMilli()
	// An Add that died after claiming u1, just now: u1 stays held.
	rdb.Set(ctx, ks.userTicket("u1"), fmt.Sprintf("%d:duel:ghost", now), 0)
	if err := s.Add(ctx, ticket("a", "duel", 1, "u1")); !isCode(err, protocol.CodeAlreadyQueued) {
		t.Fatalf("Add over a young hint = %v, want already_queued", err)
	}
	// The same, long ago: taken over.
	rdb.Set(ctx, ks.userTicket("u1"), fmt.Sprintf("%d:duel:ghost", now-hintWindow.Milliseconds()-1000), 0)
	if err := s.Add(ctx, ticket("a", "duel", 1, "u1")); err != nil {
		t.Fatalf("Add over a stale hint: %v", err)
	}
	if got, err := s.ByUser(ctx, "u1"); err != nil || got.ID != "a" {
		t.Fatalf("ByUser = %+v, %v", got, err)
	}
	// An old hint naming a ticket that is queued still refuses.
	rdb.Set(ctx, ks.userTicket("u2"), fmt.Sprintf("%d:duel:a", now-hintWindow.Milliseconds()-1000), 0)
	if err := s.Add(ctx, ticket("b", "squad", 2, "u2")); !isCode(err, protocol.CodeAlreadyQueued) {
		t.Fatalf("Add over a hint of a queued ticket = %v", err)
	}
	// A claimed ticket's hints are gone.
	if ok, err := s.Claim(ctx, []string{"a"}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	for _, k := range []string{ks.userTicket("u1"), ks.ticketHint("a")} {
		if n, _ := rdb.Exists(ctx, k).Result(); n != 0 {
			t.Fatalf("%s left after Claim", k)
		}
	}
}

// Claim of tickets of two queues, or of a ticket unknown, is refused.
func TestTicketStoreClaimAcrossQueues(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	s := NewTicketStore(rdb, NewKeyspace(prefix), TicketOptions{})
	ctx := context.Background()
	for _, tk := range []matchmaking.Ticket{ticket("a", "duel", 1, "u1"), ticket("b", "squad", 1, "u2")} {
		if err := s.Add(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := s.Claim(ctx, []string{"a", "b"}); ok || err != nil {
		t.Fatalf("Claim across queues = %v, %v", ok, err)
	}
	if _, err := s.Waiting(ctx, "duel", nil); err != nil { // fills the cache: the cached path must refuse too
		t.Fatal(err)
	}
	if ok, err := s.Claim(ctx, []string{"a", "b"}); ok || err != nil {
		t.Fatalf("Claim across queues (cached) = %v, %v", ok, err)
	}
	if st, _ := s.Stats(ctx, "squad"); st.Tickets != 1 {
		t.Fatalf("squad stats %+v", st)
	}
}

// An Add whose queue script ran but whose reply was lost (Redis died after
// running it: EOF) is answered unavailable and yet queued the ticket
// (docs/protocol.md §5a). The player then queues again, as a client told
// unavailable does: that must be already_queued, not a second ticket for
// the same player (TestRedisRestartedWithData: "q9 matched 2 times").
func TestTicketAddReplyLostKeepsUserOnOneTicket(t *testing.T) {
	rdb, prefix, hook := lostReplyClient(t)
	s := NewTicketStore(rdb, NewKeyspace(prefix), TicketOptions{})
	ctx := context.Background()
	hook.arm(1, isScript(queueAddScript))
	err := s.Add(ctx, ticket("t1", "duel", 1, "u1"))
	if hook.lostCount() != 1 || !isCode(err, protocol.CodeUnavailable) {
		t.Fatalf("Add with its reply lost: %v (replies lost: %d), want unavailable", err, hook.lostCount())
	}
	if err := s.Add(ctx, ticket("t2", "duel", 2, "u1")); !isCode(err, protocol.CodeAlreadyQueued) {
		t.Errorf("second Add for the same player: %v, want already_queued", err)
	}
	snap, err := s.Waiting(ctx, "duel", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap) != 1 || snap[0].ID != "t1" {
		t.Errorf("queued: %v, want t1 alone", snap)
	}
	// The ticket in effect is the player's: found by user and by id, so it
	// can be cancelled.
	if got, err := s.ByUser(ctx, "u1"); err != nil || got.ID != "t1" {
		t.Errorf("ByUser(u1) = %v, %v; want t1", got.ID, err)
	}
	if _, err := s.Remove(ctx, "t1"); err != nil {
		t.Errorf("Remove(t1): %v", err)
	}
	if err := s.Add(ctx, ticket("t3", "duel", 3, "u1")); err != nil {
		t.Errorf("Add after the cancel: %v", err)
	}
}

// A matcher's take whose reply is lost (Redis died after running it, or
// before it was written) is settled, not guessed: tickets it took are
// claimed (their match goes on), tickets it did not take stay queued, and
// a take that reaches Redis after its settle takes nothing.
func TestTicketClaimReplyLost(t *testing.T) {
	rdb, prefix, hook := lostReplyClient(t)
	s := NewTicketStore(rdb, NewKeyspace(prefix), TicketOptions{})
	ctx := context.Background()
	for i, id := range []string{"a", "b", "c", "d"} {
		if err := s.Add(ctx, ticket(id, "duel", int64(i+1), "u"+id)); err != nil {
			t.Fatal(err)
		}
	}
	// It ran, its reply was lost: claimed, and out of the queue.
	hook.arm(1, isScript(queueTakeScript))
	if ok, err := s.Claim(ctx, []string{"a", "b"}); !ok || err != nil || hook.lostCount() != 1 {
		t.Fatalf("Claim(a, b) with its reply lost = %v, %v (replies lost %d); want claimed", ok, err, hook.lostCount())
	}
	// It never reached Redis: not claimed, still queued.
	hook.reset()
	hook.armDrop(1, isScript(queueTakeScript))
	if ok, err := s.Claim(ctx, []string{"c", "d"}); ok || err != nil || hook.lostCount() != 1 {
		t.Fatalf("Claim(c, d) dropped = %v, %v (dropped %d); want not claimed, no error", ok, err, hook.lostCount())
	}
	snap, err := s.Waiting(ctx, "duel", nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, tk := range snap {
		ids = append(ids, tk.ID)
	}
	if !slices.Equal(ids, []string{"c", "d"}) {
		t.Fatalf("queued after the two claims: %v, want [c d]", ids)
	}
	// The dropped take arriving late: its claim key holds the settle's
	// tombstone, so it takes nothing.
	ks := NewKeyspace(prefix)
	late := ks.queueClaim("duel", "late")
	if err := settleTakeScript.Run(ctx, rdb, []string{late}, claimTTL.Milliseconds()).Err(); err != nil && !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	r, err := runGuarded(ctx, rdb, queueTakeScript, append(s.queueKeys("duel"), late), "", queueLogLen, claimTTL.Milliseconds(), "c", "d").Result()
	if err != nil || r != int64(0) {
		t.Fatalf("a take after its settle = %v, %v; want 0 (nothing taken)", r, err)
	}
	if ok, err := s.Claim(ctx, []string{"c", "d"}); !ok || err != nil {
		t.Fatalf("Claim(c, d) = %v, %v; want claimed", ok, err)
	}
}
