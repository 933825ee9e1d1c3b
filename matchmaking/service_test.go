package matchmaking_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mm "github.com/lobbyd/lobbyd/matchmaking"
	"github.com/lobbyd/lobbyd/protocol"
)

// fakeLobbies keeps who is in which lobby and records CreateMatch calls.
type fakeLobbies struct {
	mu      sync.Mutex
	of      map[string]protocol.LobbyView
	created []mm.MatchLobbyParams
	fail    error // CreateMatch fails with it
	// LobbyOf fails with it
	failLookup error
	// unplayable users fail CheckPlayer, and CreateMatch with bad_request,
	// as a display name over the lobby's bound would.
	unplayable map[string]bool
}

var errUnplayable = protocol.NewError(protocol.CodeBadRequest, "name must be 1-32 characters of UTF-8")

func (f *fakeLobbies) CheckPlayer(p mm.Player) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.unplayable[p.UserID] {
		return errUnplayable
	}
	return nil
}

func (f *fakeLobbies) LobbyOf(_ context.Context, userID string) (protocol.LobbyView, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failLookup != nil {
		return protocol.LobbyView{}, false, f.failLookup
	}
	lv, ok := f.of[userID]
	return lv, ok, nil
}

func (f *fakeLobbies) CreateMatch(_ context.Context, p mm.MatchLobbyParams) (protocol.LobbyView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return protocol.LobbyView{}, f.fail
	}
	for _, m := range p.Members {
		if f.unplayable[m.UserID] {
			return protocol.LobbyView{}, errUnplayable
		}
	}
	f.created = append(f.created, p)
	lv := protocol.LobbyView{ID: "L-" + p.MatchID, Name: p.Name, Host: p.Members[0].UserID, Mode: p.Mode,
		Region: p.Region, Visibility: protocol.VisibilityPrivate, State: protocol.StateInGame, MaxPlayers: p.MaxPlayers}
	for _, m := range p.Members {
		lv.Members = append(lv.Members, protocol.Member{UserID: m.UserID, Name: m.Name, IsHost: m.UserID == p.Members[0].UserID})
	}
	return lv, nil
}

// lobby puts users into one lobby, users[0] its host.
func (f *fakeLobbies) lobby(id string, users ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	lv := protocol.LobbyView{ID: id, Host: users[0]}
	for _, u := range users {
		lv.Members = append(lv.Members, protocol.Member{UserID: u, Name: "name-" + u})
	}
	for _, u := range users {
		f.of[u] = lv
	}
}

// recSink records every event.
type recSink struct {
	mu  sync.Mutex
	evs []mm.Event
	ch  chan struct{}
}

func (r *recSink) Deliver(ev *mm.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, *ev)
	r.mu.Unlock()
	select {
	case r.ch <- struct{}{}:
	default:
	}
}

func (r *recSink) named(name string) []mm.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []mm.Event
	for _, e := range r.evs {
		if e.Name == name {
			out = append(out, e)
		}
	}
	return out
}

type harness struct {
	svc     *mm.Service
	store   *mm.MemoryStore
	lobbies *fakeLobbies
	sink    *recSink
	now     int64
}

func newHarness(t testing.TB, queues ...mm.QueueConfig) *harness {
	return newHarnessOpts(t, mm.Options{}, queues...)
}

func newHarnessOpts(t testing.TB, opts mm.Options, queues ...mm.QueueConfig) *harness {
	h := &harness{store: mm.NewMemoryStore(), lobbies: &fakeLobbies{of: map[string]protocol.LobbyView{}},
		sink: &recSink{ch: make(chan struct{}, 1)}}
	n := 0
	opts.Clock = func() int64 { return h.now }
	opts.NewID = func() string { n++; return fmt.Sprintf("id%d", n) }
	svc, err := mm.NewService(queues, h.store, h.lobbies, h.sink, opts)
	if err != nil {
		t.Fatal(err)
	}
	h.svc = svc
	return h
}

var bg = context.Background()

func skill(v float64) *float64 { return &v }

func (h *harness) enqueue(t *testing.T, user, queue string, sk float64, region string) protocol.Ticket {
	t.Helper()
	tk, err := h.svc.Enqueue(bg, mm.Player{UserID: user, Name: "name-" + user},
		protocol.Enqueue{Queue: queue, Skill: skill(sk), Region: region})
	if err != nil {
		t.Fatalf("Enqueue %s: %v", user, err)
	}
	return tk
}

