package cluster

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/internal/redistest"
	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

// recSink is a RecordingSink that numbers each user's events as a
// gateway's sessions do (session "S-<user>", seq from 1) and remembers
// them, so a test can check that a resume placed by the delivery record
// replays exactly what a session numbered after the client's last seq.
type recSink struct {
	mu       sync.Mutex
	seq      map[string]uint64
	got      map[string][]string // user → "offset name text" per seq (index seq-1)
	held     map[string]int      // user → frames waiting for their record
	released int
}

func newRecSink() *recSink {
	return &recSink{seq: map[string]uint64{}, got: map[string][]string{}, held: map[string]int{}}
}

func (r *recSink) number(ev *lobby.Event, u string) uint64 {
	r.seq[u]++
	r.got[u] = append(r.got[u], fmt.Sprint(ev.Version>>32, " ", ev.Name, " ", ev.Text))
	return r.seq[u]
}

func (r *recSink) Deliver(ev *lobby.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range ev.To {
		r.number(ev, u)
	}
}

func (r *recSink) DeliverRecorded(ev *lobby.Event, d *Delivery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range ev.To {
		r.hold(d, u, ev.Version>>32, r.number(ev, u))
	}
}

// hold puts u's event (off, seq) in d's record; its frame waits for it.
func (r *recSink) hold(d *Delivery, u string, off, seq uint64) {
	p := d.Session(u, "S-"+u)
	p.Events = append(p.Events, off, seq)
	r.held[u]++
}

func (r *recSink) Positions(d *Delivery, users []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range users {
		d.Session(u, "S-"+u)
	}
	for i := range d.Sessions {
		d.Sessions[i].After = r.seq[d.Sessions[i].User]
	}
}

func (r *recSink) Release(d *Delivery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range d.Sessions {
		r.held[p.User] -= len(p.Events) / 2
	}
	r.released++
}

func (r *recSink) events(u string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got[u])
}

func (r *recSink) waiting(u string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.held[u]
}

// replayFrom is what a shard that resumes u's session after last would
// number: the lobby's events for u after the offset ResumePoint gives.
func replayFrom(t *testing.T, s *LobbyStore, lobbyID, shard, user string, last uint64) ([]string, error) {
	t.Helper()
	off, err := s.ResumePoint(t.Context(), lobbyID, shard, "S-"+user, user, last)
	if err != nil {
		return nil, err
	}
	var out []string
	err = s.EventsAfter(t.Context(), lobbyID, versionAt(off), func(ev *lobby.Event) {
		if slices.Contains(ev.To, user) {
			out = append(out, fmt.Sprint(ev.Version>>32, " ", ev.Name, " ", ev.Text))
		}
	})
	return out, err
}

