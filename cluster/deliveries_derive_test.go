package cluster

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/lobbyd/lobbyd/internal/redistest"
	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

// deriveSink is recSink with the gateway's derived positions
// (SessionDelivery.Derive): an entry of a split lobby arms its user; once
// an armed user's entry is in Redis (Release) the user is pure, and its
// events of the lobby get no entry; an event no log holds (other) breaks
// an armed user first, its frame waiting for the break's entry.
type deriveSink struct {
	*recSink
	store *LobbyStore
	armed map[string]bool
	pure  map[string]bool
	arms  map[string]uint16
	last  map[string]uint64 // offset of the user's last lobby event
	lobby map[string]string
}

func newDeriveSink() *deriveSink {
	return &deriveSink{recSink: newRecSink(), armed: map[string]bool{}, pure: map[string]bool{},
		arms: map[string]uint16{}, last: map[string]uint64{}, lobby: map[string]string{}}
}

func (r *deriveSink) DeliverRecorded(ev *lobby.Event, d *Delivery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range ev.To {
		seq := r.number(ev, u)
		r.last[u], r.lobby[u] = ev.Version>>32, ev.LobbyID
		if !r.pure[u] { // pure: derived, no entry, nothing waits
			r.hold(d, u, ev.Version>>32, seq)
		}
	}
}

func (r *deriveSink) Positions(d *Delivery, users []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range users {
		if !r.pure[u] || d.Refresh {
			d.Session(u, "S-"+u)
		}
	}
	for i := range d.Sessions {
		p := &d.Sessions[i]
		p.After = r.seq[p.User]
		if !r.armed[p.User] && d.Split && r.last[p.User] <= d.Last {
			r.armed[p.User] = true
			r.arms[p.User]++
		}
		p.Derive, p.Arm = r.armed[p.User], r.arms[p.User]
	}
}

func (r *deriveSink) Release(d *Delivery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range d.Sessions {
		r.held[p.User] -= len(p.Events)/2 + len(p.Held)
		if p.Derive && r.armed[p.User] && r.arms[p.User] == p.Arm {
			r.pure[p.User] = true
		}
	}
	r.released++
}

// other numbers for u an event no lobby log holds (matchmaking's).
func (r *deriveSink) other(u string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seq := r.number(&lobby.Event{Name: "other"}, u)
	if !r.armed[u] {
		return
	}
	r.armed[u], r.pure[u] = false, false
	d := &Delivery{Lobby: r.lobby[u], Last: r.last[u]}
	p := d.Session(u, "S-"+u)
	p.After, p.Held = seq, []uint64{seq}
	r.held[u]++
	r.store.RecordBreak(d)
}

// derivedSplitLobby is a lobby made by host on shard a (a deriveSink),
// joined by pa on a and pb on b (a plain recording sink).
func derivedSplitLobby(t *testing.T) (*redis.Client, *deriveSink, *LobbyStore, *LobbyStore, protocol.LobbyView) {
	t.Helper()
	c, prefix := redistest.Client(t)
	sa := newDeriveSink()
	a := newTestStore(t, c, prefix, "a", sa, LobbyOptions{})
	sa.store = a
	b := newTestStore(t, c, prefix, "b", newRecSink(), LobbyOptions{})
	v := mustCreate(t, a, "host", 8)
	mustJoin(t, a, "pa", v.ID)
	mustJoin(t, b, "pb", v.ID)
	return c, sa, a, b, v
}