func wantErr(t *testing.T, err error, code protocol.Code) {
	t.Helper()
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != code {
		t.Fatalf("err = %v, want %s", err, code)
	}
}

func TestServiceDuelMatch(t *testing.T) {
	h := newHarness(t)
	h.now = 1000
	a := h.enqueue(t, "a", "duel", 1000, "eu")
	h.now = 1200
	h.enqueue(t, "b", "duel", 1050, "eu")
	if a.State != protocol.TicketQueued || a.Queue != "duel" || !slices.Equal(a.Members, []string{"a"}) || a.CreatedAt != 1000 || a.Skill != 1000 || a.Region != "eu" {
		t.Fatalf("ticket %+v", a)
	}
	q := h.sink.named(protocol.EvQueued)
	if len(q) != 2 || !slices.Equal(q[0].To, []string{"a"}) || q[0].Ticket.ID != a.ID {
		t.Fatalf("mm.queued events %+v", q)
	}
	h.svc.MatchNow(bg)
	ms := h.sink.named(protocol.EvMatched)
	if len(ms) != 2 {
		t.Fatalf("%d mm.matched, want 2", len(ms))
	}
	if len(h.lobbies.created) != 1 {
		t.Fatalf("%d lobbies created", len(h.lobbies.created))
	}
	p := h.lobbies.created[0]
	if p.Mode != "duel" || p.Region != "eu" || p.MaxPlayers != 2 || p.Members[0] != (mm.Player{UserID: "a", Name: "name-a"}) || p.Members[1].UserID != "b" {
		t.Fatalf("CreateMatch params %+v", p)
	}
	for _, e := range ms {
		if e.MatchID != p.MatchID || e.Queue != "duel" || e.Lobby == nil || e.Lobby.State != protocol.StateInGame || len(e.Teams) != 2 {
			t.Fatalf("mm.matched %+v", e)
		}
	}
	if !slices.Equal(ms[0].To, []string{"a"}) || ms[0].TicketID != a.ID || !slices.Equal(ms[1].To, []string{"b"}) {
		t.Fatalf("mm.matched recipients %v %v", ms[0].To, ms[1].To)
	}
	st := h.svc.Stats()
	if st[0].Name != "duel" || st[0].Tickets != 0 || st[0].MatchesPerMin != 1 {
		t.Fatalf("stats %+v", st)
	}
	h.now += 61_000
	if st := h.svc.Stats(); st[0].MatchesPerMin != 0 {
		t.Fatalf("a match a minute ago still counted: %+v", st[0])
	}
	h.enqueue(t, "a", "duel", 1000, "eu") // matched players may queue again
}

func TestServiceWideningExactTime(t *testing.T) {
	h := newHarness(t)
	h.enqueue(t, "a", "duel", 1000, "")
	h.now = 5000
	h.enqueue(t, "b", "duel", 1300, "")
	// 300 apart; window 100 + 20/s of the oldest ticket (a, at 0) → 10 s.
	h.now = 9_999
	h.svc.MatchNow(bg)
	if n := len(h.sink.named(protocol.EvMatched)); n != 0 {
		t.Fatal("matched 1 ms early")
	}
	if st := h.svc.Stats(); st[0].Tickets != 2 || st[0].Players != 2 || st[0].OldestWaitMs != 9_999 {
		t.Fatalf("stats %+v", st[0])
	}
	h.now = 10_000
	h.svc.MatchNow(bg)
	if n := len(h.sink.named(protocol.EvMatched)); n != 2 {
		t.Fatalf("%d mm.matched at 10 s, want 2", n)
	}
}

