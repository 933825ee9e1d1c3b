package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/internal/redistest"
)

// fakeShard is one shard's gateway as the Bus sees it: the sessions it
// has connected and their rings.
type fakeShard struct {
	mu     sync.Mutex
	rings  map[string][]byte // session id → ring
	closed chan string       // session ids closed with 4009
	events chan delivered    // DeliverEvent calls
	drains chan struct{}     // Drain calls
}

type delivered struct {
	users []string
	event []byte
}

func (f *fakeShard) DeliverEvent(users []string, event []byte) {
	f.events <- delivered{users, event}
}

func newFakeShard() *fakeShard {
	return &fakeShard{rings: map[string][]byte{}, closed: make(chan string, 16), events: make(chan delivered, 16),
		drains: make(chan struct{}, 16)}
}

func (f *fakeShard) Drain() { f.drains <- struct{}{} }

func (f *fakeShard) CloseSession(_, sessionID string) { f.closed <- sessionID }

func (f *fakeShard) HandOver(_, sessionID string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.rings[sessionID]
	if ok {
		delete(f.rings, sessionID)
		f.closed <- sessionID
	}
	return r, ok
}

type testShard struct {
	id  string
	ss  *Sessions
	bus *Bus
	gw  *fakeShard
}

func startShards(t *testing.T, rdb redis.UniversalClient, prefix string, grace time.Duration, ids ...string) []*testShard {
	t.Helper()
	ks := NewKeyspace(prefix)
	out := make([]*testShard, len(ids))
	for i, id := range ids {
		gw := newFakeShard()
		bus := NewBus(rdb, ks, id, gw, BusOptions{HandoverTimeout: 3 * time.Second})
		if err := bus.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { bus.Close() })
		out[i] = &testShard{id: id, ss: NewSessions(rdb, ks, id, grace), bus: bus, gw: gw}
	}
	return out
}

func wantClosed(t *testing.T, gw *fakeShard, sessionID string) {
	t.Helper()
	select {
	case got := <-gw.closed:
		if got != sessionID {
			t.Fatalf("closed %s, want %s", got, sessionID)
		}
	case <-time.After(3 * time.Second):
		t.Fatalf("session %s not closed within 3s", sessionID)
	}
}

// A second login on shard b closes the first connection on shard a.
func TestSessionsSecondLoginClosesFirst(t *testing.T) {
	onEachRedis(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		sh := startShards(t, rdb, prefix, time.Minute, "a", "b")
		a, b := sh[0], sh[1]
		ctx := context.Background()
		if _, had, err := a.ss.Claim(ctx, "u1", "s1", "tok1"); had || err != nil {
			t.Fatalf("first Claim: had %v, %v", had, err)
		}
		prev, had, err := b.ss.Claim(ctx, "u1", "s2", "tok2")
		if err != nil || !had || prev.ID != "s1" || prev.Shard != "a" || !prev.Connected {
			t.Fatalf("second Claim: prev %+v, had %v, %v", prev, had, err)
		}
		if prev.TokenHash != HashToken("tok1") || prev.TokenHash == "tok1" {
			t.Fatalf("token kept as %q", prev.TokenHash)
		}
		if err := b.bus.CloseSession(ctx, prev.Shard, "u1", prev.ID); err != nil {
			t.Fatal(err)
		}
		wantClosed(t, a.gw, "s1")
		// The old connection's drop changes nothing: the session is b's.
		if ok, err := a.ss.Detach(ctx, "u1", "s1", 9); ok || err != nil {
			t.Fatalf("stale Detach = %v, %v", ok, err)
		}
		s, ok, _ := a.ss.Get(ctx, "u1")
		if !ok || s.ID != "s2" || s.Shard != "b" || !s.Connected {
			t.Fatalf("session %+v", s)
		}
		if ttl, _ := rdb.PTTL(ctx, NewKeyspace(prefix).sessionKey("u1")).Result(); ttl != -1 {
			t.Fatalf("connected session has TTL %v", ttl)
		}
		// The old token no longer resumes anything.
		if _, ok, _ := a.ss.Resume(ctx, "u1", "tok1", "x"); ok {
			t.Fatal("replaced session's token resumed")
		}
	})
}