// A lobby split over a and b whose member on a numbers most of its events
// as derived (no entry of their own) and, twice, an event no log holds
// (a break): for every last seq the client can have, the record and the
// log place it so that the replay is exactly the lobby events it had not
// seen, and most of its events had no entry.
func TestDeliveryRecordDerivesPositions(t *testing.T) {
	c, sa, a, b, v := derivedSplitLobby(t)
	ctx := t.Context()
	const chats = 40
	for i := range chats {
		s, who := b, "pb"
		if i%4 == 0 {
			s, who = a, "host"
		}
		if err := s.Chat(ctx, who, fmt.Sprint("c", i)); err != nil {
			t.Fatal(err)
		}
		if i == 15 || i == 16 || i == 30 {
			sa.other("pa")
		}
		if i%5 == 0 { // let records land, so that pa turns pure
			waitFor(t, 10*time.Second, "pa's frames released", func() bool { return sa.waiting("pa") == 0 })
		}
	}
	got := sa.events("pa") // member_joined pb, the chats and three others
	want := chats + 4
	waitFor(t, 10*time.Second, "every event numbered on a and its record in", func() bool {
		got = sa.events("pa")
		return len(got) == want && sa.waiting("pa") == 0
	})
	for last := range uint64(len(got) + 1) {
		replay, err := replayFrom(t, b, v.ID, "a", "pa", last)
		if err != nil {
			t.Fatalf("last seq %d: %v", last, err)
		}
		var lobbyEvents []string
		for _, e := range got[last:] {
			if !strings.Contains(e, "other") {
				lobbyEvents = append(lobbyEvents, e)
			}
		}
		if !slices.Equal(replay, lobbyEvents) {
			t.Fatalf("last seq %d: replay %v\nwant %v", last, replay, lobbyEvents)
		}
	}
	// Most of pa's events had no entry: count the pairs a wrote for it.
	msgs, err := c.XRange(ctx, a.ks.lobbyDeliveries(v.ID), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	pairs := recordedPairs(t, msgs, "a", "S-pa")
	if pairs*2 > want {
		t.Fatalf("%d of pa's %d events have an entry: positions did not derive", pairs, want)
	}
	t.Logf("pa: %d events, %d with an entry of their own", want, pairs)
}

// recordedPairs counts the (offset, seq) pairs shard's record gives session.
func recordedPairs(t *testing.T, msgs []redis.XMessage, shard, session string) int {
	t.Helper()
	n := 0
	for _, m := range msgs {
		if m.Values["s"] != shard {
			continue
		}
		var entries []recordEntry
		if err := msgpack.Unmarshal([]byte(m.Values["r"].(string)), &entries); err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			for _, p := range e.Sessions {
				if p.ID == session {
					n += len(p.Events) / 2
				}
			}
		}
	}
	return n
}

// A break is written into its lobby's record only while that record
// exists: one written after the lobby was deleted and its record expired
// would make a stream that never expires.
func TestRecordBreakOnlyIntoAnExistingRecord(t *testing.T) {
	c, prefix := redistest.Client(t)
	sa := newDeriveSink()
	a := newTestStore(t, c, prefix, "a", sa, LobbyOptions{})
	sa.store = a
	ctx := t.Context()
	v := mustCreate(t, a, "host", 8)
	key := a.ks.lobbyDeliveries(v.ID)
	if err := a.Chat(ctx, "host", "hi"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the chat's record", func() bool { return c.Exists(ctx, key).Val() == 1 })
	before := c.XLen(ctx, key).Val()
	released := func() int {
		sa.mu.Lock()
		defer sa.mu.Unlock()
		return sa.released
	}
	for _, lobbyID := range []string{v.ID, "gone-lobby"} {
		n := released()
		d := &Delivery{Lobby: lobbyID, Last: 1}
		d.Session("host", "S-host").After = 9
		if !a.RecordBreak(d) {
			t.Fatal("no recorder")
		}
		waitFor(t, 10*time.Second, "the break released", func() bool { return released() > n })
	}
	if got := c.XLen(ctx, key).Val(); got != before+1 {
		t.Fatalf("the live lobby's record has %d entries, want %d", got, before+1)
	}
	if n := c.Exists(ctx, a.ks.lobbyDeliveries("gone-lobby")).Val(); n != 0 {
		t.Fatal("a break made a record for a lobby that has none")
	}
}

// A session whose positions derive gets an entry anyway each time the
// lobby's log passes a multiple of anchorEvery: after more events than the
// log keeps (~4096), its place is still found from an entry the log
// reaches, for a client that has everything and for one a few behind.
func TestDerivedPositionsRefreshedWithinTheLog(t *testing.T) {
	c, sa, a, b, v := derivedSplitLobby(t)
	ctx := t.Context()
	const chats = 4400 // past the log's ~4096
	for i := range chats {
		if err := b.Chat(ctx, "pb", fmt.Sprint("c", i)); err != nil {
			t.Fatal(err)
		}
	}
	want := chats + 1 // and member_joined pb
	var got []string
	waitFor(t, 30*time.Second, "every chat numbered on a", func() bool {
		got = sa.events("pa")
		return len(got) == want && sa.waiting("pa") == 0
	})
	if n, err := c.XLen(ctx, a.ks.lobbyLog(v.ID)).Result(); err != nil || n >= int64(want) {
		t.Fatalf("the log holds %d events (%v): the test needs it trimmed", n, err)
	}
	for _, last := range []uint64{uint64(want), uint64(want - 5), uint64(want - 700)} {
		replay, err := replayFrom(t, b, v.ID, "a", "pa", last)
		if err != nil {
			t.Fatalf("last seq %d of %d: %v", last, want, err)
		}
		if !slices.Equal(replay, got[last:]) {
			t.Fatalf("last seq %d: replay of %d events, want %d", last, len(replay), len(got[last:]))
		}
	}
	msgs, err := c.XRange(ctx, a.ks.lobbyDeliveries(v.ID), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	if n := recordedPairs(t, msgs, "a", "S-pa"); n*10 > want {
		t.Fatalf("%d of pa's %d events have an entry of their own", n, want)
	}
}