func TestServicePartyOnOneSquadTeam(t *testing.T) {
	h := newHarness(t)
	h.lobbies.lobby("L1", "host", "friend")
	tk, err := h.svc.Enqueue(bg, mm.Player{UserID: "host", Name: "H"}, protocol.Enqueue{Queue: "squad", Skill: skill(1500), Region: "eu", Party: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tk.Members, []string{"host", "friend"}) || tk.Skill != 1500 || tk.Region != "eu" {
		t.Fatalf("party ticket %+v", tk)
	}
	if q := h.sink.named(protocol.EvQueued); len(q) != 1 || !slices.Equal(q[0].To, []string{"host", "friend"}) {
		t.Fatalf("mm.queued %+v", q)
	}
	h.enqueue(t, "x", "squad", 1550, "eu")
	h.enqueue(t, "y", "squad", 1450, "eu")
	h.svc.MatchNow(bg)
	ms := h.sink.named(protocol.EvMatched)
	if len(ms) != 3 {
		t.Fatalf("%d mm.matched, want 3 (one per ticket)", len(ms))
	}
	if !slices.Equal(ms[0].To, []string{"host", "friend"}) {
		t.Fatalf("party event to %v", ms[0].To)
	}
	together := false
	for _, team := range ms[0].Teams {
		together = together || slices.Contains(team, "host") && slices.Contains(team, "friend")
	}
	if !together {
		t.Fatalf("party split across %v", ms[0].Teams)
	}
	if p := h.lobbies.created[0]; p.Members[1] != (mm.Player{UserID: "friend", Name: "name-friend"}) || p.MaxPlayers != 4 {
		t.Fatalf("match lobby %+v", p)
	}
}

func TestServiceEnqueueErrors(t *testing.T) {
	h := newHarness(t)
	h.lobbies.lobby("L1", "host", "m1")
	h.lobbies.lobby("L2", "big", "b1", "b2")
	h.enqueue(t, "queued", "duel", 0, "")
	long := strings.Repeat("r", mm.MaxRegionLen+1)
	attrs := protocol.Attrs{}
	for i := range protocol.MaxAttrs + 1 {
		attrs[fmt.Sprint("k", i)] = i
	}
	tests := []struct {
		name string
		user string
		req  protocol.Enqueue
		code protocol.Code
	}{
		{"unknown queue", "u", protocol.Enqueue{Queue: "nope"}, protocol.CodeQueueUnknown},
		{"already queued same queue", "queued", protocol.Enqueue{Queue: "duel"}, protocol.CodeAlreadyQueued},
		{"already queued other queue", "queued", protocol.Enqueue{Queue: "squad"}, protocol.CodeAlreadyQueued},
		{"NaN skill", "u", protocol.Enqueue{Queue: "duel", Skill: skill(math.NaN())}, protocol.CodeBadRequest},
		{"Inf skill", "u", protocol.Enqueue{Queue: "duel", Skill: skill(math.Inf(-1))}, protocol.CodeBadRequest},
		{"huge skill", "u", protocol.Enqueue{Queue: "duel", Skill: skill(2e9)}, protocol.CodeBadRequest},
		{"long region", "u", protocol.Enqueue{Queue: "duel", Region: long}, protocol.CodeBadRequest},
		{"bad utf8 region", "u", protocol.Enqueue{Queue: "duel", Region: "\xff"}, protocol.CodeBadRequest},
		{"too many attrs", "u", protocol.Enqueue{Queue: "duel", Attrs: attrs}, protocol.CodeBadRequest},
		{"party not in lobby", "u", protocol.Enqueue{Queue: "squad", Party: true}, protocol.CodeNotInLobby},
		{"party not host", "m1", protocol.Enqueue{Queue: "squad", Party: true}, protocol.CodeNotHost},
		{"party over max_party", "big", protocol.Enqueue{Queue: "squad", Party: true}, protocol.CodeBadRequest},
		{"party on a solo queue", "host", protocol.Enqueue{Queue: "duel", Party: true}, protocol.CodeBadRequest},
		{"no user", "", protocol.Enqueue{Queue: "duel"}, protocol.CodeBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.svc.Enqueue(bg, mm.Player{UserID: tc.user}, tc.req)
			wantErr(t, err, tc.code)
		})
	}
	// A party with a member already queued is refused as a whole.
	h.enqueue(t, "m1", "duel", 0, "")
	_, err := h.svc.Enqueue(bg, mm.Player{UserID: "host"}, protocol.Enqueue{Queue: "squad", Party: true})
	wantErr(t, err, protocol.CodeAlreadyQueued)
	if _, err := h.store.ByUser(bg, "host"); err == nil {
		t.Fatal("host queued by a refused party ticket")
	}
	if n := len(h.sink.named(protocol.EvQueued)); n != 2 {
		t.Fatalf("%d mm.queued, want 2 (refusals send none)", n)
	}
}