// A player drops on a and resumes on b: the token works once, the ring
// comes over the bus, a's connection (if still open) is closed.
func TestSessionsResumeAcrossShards(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	sh := startShards(t, rdb, prefix, time.Minute, "a", "b")
	a, b := sh[0], sh[1]
	ctx := context.Background()
	ks := NewKeyspace(prefix)
	if _, _, err := a.ss.Claim(ctx, "u1", "s1", "tok1"); err != nil {
		t.Fatal(err)
	}
	a.gw.rings["s1"] = []byte("ring of s1: seq 1..5")
	if ok, err := a.ss.Detach(ctx, "u1", "s1", 5); !ok || err != nil {
		t.Fatalf("Detach = %v, %v", ok, err)
	}
	if ttl, _ := rdb.PTTL(ctx, ks.sessionKey("u1")).Result(); ttl <= 0 || ttl > time.Minute {
		t.Fatalf("detached session TTL %v, want the grace", ttl)
	}
	// Another user's token does not resume u1, nor u2.
	if _, ok, _ := b.ss.Resume(ctx, "u2", "tok1", "x"); ok {
		t.Fatal("u1's token resumed u2")
	}
	prev, ok, err := b.ss.Resume(ctx, "u1", "tok1", "tok2")
	if err != nil || !ok || prev.ID != "s1" || prev.Shard != "a" || prev.Connected || prev.LastSeq != 5 {
		t.Fatalf("Resume = %+v, %v, %v", prev, ok, err)
	}
	ring, ok, err := b.bus.HandOver(ctx, prev.Shard, "u1", prev.ID)
	if err != nil || !ok || string(ring) != "ring of s1: seq 1..5" {
		t.Fatalf("HandOver = %q, %v, %v", ring, ok, err)
	}
	wantClosed(t, a.gw, "s1")
	if n, _ := rdb.Exists(ctx, ks.sessionKey("u1")+":ring:x").Result(); n != 0 {
		t.Fatal("unexpected ring key")
	}
	// Spent, once the client confirms it has tok2: neither shard resumes
	// with tok1 again.
	if err := b.ss.Confirm(ctx, "u1", "tok2"); err != nil {
		t.Fatal(err)
	}
	for _, s := range sh {
		if _, ok, _ := s.ss.Resume(ctx, "u1", "tok1", "tok3"); ok {
			t.Fatalf("spent token resumed on %s", s.id)
		}
	}
	s, _, _ := a.ss.Get(ctx, "u1")
	if s.Shard != "b" || !s.Connected || s.TokenHash != HashToken("tok2") {
		t.Fatalf("after resume: %+v", s)
	}
	if ttl, _ := rdb.PTTL(ctx, ks.sessionKey("u1")).Result(); ttl != -1 {
		t.Fatalf("resumed session has TTL %v", ttl)
	}
	// a's late Detach and Expire of the moved session change nothing.
	if ok, _ := a.ss.Detach(ctx, "u1", "s1", 5); ok {
		t.Fatal("a detached a session that moved to b")
	}
	if ok, _ := a.ss.Expire(ctx, "u1", "s1"); ok {
		t.Fatal("a expired a session that moved to b")
	}
	// A second handover finds nothing; a shard nobody listens to fails fast.
	if _, ok, err := b.bus.HandOver(ctx, "a", "u1", "s1"); ok || err != nil {
		t.Fatalf("second HandOver = %v, %v", ok, err)
	}
	if _, _, err := b.bus.HandOver(ctx, "gone", "u1", "s1"); !errors.Is(err, ErrShardUnreachable) {
		t.Fatalf("HandOver to a dead shard: %v", err)
	}
	if err := b.bus.CloseSession(ctx, "gone", "u1", "s1"); !errors.Is(err, ErrShardUnreachable) {
		t.Fatalf("CloseSession to a dead shard: %v", err)
	}
	// The new token works, once.
	if _, ok, _ := a.ss.Resume(ctx, "u1", "tok2", "tok4"); !ok {
		t.Fatal("fresh token refused")
	}
}

