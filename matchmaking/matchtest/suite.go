// Package matchtest is the conformance suite every matchmaking.TicketStore
// must pass (the memory store now, the Redis store later), so that the
// implementations cannot drift apart. Run it from a test:
//
//	func TestMemoryStore(t *testing.T) {
//		matchtest.RunTicketStore(t, func(t *testing.T) matchmaking.TicketStore {
//			return matchmaking.NewMemoryStore()
//		})
//	}
//
// Each subtest gets a fresh store from newStore. Stores shared between
// subtests (one Redis) must be emptied by newStore.
package matchtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lobbyd/lobbyd/matchmaking"
	"github.com/lobbyd/lobbyd/protocol"
)

// RunTicketStore runs the whole suite.
func RunTicketStore(t *testing.T, newStore func(t *testing.T) matchmaking.TicketStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s matchmaking.TicketStore)
	}{
		{"AddGet", testAddGet},
		{"AddRejectsBadTickets", testAddBad},
		{"AlreadyQueuedAcrossQueues", testAlreadyQueued},
		{"PartyChecksEveryMember", testPartyMembers},
		{"RemoveFreesUsers", testRemove},
		{"WaitingInCreationOrder", testWaitingOrder},
		{"ClaimAllOrNothing", testClaim},
		{"ClaimRace", testClaimRace},
		{"Stats", testStats},
		{"CopiesOnAdd", testCopies},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

var ctx = context.Background()

func tk(id, queue string, created int64, members ...string) matchmaking.Ticket {
	return matchmaking.Ticket{ID: id, Queue: queue, Members: members, Names: members,
		Skill: 1000, Region: "eu", CreatedAt: created}
}

func wantCode(t *testing.T, err error, code protocol.Code) {
	t.Helper()
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != code {
		t.Fatalf("err = %v, want code %s", err, code)
	}
}

func mustAdd(t *testing.T, s matchmaking.TicketStore, ts ...matchmaking.Ticket) {
	t.Helper()
	for _, x := range ts {
		if err := s.Add(ctx, x); err != nil {
			t.Fatalf("Add %s: %v", x.ID, err)
		}
	}
}

func ids(ts []matchmaking.Ticket) []string {
	out := make([]string, len(ts))
	for i := range ts {
		out[i] = ts[i].ID
	}
	return out
}

func testAddGet(t *testing.T, s matchmaking.TicketStore) {
	a := tk("a", "duel", 10, "u1")
	mustAdd(t, s, a)
	got, err := s.Get(ctx, "a")
	if err != nil || got.ID != "a" || got.Queue != "duel" || !slices.Equal(got.Members, []string{"u1"}) ||
		got.Skill != 1000 || got.Region != "eu" || got.CreatedAt != 10 || !slices.Equal(got.Names, []string{"u1"}) {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if got, err := s.ByUser(ctx, "u1"); err != nil || got.ID != "a" {
		t.Fatalf("ByUser = %+v, %v", got, err)
	}
	_, err = s.Get(ctx, "nope")
	wantCode(t, err, protocol.CodeNotFound)
	_, err = s.ByUser(ctx, "nobody")
	wantCode(t, err, protocol.CodeNotFound)
}

func testAddBad(t *testing.T, s matchmaking.TicketStore) {
	for _, bad := range []matchmaking.Ticket{
		tk("", "duel", 1, "u1"),
		tk("x", "", 1, "u1"),
		tk("x", "duel", 1),
		tk("x", "duel", 1, "u1", "u1"),
		tk("x", "duel", 1, ""),
	} {
		wantCode(t, s.Add(ctx, bad), protocol.CodeBadRequest)
	}
	mustAdd(t, s, tk("x", "duel", 1, "u1"))
	wantCode(t, s.Add(ctx, tk("x", "duel", 2, "u2")), protocol.CodeBadRequest) // id in use
	if _, err := s.ByUser(ctx, "u2"); err == nil {
		t.Fatal("a refused Add left a user queued")
	}
}

func testAlreadyQueued(t *testing.T, s matchmaking.TicketStore) {
	mustAdd(t, s, tk("a", "duel", 1, "u1"))
	wantCode(t, s.Add(ctx, tk("b", "duel", 2, "u1")), protocol.CodeAlreadyQueued)
	wantCode(t, s.Add(ctx, tk("c", "squad", 2, "u1")), protocol.CodeAlreadyQueued)
	if _, err := s.Get(ctx, "c"); err == nil {
		t.Fatal("refused ticket stored")
	}
}

func testPartyMembers(t *testing.T, s matchmaking.TicketStore) {
	mustAdd(t, s, tk("solo", "duel", 1, "u3"))
	// u3 is queued: the whole party is refused, and u1, u2 stay free.
	wantCode(t, s.Add(ctx, tk("p", "squad", 2, "u1", "u2", "u3")), protocol.CodeAlreadyQueued)
	for _, u := range []string{"u1", "u2"} {
		if _, err := s.ByUser(ctx, u); err == nil {
			t.Fatalf("%s queued by a refused party ticket", u)
		}
	}
	mustAdd(t, s, tk("p", "squad", 2, "u1", "u2"))
	for _, u := range []string{"u1", "u2"} {
		if got, err := s.ByUser(ctx, u); err != nil || got.ID != "p" {
			t.Fatalf("ByUser(%s) = %+v, %v", u, got, err)
		}
	}
	wantCode(t, s.Add(ctx, tk("q", "duel", 3, "u2")), protocol.CodeAlreadyQueued)
}

func testRemove(t *testing.T, s matchmaking.TicketStore) {
	mustAdd(t, s, tk("p", "squad", 1, "u1", "u2"))
	got, err := s.Remove(ctx, "p")
	if err != nil || got.ID != "p" || len(got.Members) != 2 {
		t.Fatalf("Remove = %+v, %v", got, err)
	}
	_, err = s.Remove(ctx, "p")
	wantCode(t, err, protocol.CodeNotFound)
	_, err = s.Get(ctx, "p")
	wantCode(t, err, protocol.CodeNotFound)
	mustAdd(t, s, tk("q", "duel", 2, "u1"), tk("r", "duel", 3, "u2")) // both free again
	if w, _ := s.Waiting(ctx, "squad", nil); len(w) != 0 {
		t.Fatalf("squad still lists %v", ids(w))
	}
}

func testWaitingOrder(t *testing.T, s matchmaking.TicketStore) {
	mustAdd(t, s, tk("b", "duel", 20, "u2"), tk("c", "duel", 30, "u3"), tk("a", "duel", 10, "u1"),
		tk("c2", "duel", 30, "u4"), tk("x", "squad", 5, "u9"))
	w, err := s.Waiting(ctx, "duel", make([]matchmaking.Ticket, 3))
	if err != nil || !slices.Equal(ids(w), []string{"a", "b", "c", "c2"}) {
		t.Fatalf("Waiting = %v, %v", ids(w), err)
	}
	if _, err := s.Remove(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	w, _ = s.Waiting(ctx, "duel", w)
	if !slices.Equal(ids(w), []string{"a", "c", "c2"}) {
		t.Fatalf("Waiting after remove = %v", ids(w))
	}
	if w, _ := s.Waiting(ctx, "none", nil); len(w) != 0 {
		t.Fatalf("unknown queue lists %v", ids(w))
	}
	// Many removals from the middle keep order (compaction).
	for i := range 300 {
		mustAdd(t, s, tk(fmt.Sprint("m", i), "big", int64(i), fmt.Sprint("mu", i)))
	}
	for i := 0; i < 300; i += 3 {
		if _, err := s.Remove(ctx, fmt.Sprint("m", i)); err != nil {
			t.Fatal(err)
		}
	}
	w, _ = s.Waiting(ctx, "big", nil)
	if len(w) != 200 || !slices.IsSortedFunc(w, func(a, b matchmaking.Ticket) int { return int(a.CreatedAt - b.CreatedAt) }) {
		t.Fatalf("big queue: %d tickets, sorted=%v", len(w), slices.IsSortedFunc(w, func(a, b matchmaking.Ticket) int { return int(a.CreatedAt - b.CreatedAt) }))
	}
}

func testClaim(t *testing.T, s matchmaking.TicketStore) {
	mustAdd(t, s, tk("a", "duel", 1, "u1"), tk("b", "duel", 2, "u2"), tk("c", "duel", 3, "u3"))
	if _, err := s.Remove(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Claim(ctx, []string{"a", "c"}); ok || err != nil {
		t.Fatalf("Claim with a gone ticket = %v, %v; want false", ok, err)
	}
	if _, err := s.Get(ctx, "a"); err != nil {
		t.Fatal("a failed Claim removed a ticket")
	}
	if ok, _ := s.Claim(ctx, []string{"a", "a"}); ok {
		t.Fatal("Claim with a duplicate id succeeded")
	}
	if ok, err := s.Claim(ctx, []string{"a", "b"}); !ok || err != nil {
		t.Fatalf("Claim = %v, %v; want true", ok, err)
	}
	for _, id := range []string{"a", "b"} {
		_, err := s.Get(ctx, id)
		wantCode(t, err, protocol.CodeNotFound)
	}
	if ok, _ := s.Claim(ctx, []string{"a", "b"}); ok {
		t.Fatal("second Claim of the same tickets succeeded")
	}
	mustAdd(t, s, tk("d", "duel", 4, "u1")) // claimed users are free to queue again
}

func testClaimRace(t *testing.T, s matchmaking.TicketStore) {
	const n = 64
	for i := range n {
		mustAdd(t, s, tk(fmt.Sprint("t", i), "duel", int64(i), fmt.Sprint("u", i)))
	}
	// Claimers race on overlapping pairs (i, i+1): every ticket may be won
	// at most once.
	var won [n]atomic.Int32
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g % 2; i+1 < n; i++ {
				pair := []string{fmt.Sprint("t", i), fmt.Sprint("t", i+1)}
				if ok, err := s.Claim(ctx, pair); err == nil && ok {
					won[i].Add(1)
					won[i+1].Add(1)
				}
			}
		}()
	}
	wg.Wait()
	total := 0
	for i := range won {
		if c := won[i].Load(); c > 1 {
			t.Fatalf("ticket t%d claimed %d times", i, c)
		} else {
			total += int(c)
		}
	}
	w, _ := s.Waiting(ctx, "duel", nil)
	if total+len(w) != n {
		t.Fatalf("%d claimed + %d waiting != %d", total, len(w), n)
	}
}

func testStats(t *testing.T, s matchmaking.TicketStore) {
	if st, err := s.Stats(ctx, "squad"); err != nil || st != (matchmaking.StoreStats{}) {
		t.Fatalf("empty Stats = %+v, %v", st, err)
	}
	mustAdd(t, s, tk("p", "squad", 100, "u1", "u2"), tk("a", "squad", 200, "u3"), tk("d", "duel", 50, "u4"))
	st, _ := s.Stats(ctx, "squad")
	if st != (matchmaking.StoreStats{Tickets: 2, Players: 3, OldestCreatedAt: 100}) {
		t.Fatalf("Stats = %+v", st)
	}
	if _, err := s.Remove(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	st, _ = s.Stats(ctx, "squad")
	if st != (matchmaking.StoreStats{Tickets: 1, Players: 1, OldestCreatedAt: 200}) {
		t.Fatalf("Stats after remove = %+v", st)
	}
}

func testCopies(t *testing.T, s matchmaking.TicketStore) {
	members := []string{"u1", "u2"}
	x := tk("p", "squad", 1, members...)
	x.Members = members
	mustAdd(t, s, x)
	members[0] = "mallory"
	got, _ := s.Get(ctx, "p")
	if got.Members[0] != "u1" {
		t.Fatal("the store kept the caller's slice")
	}
	if _, err := s.ByUser(ctx, "mallory"); err == nil {
		t.Fatal("mutating the caller's slice changed the store")
	}
}