func TestServiceRegions(t *testing.T) {
	relax := mm.DefaultQueues()[0]
	relax.Name = "relax"
	relax.RegionRelaxAfterMs = 5000
	h := newHarness(t, mm.DefaultQueues()[0], relax)
	h.enqueue(t, "a", "duel", 1000, "eu")
	h.enqueue(t, "b", "duel", 1000, "us")
	h.enqueue(t, "c", "relax", 1000, "eu")
	h.now = 1000
	h.enqueue(t, "d", "relax", 1000, "us")
	h.now = 4_999
	h.svc.MatchNow(bg)
	if n := len(h.sink.named(protocol.EvMatched)); n != 0 {
		t.Fatalf("regions mixed before relaxing: %d events", n)
	}
	h.now = 5_000
	h.svc.MatchNow(bg)
	ms := h.sink.named(protocol.EvMatched)
	if len(ms) != 2 || ms[0].Queue != "relax" {
		t.Fatalf("after relaxing: %+v", ms)
	}
	if p := h.lobbies.created[0]; p.Region != "eu" {
		t.Fatalf("match region %q, want the oldest ticket's (eu) on a tie", p.Region)
	}
	if st := h.svc.Stats(); st[0].Tickets != 2 {
		t.Fatalf("strict duel tickets matched across regions: %+v", st)
	}
}

func TestServiceTimeout(t *testing.T) {
	h := newHarness(t)
	tk := h.enqueue(t, "a", "duel", 1000, "")
	h.now = mm.DefaultTimeoutMs - 1
	h.svc.MatchNow(bg)
	if n := len(h.sink.named(protocol.EvTicketCancelled)); n != 0 {
		t.Fatal("cancelled before timeout_ms")
	}
	h.now = mm.DefaultTimeoutMs
	h.enqueue(t, "b", "duel", 1000, "") // a fresh partner does not save a timed-out ticket
	h.svc.MatchNow(bg)
	cs := h.sink.named(protocol.EvTicketCancelled)
	if len(cs) != 1 || cs[0].TicketID != tk.ID || cs[0].Reason != protocol.ReasonTimeout || !slices.Equal(cs[0].To, []string{"a"}) {
		t.Fatalf("mm.cancelled %+v", cs)
	}
	if len(h.sink.named(protocol.EvMatched)) != 0 {
		t.Fatal("a timed-out ticket was matched")
	}
}