// A spent token is honoured until the client confirms it has the token
// that replaced it: a cut between a resume and its welcome's arrival
// leaves the client with the spent one only.
func TestSessionsSpentTokenUntilConfirmed(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ks := NewKeyspace(prefix)
	ctx := context.Background()
	a, b := NewSessions(rdb, ks, "a", time.Minute), NewSessions(rdb, ks, "b", time.Minute)
	resume := func(ss *Sessions, tok, next string, want bool) Session {
		t.Helper()
		prev, ok, err := ss.Resume(ctx, "u1", tok, next)
		if err != nil || ok != want {
			t.Fatalf("Resume(%s → %s) = %v, %v; want %v", tok, next, ok, err, want)
		}
		return prev
	}
	if _, _, err := a.Claim(ctx, "u1", "s1", "tok1"); err != nil {
		t.Fatal(err)
	}
	resume(b, "tok1", "tok2", true) // its welcome never arrives
	if prev := resume(a, "tok1", "tok3", true); prev.Shard != "b" || prev.ID != "s1" {
		t.Fatalf("second resume with tok1 took %+v, want s1 from b", prev)
	}
	resume(b, "tok2", "x", false) // replaced by tok3 before it was confirmed
	// A confirmation of a token no longer current changes nothing.
	if err := a.Confirm(ctx, "u1", "tok2"); err != nil {
		t.Fatal(err)
	}
	resume(b, "tok1", "tok4", true)
	if err := b.Confirm(ctx, "u1", "tok4"); err != nil {
		t.Fatal(err)
	}
	resume(a, "tok1", "x", false)
	resume(a, "tok3", "x", false)
	resume(a, "tok4", "tok5", true)
	if n, _ := rdb.HExists(ctx, ks.sessionKey("u1"), "ptok").Result(); !n {
		t.Fatal("the resume with tok4 did not keep it until confirmed")
	}
}