// A lobby split over a and b: for every last seq a client of a's member
// can have, the record of a places it so that the replay from the log is
// exactly what a numbered for the member after that seq: nothing missing,
// nothing twice. The frames wait for their record (the sink's Release).
func TestDeliveryRecordPlacesEveryLastSeq(t *testing.T) {
	c, prefix := redistest.Client(t)
	sa, sb := newRecSink(), newRecSink()
	a := newTestStore(t, c, prefix, "a", sa, LobbyOptions{})
	b := newTestStore(t, c, prefix, "b", sb, LobbyOptions{})
	ctx := t.Context()
	v := mustCreate(t, a, "host", 8)
	mustJoin(t, a, "pa", v.ID)
	mustJoin(t, b, "pb", v.ID)
	for i := range 20 {
		s, who := b, "pb"
		if i%3 == 0 {
			s, who = a, "host"
		}
		if err := s.Chat(ctx, who, fmt.Sprint("c", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.SetMember(ctx, "pb", protocol.SetMember{Ready: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "every event numbered on a and its record in", func() bool {
		return len(sa.events("pa")) == 22 && sa.waiting("pa") == 0 && sa.waiting("host") == 0
	})
	got := sa.events("pa") // member_joined pb, 20 chats, member_updated
	for last := range uint64(len(got) + 1) {
		replay, err := replayFrom(t, b, v.ID, "a", "pa", last)
		if err != nil {
			t.Fatalf("last seq %d: %v", last, err)
		}
		if !slices.Equal(replay, got[last:]) {
			t.Fatalf("last seq %d: replay %v\nwant %v", last, replay, got[last:])
		}
	}
	// The host's position covers its own join's message (nothing for it
	// there): a client that has seen nothing is owed everything after.
	replay, err := replayFrom(t, b, v.ID, "a", "host", 0)
	if err != nil || !slices.Equal(replay, sa.events("host")) {
		t.Fatalf("host from 0: %v %v, want %v", replay, err, sa.events("host"))
	}
	// A session the record does not know, and a shard that kept none.
	if _, err := b.ResumePoint(ctx, v.ID, "a", "S-nobody", "nobody", 3); !errors.Is(err, ErrNoResumePoint) {
		t.Fatalf("unknown session: %v", err)
	}
	if _, err := a.ResumePoint(ctx, v.ID, "c", "S-pa", "pa", 3); !errors.Is(err, ErrNoResumePoint) {
		t.Fatalf("no record: %v", err)
	}
	// Once its record is in, a lobby keeps no delivery: its idle players
	// pay nothing for its last message (docs/architecture.md, "Memory per
	// idle player"). The follower's sweep lets go within a tick.
	for _, s := range []*LobbyStore{a, b} {
		waitFor(t, 10*time.Second, "the lobby's last delivery let go on "+s.shard, func() bool {
			s.f.mu.RLock()
			fl := s.f.lobbies[v.ID]
			s.f.mu.RUnlock()
			fl.mu.Lock()
			defer fl.mu.Unlock()
			return fl.lastDone == nil
		})
	}
}

// When the log or the record no longer reaches back to the client's place
// the resume is refused (the gateway then starts a new session, resumed:
// false, as documented in docs/failures.md).
func TestDeliveryRecordTrimmed(t *testing.T) {
	c, prefix := redistest.Client(t)
	sa := newRecSink()
	a := newTestStore(t, c, prefix, "a", sa, LobbyOptions{})
	b := newTestStore(t, c, prefix, "b", newRecSink(), LobbyOptions{})
	ctx := t.Context()
	v := mustCreate(t, a, "host", 8)
	mustJoin(t, a, "pa", v.ID)
	mustJoin(t, b, "pb", v.ID)
	for i := range 10 {
		if err := b.Chat(ctx, "pb", fmt.Sprint("c", i)); err != nil {
			t.Fatal(err)
		}
		// One record entry per chat on a: a's write of one chat's record
		// must not carry the next ones too (a lane writes everything
		// queued meanwhile), or the two entries kept below could still
		// place seq 2.
		waitFor(t, 10*time.Second, "the chat numbered on a and recorded", func() bool {
			return len(sa.events("pa")) == 2+i && sa.waiting("pa") == 0
		})
	}
	// The log trimmed past the client's place: EventsAfter says so.
	ks := NewKeyspace(prefix)
	if err := c.XTrimMaxLen(ctx, ks.lobbyLog(v.ID), 3).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := replayFrom(t, b, v.ID, "a", "pa", 2); !errors.Is(err, ErrLogTrimmed) {
		t.Fatalf("log trimmed: %v, want ErrLogTrimmed", err)
	}
	if replay, err := replayFrom(t, b, v.ID, "a", "pa", 10); err != nil || len(replay) != 1 {
		t.Fatalf("last seq 10 of 11, within the log: %v %v", replay, err)
	}
	// The record trimmed past it: ResumePoint says so.
	if err := c.XTrimMaxLen(ctx, ks.lobbyDeliveries(v.ID), 2).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ResumePoint(ctx, v.ID, "a", "S-pa", "pa", 2); !errors.Is(err, ErrNoResumePoint) {
		t.Fatalf("record trimmed: %v, want ErrNoResumePoint", err)
	}
	// No TTL while the lobby lives (MAXLEN bounds it), recordGoneTTL once
	// it is deleted.
	key := ks.lobbyDeliveries(v.ID)
	if n, err := c.TTL(ctx, key).Result(); err != nil || n != -1 {
		t.Fatalf("the record's TTL while the lobby lives: %v %v", n, err)
	}
	if err := b.Close(ctx, v.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the lobby's records to expire with it", func() bool {
		n, err := c.TTL(ctx, key).Result()
		return err == nil && n > 0 && n <= recordGoneTTL && sa.waiting("pa") == 0
	})
}

// The scan over a record, on records made by hand: an earlier stay of the
// session on the shard is not mixed with the current one, a client behind
// its arrival is refused, and a client exactly at its arrival goes on from
// the offset the arrival covered.
func TestResumeScanStays(t *testing.T) {
	rec := []recordEntry{ // oldest first
		{Last: 3, Sessions: []SessionDelivery{{ID: "s", After: 5, Arrived: 0, Events: []uint64{3, 5}}}},
		{Last: 9, Sessions: []SessionDelivery{{ID: "s", After: 12, Arrived: 10, ArrivedIn: true, ArrivedAt: 7, Events: []uint64{8, 11, 9, 12}}}},
		{Last: 11, Sessions: []SessionDelivery{{ID: "x", After: 1}, {ID: "s", After: 14, Arrived: 10, ArrivedIn: true, ArrivedAt: 7, Events: []uint64{11, 14}}}},
	}
	scan := func(last uint64) (uint64, bool) {
		var sc resumeScan
		for i := len(rec) - 1; i >= 0; i-- {
			if pl, ok, done := sc.step(&rec[i], "s", last); done {
				return pl.off, ok
			}
		}
		pl, ok, _ := sc.finish(last)
		return pl.off, ok
	}
	for _, c := range []struct {
		last uint64
		off  uint64
		ok   bool
	}{
		{14, 11, true}, {13, 9, true}, {12, 9, true}, {11, 8, true},
		{10, 7, true},  // at the arrival: from what it covered
		{9, 0, false},  // behind the arrival: what it numbered is in no record
		{5, 0, false},  // the earlier stay's seqs are not this stay's
		{20, 11, true}, // further than the record: matchmaking events it had
	} {
		if off, ok := scan(c.last); off != c.off || ok != c.ok {
			t.Errorf("last seq %d: %d %v, want %d %v", c.last, off, ok, c.off, c.ok)
		}
	}
}

// TestDeliveryRecordCost measures what the delivery records add to a
// lobby.send in a lobby of 8 split 4/4 over two shards (docs/cluster.md,
// the cost table): the commands each shard sends and Redis runs, the
// records included, once both shards' records are in. It fails if a
// shard pays more than one command for its record of one message, or if a
// same-shard send pays any.
func TestDeliveryRecordCost(t *testing.T) {
	srv := redistest.Server(t)
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { admin.Close() })
	var st [2]*LobbyStore
	var cnt [2]*cmdCounter
	var sinks [2]*recSink
	for i := range st {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr})
		t.Cleanup(func() { c.Close() })
		cnt[i], sinks[i] = &cmdCounter{}, newRecSink()
		c.AddHook(cnt[i])
		st[i] = newTestStore(t, c, "t:", string(rune('a'+i)), sinks[i], LobbyOptions{})
	}
	ctx := t.Context()
	v := mustCreate(t, st[0], "a0", 8)
	for i := 1; i < 8; i++ {
		mustJoin(t, st[i%2], fmt.Sprint("u", i), v.ID)
	}
	settled := func() bool {
		for _, s := range sinks {
			s.mu.Lock()
			for _, n := range s.held {
				if n != 0 {
					s.mu.Unlock()
					return false
				}
			}
			s.mu.Unlock()
		}
		return true
	}
	waitFor(t, 5e9, "both shards to follow the 8 members", func() bool {
		d, _, ok := st[0].f.copyOf(v.ID)
		return ok && len(d.Members) == 8 && settled()
	})
	if err := st[0].Send(ctx, "a0", []byte{0}, nil); err != nil { // warm: the scripts loaded
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the warm-up recorded", settled)
	a0, _ := cnt[0].read()
	b0, _ := cnt[1].read()
	s0 := serverCalls(t, admin)
	const sends = 20
	for i := range sends {
		if err := st[0].Send(ctx, "a0", []byte{byte(i)}, nil); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "the send recorded on both shards", settled) // one message a write: no batching
	}
	a1, _ := cnt[0].read()
	b1, _ := cnt[1].read()
	s1 := serverCalls(t, admin)
	perSend := func(n int64) float64 { return float64(n) / sends }
	t.Logf("split lobby.send with records, per send: acting shard sends %.2f commands, the other shard %.2f, Redis runs %.2f (7 delivered)",
		perSend(a1-a0), perSend(b1-b0), perSend(s1-s0))
	// A stray command (a TTL refresh, a gap read) is allowed for.
	if perSend(a1-a0) > 2.1 || perSend(b1-b0) > 1.1 {
		t.Errorf("records cost more than one command per message per shard: a %.2f (commit included), b %.2f", perSend(a1-a0), perSend(b1-b0))
	}
	// Same-shard sends: none, records or not.
	w := mustCreate(t, st[1], "solo", 2)
	mustJoin(t, st[1], "solo2", w.ID)
	waitFor(t, 10*time.Second, "solo's lobby recorded", settled)
	c0, _ := cnt[1].read()
	if err := st[1].Send(ctx, "solo", []byte{1}, nil); err != nil {
		t.Fatal(err)
	}
	if c1, _ := cnt[1].read(); c1 != c0 {
		t.Errorf("a same-shard send cost %d commands", c1-c0)
	}
}

// A shard keeps a followed per lobby with a member here: it stays in its
// size class (docs/architecture.md, "Memory per idle player"). 192 since
// the compact document's pointer (16 bytes a lobby, against ~700 that
// compacting saves).
func TestFollowedSize(t *testing.T) {
	if size := unsafe.Sizeof(followed{}); size > 192 {
		t.Fatalf("sizeof(followed) = %d, over 192", size)
	}
}