func TestServiceCancel(t *testing.T) {
	h := newHarness(t)
	h.lobbies.lobby("L", "host", "mate")
	tk := h.enqueue(t, "a", "duel", 0, "")
	wantErr(t, h.svc.Cancel(bg, "mallory", tk.ID), protocol.CodeNotFound)
	wantErr(t, h.svc.Cancel(bg, "a", "no-such"), protocol.CodeNotFound)
	if err := h.svc.Cancel(bg, "a", tk.ID); err != nil {
		t.Fatal(err)
	}
	wantErr(t, h.svc.Cancel(bg, "a", tk.ID), protocol.CodeNotFound)
	cs := h.sink.named(protocol.EvTicketCancelled)
	if len(cs) != 1 || cs[0].Reason != protocol.ReasonCancelled || cs[0].TicketID != tk.ID || !slices.Equal(cs[0].To, []string{"a"}) {
		t.Fatalf("mm.cancelled %+v", cs)
	}
	// Any party member may cancel the party's ticket; all members are told.
	pt, err := h.svc.Enqueue(bg, mm.Player{UserID: "host"}, protocol.Enqueue{Queue: "squad", Party: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.svc.Cancel(bg, "mate", pt.ID); err != nil {
		t.Fatal(err)
	}
	if cs := h.sink.named(protocol.EvTicketCancelled); len(cs) != 2 || !slices.Equal(cs[1].To, []string{"host", "mate"}) {
		t.Fatalf("party cancel events %+v", cs)
	}
}

func TestServiceCancelUser(t *testing.T) {
	h := newHarness(t)
	h.lobbies.lobby("L", "host", "mate")
	pt, err := h.svc.Enqueue(bg, mm.Player{UserID: "host"}, protocol.Enqueue{Queue: "squad", Party: true})
	if err != nil {
		t.Fatal(err)
	}
	h.svc.CancelUser(bg, "nobody", "")
	h.svc.CancelUser(bg, "mate", "")
	cs := h.sink.named(protocol.EvTicketCancelled)
	if len(cs) != 1 || cs[0].TicketID != pt.ID || cs[0].Reason != protocol.ReasonDisconnected || !slices.Equal(cs[0].To, []string{"host", "mate"}) {
		t.Fatalf("mm.cancelled %+v", cs)
	}
	if st := h.svc.Stats(); st[1].Tickets != 0 {
		t.Fatalf("ticket left: %+v", st[1])
	}
}

// A lobby store that cannot answer is not "not in a lobby": its error
// reaches the caller (who logs it and answers internal).
func TestServicePartyLookupFailure(t *testing.T) {
	h := newHarness(t)
	h.lobbies.lobby("L1", "host", "mate")
	down := errors.New("lobby store down")
	h.lobbies.failLookup = down
	_, err := h.svc.Enqueue(bg, mm.Player{UserID: "host"}, protocol.Enqueue{Queue: "squad", Party: true})
	if !errors.Is(err, down) {
		t.Fatalf("Enqueue with the lobby store down: %v, want its error", err)
	}
	if n := len(h.sink.named(protocol.EvQueued)); n != 0 {
		t.Fatalf("%d mm.queued for a refused ticket", n)
	}
}

func TestServiceCreateMatchFailureRequeues(t *testing.T) {
	h := newHarness(t)
	h.lobbies.fail = errors.New("lobby store down")
	a := h.enqueue(t, "a", "duel", 0, "")
	h.enqueue(t, "b", "duel", 0, "")
	h.svc.MatchNow(bg)
	if len(h.sink.named(protocol.EvMatched)) != 0 || len(h.sink.named(protocol.EvTicketCancelled)) != 0 {
		t.Fatal("events for a match that failed")
	}
	got, err := h.store.Get(bg, a.ID)
	if err != nil || got.CreatedAt != a.CreatedAt {
		t.Fatalf("ticket not requeued in place: %+v, %v", got, err)
	}
	h.lobbies.fail = nil
	h.svc.MatchNow(bg)
	if n := len(h.sink.named(protocol.EvMatched)); n != 2 {
		t.Fatalf("%d mm.matched after recovery", n)
	}
}

// A match lobby whose creation the store cannot settle (its write's reply
// lost, Redis down for longer than it reads back: ErrMatchUnknown) may
// exist with the players in it. Its tickets must not go back in the queue,
// where they would be matched a second time (TestRedisRestartedWithData:
// "q7 matched 2 times"); they are cancelled.
func TestServiceCreateMatchUnknownCancels(t *testing.T) {
	var logs strings.Builder
	h := newHarnessOpts(t, mm.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	h.lobbies.fail = fmt.Errorf("%w: EOF", mm.ErrMatchUnknown)
	a := h.enqueue(t, "a", "duel", 0, "")
	b := h.enqueue(t, "b", "duel", 0, "")
	h.svc.MatchNow(bg)
	if n := len(h.sink.named(protocol.EvMatched)); n != 0 {
		t.Fatalf("%d mm.matched for a match whose lobby may not exist", n)
	}
	c := h.sink.named(protocol.EvTicketCancelled)
	if len(c) != 2 || c[0].Reason != protocol.ReasonCancelled {
		t.Fatalf("mm.cancelled events %+v, want one per ticket", c)
	}
	for _, id := range []string{a.ID, b.ID} {
		if _, err := h.store.Get(bg, id); err == nil {
			t.Fatalf("ticket %s back in the queue", id)
		}
	}
	h.lobbies.fail = nil
	h.svc.MatchNow(bg)
	if n := len(h.lobbies.created); n != 0 {
		t.Fatalf("%d match lobbies made from cancelled tickets", n)
	}
	if !strings.Contains(logs.String(), "outcome unknown") {
		t.Errorf("not logged: %s", logs.String())
	}
}

// A ticket whose lobby can never be built (a player the lobby refuses) used
// to be requeued by every pass, so its partner was never matched and the
// log got an ERROR line per pass. Enqueue refuses such a player now; and a
// ticket that gets into the store anyway is cancelled at its first failed
// match while its partner goes back to the queue and is matched next.
func TestServiceUnplayableTicketIsCancelledNotRetried(t *testing.T) {
	var logs strings.Builder
	h := newHarnessOpts(t, mm.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	h.lobbies.unplayable = map[string]bool{"bad": true}
	if _, err := h.svc.Enqueue(bg, mm.Player{UserID: "bad"}, protocol.Enqueue{Queue: "duel"}); !errors.Is(err, errUnplayable) {
		t.Fatalf("enqueue of an unplayable player: %v", err)
	}
	// As a stale entry or another shard's older code could leave it:
	bad := mm.Ticket{ID: "bad-ticket", Queue: "duel", Members: []string{"bad"}, Names: []string{""}}
	if err := h.store.Add(bg, bad); err != nil {
		t.Fatal(err)
	}
	good := h.enqueue(t, "good", "duel", 0, "")
	for range 5 {
		h.svc.MatchNow(bg)
	}
	cs := h.sink.named(protocol.EvTicketCancelled)
	if len(cs) != 1 || cs[0].TicketID != "bad-ticket" || cs[0].Reason != protocol.ReasonCancelled {
		t.Fatalf("mm.cancelled %+v", cs)
	}
	if _, err := h.store.Get(bg, good.ID); err != nil {
		t.Fatalf("the partner's ticket was lost: %v", err)
	}
	h.enqueue(t, "other", "duel", 0, "")
	h.svc.MatchNow(bg)
	if n := len(h.sink.named(protocol.EvMatched)); n != 2 {
		t.Fatalf("%d mm.matched for the partner and a new player", n)
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 0 {
		t.Fatalf("%d ERROR lines:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), "can never be put in a lobby"); n != 1 {
		t.Fatalf("logged %d times, want once:\n%s", n, logs.String())
	}
}

// racyStore cancels a ticket right after the matcher's snapshot, as a
// player's mm.cancel racing the pass would.
type racyStore struct {
	*mm.MemoryStore
	victim string
}

func (r *racyStore) Waiting(ctx context.Context, q string, dst []mm.Ticket) ([]mm.Ticket, error) {
	out, err := r.MemoryStore.Waiting(ctx, q, dst)
	if r.victim != "" {
		r.MemoryStore.Remove(ctx, r.victim)
		r.victim = ""
	}
	return out, err
}

func TestServiceClaimLosesRace(t *testing.T) {
	store := &racyStore{MemoryStore: mm.NewMemoryStore()}
	sink := &recSink{ch: make(chan struct{}, 1)}
	lobbies := &fakeLobbies{of: map[string]protocol.LobbyView{}}
	svc, err := mm.NewService(nil, store, lobbies, sink, mm.Options{Clock: func() int64 { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := svc.Enqueue(bg, mm.Player{UserID: "a"}, protocol.Enqueue{Queue: "duel"})
	b, _ := svc.Enqueue(bg, mm.Player{UserID: "b"}, protocol.Enqueue{Queue: "duel"})
	store.victim = b.ID
	svc.MatchNow(bg)
	if len(lobbies.created) != 0 || len(sink.named(protocol.EvMatched)) != 0 {
		t.Fatal("a match was made with a cancelled ticket")
	}
	if _, err := store.Get(bg, a.ID); err != nil {
		t.Fatal("the surviving ticket was lost with the failed claim")
	}
}

func TestServiceRunMatches(t *testing.T) {
	sink := &recSink{ch: make(chan struct{}, 1)}
	svc, err := mm.NewService(nil, mm.NewMemoryStore(), &fakeLobbies{of: map[string]protocol.LobbyView{}}, sink,
		mm.Options{Tick: time.Hour}) // only the Enqueue wake-up can start the pass
	if err != nil {
		t.Fatal(err)
	}
	ctx := runService(t, svc)
	duelMatchedByRun(ctx, t, svc, sink, "Run did not match two waiting duel players")
}

// runService runs svc's matching loop until the test ends; its context
// is the loop's.
func runService(t *testing.T, svc *mm.Service) context.Context {
	ctx, cancel := context.WithCancel(bg)
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ctx
}

// duelMatchedByRun enqueues players a and b in duel and waits for the
// running matcher to tell both mm.matched; failing that, it fails with why.
func duelMatchedByRun(ctx context.Context, t *testing.T, svc *mm.Service, sink *recSink, why string) {
	t.Helper()
	for _, u := range []string{"a", "b"} {
		if _, err := svc.Enqueue(ctx, mm.Player{UserID: u}, protocol.Enqueue{Queue: "duel"}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.After(5 * time.Second)
	for len(sink.named(protocol.EvMatched)) < 2 {
		select {
		case <-sink.ch:
		case <-deadline:
			t.Fatal(why)
		}
	}
}

// countingStore counts Waiting calls per queue.
type countingStore struct {
	*mm.MemoryStore
	mu    sync.Mutex
	reads map[string]int
}

func (c *countingStore) Waiting(ctx context.Context, q string, dst []mm.Ticket) ([]mm.Ticket, error) {
	c.mu.Lock()
	c.reads[q]++
	c.mu.Unlock()
	return c.MemoryStore.Waiting(ctx, q, dst)
}

func (c *countingStore) count(q string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads[q]
}

// An empty queue is read by the timer's passes only every IdlePoll, not
// every Tick (on a shard of a cluster each read is a Redis round trip);
// an Enqueue's wake still reads it at once.
func TestServiceRunReadsEmptyQueuesSeldom(t *testing.T) {
	store := &countingStore{MemoryStore: mm.NewMemoryStore(), reads: map[string]int{}}
	sink := &recSink{ch: make(chan struct{}, 1)}
	svc, err := mm.NewService(nil, store, &fakeLobbies{of: map[string]protocol.LobbyView{}}, sink,
		mm.Options{Tick: 5 * time.Millisecond, IdlePoll: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx := runService(t, svc)
	for i := 0; store.count("duel") == 0; i++ { // the first pass reads it
		if i == 500 {
			t.Fatal("no pass within 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // some 40 ticks more
	if n := store.count("duel"); n != 1 {
		t.Fatalf("an empty queue read %d times within its idle poll, want once", n)
	}
	duelMatchedByRun(ctx, t, svc, sink, "an Enqueue's wake did not read the idle queue")
}

func TestNewServiceRejectsBadQueues(t *testing.T) {
	bad := mm.DefaultQueues()
	bad[1].Name = bad[0].Name
	if _, err := mm.NewService(bad, mm.NewMemoryStore(), &fakeLobbies{}, &recSink{}, mm.Options{}); err == nil {
		t.Fatal("duplicate queue names accepted")
	}
	if _, err := mm.NewService(nil, nil, &fakeLobbies{}, &recSink{}, mm.Options{}); err == nil {
		t.Fatal("nil store accepted")
	}
	h := newHarness(t)
	if qs := h.svc.Queues(); len(qs) != 2 || qs[0].Name != "duel" || qs[1].Name != "squad" {
		t.Fatalf("default queues %+v", qs)
	}
}

// TestServiceRunsOnlyHeldQueues: with Options.Runs, a pass skips the queues
// another shard's matcher holds — no match, no timeout — and picks them up
// once Runs says so.
func TestServiceRunsOnlyHeldQueues(t *testing.T) {
	held := false
	h := newHarnessOpts(t, mm.Options{Runs: func(q string) bool { return q != "duel" || held }})
	h.now = 1000
	if got := h.svc.Matchers(); len(got) != 1 || got["squad"] != 0 {
		t.Fatalf("Matchers before duel is held: %v, want squad alone", got)
	}
	h.enqueue(t, "a", "duel", 1000, "eu")
	h.enqueue(t, "b", "duel", 1000, "eu")
	h.now += 10 * 60_000 // past the timeout too
	h.svc.MatchNow(bg)
	if n := len(h.sink.named(protocol.EvMatched)) + len(h.sink.named(protocol.EvTicketCancelled)); n != 0 {
		t.Fatalf("%d events from a queue this shard does not run", n)
	}
	held = true
	h.now = 1000 + 500
	h.svc.MatchNow(bg)
	if n := len(h.sink.named(protocol.EvMatched)); n != 2 {
		t.Fatalf("%d mm.matched once the queue is held, want 2", n)
	}
	if got := h.svc.Matchers(); len(got) != 2 || got["duel"] != 1 || got["squad"] != 0 {
		t.Fatalf("Matchers once duel is held and matched once: %v", got)
	}
}