// Shards racing to resume with one token: each resume is honoured (the
// client confirmed no token since) and takes the session from the one
// before; the session ends with exactly one of them current, and once
// that is confirmed no other token resumes it.
func TestSessionsResumeRace(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ks := NewKeyspace(prefix)
	ctx := context.Background()
	ss := make([]*Sessions, 6)
	for i := range ss {
		ss[i] = NewSessions(rdb, ks, string(rune('a'+i)), time.Minute)
	}
	for round := range 20 {
		if _, _, err := ss[0].Claim(ctx, "u1", "s", "tok"); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for i := range ss {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, ok, err := ss[i].Resume(ctx, "u1", "tok", fmt.Sprint("next", i)); ok && err == nil {
					mu.Lock()
					won++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if won != len(ss) {
			t.Fatalf("round %d: %d of %d resumes with an unconfirmed token", round, won, len(ss))
		}
		cur, _, _ := ss[0].Get(ctx, "u1")
		last := -1
		for i := range ss {
			if cur.TokenHash == HashToken(fmt.Sprint("next", i)) {
				last = i
			}
		}
		if last < 0 || cur.Shard != ss[last].shard {
			t.Fatalf("round %d: the session is %+v, not the last resume's", round, cur)
		}
		if err := ss[0].Confirm(ctx, "u1", fmt.Sprint("next", last)); err != nil {
			t.Fatal(err)
		}
		for i := range ss {
			if _, ok, _ := ss[0].Resume(ctx, "u1", fmt.Sprint("next", i), "x"); i != last && ok {
				t.Fatalf("round %d: next%d, overwritten, resumed", round, i)
			}
		}
		if _, ok, _ := ss[0].Resume(ctx, "u1", "tok", "x"); ok {
			t.Fatalf("round %d: the spent token resumed after a confirmation", round)
		}
	}
}

// A session whose grace ran out cannot be resumed.
func TestSessionsExpiredCannotResume(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ctx := context.Background()
	a := NewSessions(rdb, NewKeyspace(prefix), "a", 200*time.Millisecond)
	b := NewSessions(rdb, NewKeyspace(prefix), "b", 200*time.Millisecond)
	if _, _, err := a.Claim(ctx, "u1", "s1", "tok1"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := a.Detach(ctx, "u1", "s1", 3); !ok {
		t.Fatal("Detach refused")
	}
	waitFor(t, 3*time.Second, "session expires", func() bool {
		_, ok, err := b.Get(ctx, "u1")
		return !ok && err == nil
	})
	if _, ok, err := b.Resume(ctx, "u1", "tok1", "tok2"); ok || err != nil {
		t.Fatalf("expired session resumed: %v, %v", ok, err)
	}
	// a's timer, a moment after the key's TTL ran out, still ends it: its
	// caller leaves the lobby (false made it skip the leave for good).
	if ok, err := a.Expire(ctx, "u1", "s1"); !ok || err != nil {
		t.Fatalf("Expire after the key ran out = %v, %v; want true", ok, err)
	}
}

// A dead shard's sessions get a deadline: the connected ones the resume
// grace from now, the ones already waiting what was left of theirs; the
// ones that moved away are left alone. Before its deadline an orphan
// resumes anywhere; after it, it cannot, and exactly one caller of
// DueOrphans gets it to end it (ExpireOrphan), unless it was resumed. Run
// twice (the chores retried), Orphan changes nothing. On one node and on a
// Redis Cluster.
func TestSessionsOrphan(t *testing.T) {
	onEachRedis(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ks := NewKeyspace(prefix)
		ctx := context.Background()
		const grace = 1500 * time.Millisecond
		a := NewSessions(rdb, ks, "a", grace)
		b := NewSessions(rdb, ks, "b", grace)
		for _, u := range []string{"u1", "u2", "u3", "u4"} {
			if _, _, err := a.Claim(ctx, u, "s-"+u, "t-"+u); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := b.Claim(ctx, "u3", "s-u3b", "t"); err != nil { // u3 moved to b
			t.Fatal(err)
		}
		if ok, err := a.Detach(ctx, "u4", "s-u4", 9); !ok || err != nil { // u4 was waiting for a resume
			t.Fatalf("Detach: %v, %v", ok, err)
		}
		orphans, err := b.Orphan(ctx, "a")
		if err != nil || len(orphans) != 3 {
			t.Fatalf("Orphan = %+v, %v; want u1, u2, u4", orphans, err)
		}
		slices.SortFunc(orphans, func(x, y Orphaned) int { return strings.Compare(x.UserID, y.UserID) })
		for i, want := range []struct {
			user      string
			connected bool
		}{{"u1", true}, {"u2", true}, {"u4", false}} {
			o := orphans[i]
			if o.UserID != want.user || o.SessionID != "s-"+want.user || o.Shard != "a" || o.WasConnected != want.connected || o.Deadline == 0 {
				t.Fatalf("orphan %d: %+v, want %s connected %v", i, o, want.user, want.connected)
			}
		}
		if again, err := b.Orphan(ctx, "a"); err != nil || len(again) != 0 {
			t.Fatalf("Orphan again: %+v, %v", again, err)
		}
		for _, u := range []string{"u1", "u2"} {
			if s, _, _ := b.Get(ctx, u); s.Connected || !s.Orphaned {
				t.Fatalf("%s after Orphan: %+v", u, s)
			}
		}
		prev, ok, err := b.Resume(ctx, "u1", "t-u1", "n1")
		if !ok || err != nil || !prev.Orphaned || prev.Shard != "a" {
			t.Fatalf("u1 cannot resume after its shard died: %+v %v %v", prev, ok, err)
		}
		if s, _, _ := b.Get(ctx, "u1"); !s.Connected || s.Orphaned || s.Shard != "b" {
			t.Fatalf("u1 resumed: %+v", s)
		}
		if s, _, _ := b.Get(ctx, "u3"); !s.Connected || s.Shard != "b" || s.Orphaned {
			t.Fatalf("u3 touched: %+v", s)
		}
		if n, _ := rdb.Exists(ctx, ks.shardSessions("a")).Result(); n != 0 {
			t.Fatal("dead shard's index left")
		}
		// The deadlines pass: every orphan is due, once.
		var due []Orphaned
		waitFor(t, 15*time.Second, "orphans due", func() bool {
			d, err := a.DueOrphans(ctx, 10)
			if err != nil {
				t.Fatal(err)
			}
			due = append(due, d...)
			return len(due) >= 3
		})
		if d, _ := b.DueOrphans(ctx, 10); len(d) != 0 || len(due) != 3 {
			t.Fatalf("due twice: %+v then %+v", due, d)
		}
		if _, ok, _ := b.Resume(ctx, "u2", "t-u2", "n2"); ok {
			t.Fatal("u2 resumed after its deadline")
		}
		for _, o := range due {
			ended, err := b.ExpireOrphan(ctx, o)
			if err != nil || ended != (o.UserID != "u1") {
				t.Fatalf("ExpireOrphan(%s) = %v, %v", o.UserID, ended, err)
			}
			if err := b.OrphanDone(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
		if _, ok, _ := b.Get(ctx, "u2"); ok {
			t.Fatal("u2's session not ended")
		}
		// A claim whose chores failed after its session ended is claimed
		// again: the session is gone, so the chores are redone; the
		// resumed one is still left alone.
		for _, o := range due {
			if ended, err := a.ExpireOrphan(ctx, o); err != nil || ended != (o.UserID != "u1") {
				t.Fatalf("ExpireOrphan(%s) again = %v, %v", o.UserID, ended, err)
			}
		}
		if n, _ := rdb.ZCard(ctx, ks.orphans()).Result(); n != 0 {
			t.Fatalf("%d orphans left", n)
		}
	})
}

// decodeOrphan reads back what encodeOrphan wrote, whatever bytes the ids
// hold, and refuses what it did not write.
func TestOrphanEncoding(t *testing.T) {
	for _, o := range []Orphaned{{SessionID: "s1", Shard: "host:8080", UserID: "u 1:x"}, {SessionID: "s", Shard: "", UserID: ""}} {
		got, ok := decodeOrphan(encodeOrphan(o))
		if !ok || got != o {
			t.Fatalf("%+v came back as %+v, %v", o, got, ok)
		}
	}
	for _, bad := range []string{"", "s", "s x:", "s 9:ab", "s -1:a"} {
		if _, ok := decodeOrphan(bad); ok {
			t.Fatalf("%q decoded", bad)
		}
	}
}

// TestBusDeliverEvent: an event for users on another shard reaches that
// shard's gateway, on one node and on Redis Cluster (sharded pub/sub).
func TestBusDeliverEvent(t *testing.T) {
	onEachRedis(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		sh := startShards(t, rdb, prefix, time.Minute, "a", "b")
		if err := sh[0].bus.DeliverEvent(context.Background(), "b", NewEventID(), []string{"u1", "u2"}, []byte("ev")); err != nil {
			t.Fatal(err)
		}
		select {
		case d := <-sh[1].gw.events:
			if len(d.users) != 2 || d.users[1] != "u2" || string(d.event) != "ev" {
				t.Fatalf("delivered %+v", d)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no delivery on b")
		}
		// Published again until ctx ends.
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		if err := sh[0].bus.DeliverEvent(ctx, "nobody", NewEventID(), []string{"u"}, []byte("ev")); !errors.Is(err, ErrShardUnreachable) {
			t.Fatalf("to a shard nobody runs: %v", err)
		}
	})
}

// TestBusDrain: an operator's drain of another shard reaches that shard's
// gateway (and only that one), on one node and on Redis Cluster; a drain
// of this shard calls its own gateway; one of a shard nobody runs is
// ErrShardUnreachable.
func TestBusDrain(t *testing.T) {
	onEachRedis(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		sh := startShards(t, rdb, prefix, time.Minute, "a", "b")
		ctx := context.Background()
		if err := sh[0].bus.Drain(ctx, "b"); err != nil {
			t.Fatal(err)
		}
		select {
		case <-sh[1].gw.drains:
		case <-time.After(10 * time.Second):
			t.Fatal("b was not told to drain")
		}
		if err := sh[0].bus.Drain(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		select {
		case <-sh[0].gw.drains:
		default:
			t.Fatal("a drain of this shard did not call its own gateway at once")
		}
		if len(sh[1].gw.drains) != 0 {
			t.Fatal("b told twice")
		}
		if err := sh[0].bus.Drain(ctx, "nobody"); !errors.Is(err, ErrShardUnreachable) {
			t.Fatalf("to a shard nobody runs: %v", err)
		}
	})
}

// TestBusDeliverEventPublishReplyLost: an event whose publish failed is
// published again, and reaches the other shard's gateway once, whether
// the failed publish had reached Redis (its reply lost: Redis published
// it, then died) or not (the connection broke first). Before, a failed
// publish was not tried again and the player never got its mm.matched
// (TestRedisRestartedWithData: 'forwarding an event ... err="cluster:
// bus: publish: EOF"', then 'match lobby … has players [q6]').
func TestBusDeliverEventPublishReplyLost(t *testing.T) {
	onEachRedis(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		hook := &lostReply{}
		rdb.AddHook(hook)
		sh := startShards(t, rdb, prefix, time.Minute, "a", "b")
		publish := isCommand("publish", "spublish")
		for _, c := range []struct {
			name string
			arm  func(int, func(redis.Cmder) bool)
		}{{"reply lost", hook.arm}, {"not sent", hook.armDrop}} {
			c.arm(1, publish)
			if err := sh[0].bus.DeliverEvent(context.Background(), "b", NewEventID(), []string{"u1"}, []byte(c.name)); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if hook.lostCount() == 0 {
				t.Fatalf("%s: the hook failed no publish", c.name)
			}
			hook.reset()
			select {
			case d := <-sh[1].gw.events:
				if string(d.event) != c.name {
					t.Fatalf("%s: delivered %q", c.name, d.event)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: no delivery on b", c.name)
			}
			select {
			case d := <-sh[1].gw.events:
				t.Fatalf("%s: delivered twice (then %q)", c.name, d.event)
			case <-time.After(300 * time.Millisecond):
			}
		}
	})
}

// The receiving shard drops a copy of an event it delivered, by id, for
// deliverDedupFor, and forgets the ids after that.
func TestBusFirstCopy(t *testing.T) {
	b := NewBus(nil, NewKeyspace("x:"), "a", newFakeShard(), BusOptions{})
	t0 := time.Now()
	if !b.firstCopy(7, t0) || b.firstCopy(7, t0.Add(time.Second)) {
		t.Fatal("a second copy within the window was not dropped")
	}
	if !b.firstCopy(0, t0) || !b.firstCopy(0, t0) {
		t.Fatal("id 0 (no id) must always be delivered")
	}
	if !b.firstCopy(8, t0.Add(deliverDedupFor+2*time.Second)) || !b.firstCopy(7, t0.Add(deliverDedupFor+2*time.Second)) {
		t.Fatal("ids older than the window are kept")
	}
	if len(b.seen) != 2 || len(b.seenList) != 2 {
		t.Fatalf("remembered %d ids (%d listed), want 2", len(b.seen), len(b.seenList))
	}
}

// A session whose key's TTL (the grace) ran out before its shard's timer
// ended it, on a shard that then stops or dies, is an orphan due at once
// (Ended): its chores run at the next claim. A user who has a session
// again by then is left alone, at Orphan or at ExpireOrphan.
func TestOrphanOfASessionWhoseKeyRanOut(t *testing.T) {
	onEachRedis(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ks := NewKeyspace(prefix)
		ctx := context.Background()
		a := NewSessions(rdb, ks, "a", 50*time.Millisecond)
		b := NewSessions(rdb, ks, "b", time.Minute)
		for _, u := range []string{"u1", "u2", "u3"} {
			if _, _, err := a.Claim(ctx, u, "s-"+u, "t-"+u); err != nil {
				t.Fatal(err)
			}
			if ok, err := a.Detach(ctx, u, "s-"+u, 4); !ok || err != nil {
				t.Fatalf("Detach %s: %v, %v", u, ok, err)
			}
		}
		waitFor(t, 5*time.Second, "the detached sessions' keys to expire", func() bool {
			for _, u := range []string{"u1", "u2", "u3"} { // one key a call: a Redis Cluster has them in three slots
				if n, err := rdb.Exists(ctx, ks.sessionKey(u)).Result(); err != nil || n != 0 {
					return false
				}
			}
			return true
		})
		if _, _, err := b.Claim(ctx, "u2", "s-u2b", "t"); err != nil { // u2 came back on b first
			t.Fatal(err)
		}
		orphans, err := b.Orphan(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(orphans, func(x, y Orphaned) int { return strings.Compare(x.UserID, y.UserID) })
		if len(orphans) != 2 || orphans[0].UserID != "u1" || orphans[1].UserID != "u3" {
			t.Fatalf("Orphan = %+v, want u1 and u3", orphans)
		}
		for _, o := range orphans {
			if !o.Ended || o.SessionID != "" || o.WasConnected || o.Shard != "a" {
				t.Fatalf("orphan %+v: want ended, no session id", o)
			}
		}
		due, err := b.DueOrphans(ctx, 10)
		if err != nil || len(due) != 2 {
			t.Fatalf("due at once: %+v, %v", due, err)
		}
		if _, _, err := b.Claim(ctx, "u3", "s-u3b", "t"); err != nil { // u3 came back before the chores
			t.Fatal(err)
		}
		for _, o := range due {
			ended, err := b.ExpireOrphan(ctx, o)
			if err != nil || ended != (o.UserID == "u1") {
				t.Fatalf("ExpireOrphan(%s) = %v, %v", o.UserID, ended, err)
			}
		}
		for _, u := range []string{"u2", "u3"} {
			if s, ok, _ := b.Get(ctx, u); !ok || s.Shard != "b" {
				t.Fatalf("%s's new session touched: %+v %v", u, s, ok)
			}
		}
	})
}
