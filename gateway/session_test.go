package gateway

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/netcode"
	"github.com/lobbyd/lobbyd/protocol"
)

// blockingWriter is a connection whose WriteParts (events; the welcome is a
// Write) stops at the first call until release is closed, telling entered.
type blockingWriter struct {
	recordingWriter
	once     sync.Once
	entered  chan struct{}
	release  chan struct{}
	released atomic.Bool
}

func newBlockingWriter() *blockingWriter {
	return &blockingWriter{entered: make(chan struct{}), release: make(chan struct{})}
}

func (w *blockingWriter) WriteParts(head, body []byte) error {
	w.once.Do(func() {
		close(w.entered)
		<-w.release
	})
	return w.recordingWriter.WriteParts(head, body)
}

// WriteHead blocks as WriteParts does (the embedded one would not).
func (w *blockingWriter) WriteHead(head [netcode.MaxHead]byte, n int, body []byte) error {
	return w.WriteParts(head[:n], body)
}

func (w *blockingWriter) unblock() {
	if w.released.CompareAndSwap(false, true) {
		close(w.release)
	}
}

// deadlockGuard fails the test if f does not return while another
// goroutine is parked in a replay. The bound only turns a hang into a
// failure; it measures nothing.
func deadlockGuard(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { f(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s waited for another session's replay", what)
	}
}

// While a resume's replay is being written (here: stuck in the
// connection's write), the fan-out to other sessions, a new connection of
// another user and an event for the resuming session itself all go on:
// the replay holds neither the hub's lock nor the session's.
func TestReplayDoesNotHoldUpOthers(t *testing.T) {
	g, _ := testGateway(t, 1024, 1<<20)
	wa := &recordingWriter{}
	attachFake(g, "a", wa)
	w1 := &recordingWriter{}
	cs1 := openFake(g, "r", w1, "", 0)
	for i := range 100 {
		chatTo(g, fmt.Sprint(i), "r")
	}
	g.closed(cs1)

	w2 := newBlockingWriter()
	defer w2.unblock()
	opened := make(chan *connState)
	go func() { opened <- openFake(g, "r", w2, welcomeOf(t, w1)["resume_token"].(string), 0) }()
	<-w2.entered // the replay is under way, stuck in its first write

	deadlockGuard(t, "fan-out to another session", func() { chatTo(g, "to a", "a") })
	deadlockGuard(t, "another user's connection", func() { attachFake(g, "c", &recordingWriter{}) })
	deadlockGuard(t, "an event for the resuming session", func() { chatTo(g, "during", "r") })
	w2.unblock()
	cs2 := <-opened

	if cs2.session != cs1.session || len(wa.decoded(t)) != 2 {
		t.Fatalf("resumed %v; a got %v", cs2.session == cs1.session, wa.decoded(t))
	}
	chatTo(g, "after", "r")
	got := w2.decoded(t)
	if len(got) != 1+102 || w2.closed != 0 {
		t.Fatalf("%d messages after the resume (closed %d), want welcome and 102 events", len(got), w2.closed)
	}
	for i, m := range got[1:] {
		want := fmt.Sprint(i)
		switch i {
		case 100:
			want = "during"
		case 101:
			want = "after"
		}
		if m["seq"].(uint64) != uint64(i+1) || m["d"].(map[string]any)["text"] != want {
			t.Fatalf("event #%d: %v, want seq %d %q", i, m, i+1, want)
		}
	}
}

// snapshotStore wraps a store to make the welcome race happen on every
// open of user racer: around each LobbyOf of racer it changes the lobby
// (the host's ready flag) once just before the view is read and once just
// after, and it records the version of each view it returns.
type snapshotStore struct {
	lobby.Store
	racer, host string

	mu       sync.Mutex
	ready    bool
	versions []uint64
}

func (s *snapshotStore) toggle(ctx context.Context) {
	s.mu.Lock()
	s.ready = !s.ready
	r := s.ready
	s.mu.Unlock()
	if _, err := s.Store.SetMember(ctx, s.host, protocol.SetMember{Ready: &r}); err != nil {
		panic(err)
	}
}

func (s *snapshotStore) LobbyOf(ctx context.Context, uid string) (protocol.LobbyView, bool, error) {
	if uid != s.racer {
		return s.Store.LobbyOf(ctx, uid)
	}
	s.toggle(ctx)
	v, ok, err := s.Store.LobbyOf(ctx, uid)
	s.mu.Lock()
	s.versions = append(s.versions, v.Version)
	s.mu.Unlock()
	s.toggle(ctx)
	return v, ok, err
}

// logged is one event of the lobby as the store emitted it.
type logged struct {
	version uint64
	name    string
	user    string // member joined, left or updated
	ready   bool   // member_updated
	text    string // chat
	toRacer bool
}

// While others join, chat, leave and change the lobby, a user reconnects
// again and again (new sessions). For each connection, every event of the
// lobby is either shown by its welcome's lobby or arrives on it as an
// event, never both, none lost; every chat arrives on exactly one of the
// user's connections. On every open the lobby also changes just before
// and just after the welcome's view is read.
func TestWelcomeSnapshotRace(t *testing.T) {
	const (
		racer      = "racer"
		host       = "host"
		reconnects = 150
		others     = 4
	)
	// Rings far larger than the events of the test: a connection whose
	// goroutine is descheduled while others send flat out must not
	// overrun (that is closed with 1011, and tested on its own).
	g, _ := testGateway(t, 1<<20, 1<<30)
	var logMu sync.Mutex
	var log []logged
	mem := lobby.NewMemoryStore(lobby.SinkFunc(func(ev *lobby.Event) {
		e := logged{version: ev.Version, name: ev.Name, user: ev.UserID, text: ev.Text, toRacer: slices.Contains(ev.To, racer)}
		if ev.Member != nil {
			e.user, e.ready = ev.Member.UserID, ev.Member.Ready
		}
		logMu.Lock()
		log = append(log, e)
		logMu.Unlock()
		lobbySink{g}.Deliver(ev)
	}), lobby.MemoryOptions{})
	store := &snapshotStore{Store: mem, racer: racer, host: host}
	g.lobbies = store
	ctx := context.Background()
	lv, err := mem.Create(ctx, lobby.Actor{UserID: host, Name: host}, protocol.CreateLobby{Name: "race", MaxPlayers: 16, Visibility: "public"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mem.Join(ctx, lobby.Actor{UserID: racer, Name: racer}, protocol.JoinLobby{Code: lv.Code}); err != nil {
		t.Fatal(err)
	}
	logMu.Lock()
	log = nil // the lobby as it is now is where replaying the log starts
	logMu.Unlock()
	start, _, _ := mem.LobbyOf(ctx, racer)

	conns := []*recordingWriter{{}}
	prev := openFake(g, racer, conns[0], "", 0)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for i := range others {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := lobby.Actor{UserID: fmt.Sprint("o", i), Name: "o"}
			for j := 0; j < 2000 && !stop.Load(); j++ {
				if _, err := mem.Join(ctx, a, protocol.JoinLobby{Code: lv.Code}); err != nil {
					t.Error(err)
					return
				}
				_ = mem.Chat(ctx, a.UserID, fmt.Sprint(a.UserID, "-", j))
				_ = mem.Leave(ctx, a.UserID, protocol.ReasonLeft)
			}
		}()
	}
	for range reconnects - 1 {
		w := &recordingWriter{}
		cs := openFake(g, racer, w, "", 0)
		g.closed(prev) // the replaced connection's OnClose
		conns, prev = append(conns, w), cs
	}
	stop.Store(true)
	wg.Wait()

	// Replay the log: members and the host's ready flag at each version.
	type state struct {
		members   []string
		hostReady bool
	}
	stateAt := func(v uint64) state {
		in := map[string]bool{}
		for _, m := range start.Members {
			in[m.UserID] = true
		}
		var st state
		for _, e := range log {
			if e.version > v {
				break
			}
			switch e.name {
			case protocol.EvMemberJoined:
				in[e.user] = true
			case protocol.EvMemberLeft:
				delete(in, e.user)
			case protocol.EvMemberUpdated:
				st.hostReady = e.ready
			}
		}
		for u := range in {
			st.members = append(st.members, u)
		}
		slices.Sort(st.members)
		return st
	}
	var shown []logged // the racer's events a welcome can show, in version order
	chats := map[string]int{}
	for _, e := range log {
		if e.toRacer && e.name == protocol.EvChat {
			chats[e.text] = 0
		} else if e.toRacer {
			shown = append(shown, e)
		}
	}
	if len(store.versions) != reconnects {
		t.Fatalf("%d views read for %d connections", len(store.versions), reconnects)
	}
	lastGot := uint64(0) // version of the last shown-kind event the previous connection got
	for k, w := range conns {
		got := w.decoded(t)
		if len(got) == 0 || got[0]["ev"] != protocol.EvWelcome {
			t.Fatalf("connection %d: no welcome first (closed %d): %v", k, w.closed, got)
		}
		d := got[0]["d"].(map[string]any)
		view := store.versions[k]
		if view < lastGot {
			t.Fatalf("connection %d: welcome shows version %d, but the connection before got event version %d", k, view, lastGot)
		}
		var want state
		want = stateAt(view)
		var st state
		for _, m := range d["lobby"].(map[string]any)["members"].([]any) {
			m := m.(map[string]any)
			st.members = append(st.members, m["user_id"].(string))
			if m["user_id"] == host {
				st.hostReady = m["ready"].(bool)
			}
		}
		slices.Sort(st.members)
		if !slices.Equal(st.members, want.members) || st.hostReady != want.hostReady {
			t.Fatalf("connection %d: welcome shows %+v, the log at version %d says %+v", k, st, view, want)
		}
		i := 0 // next shown-kind event this connection must get
		for i < len(shown) && shown[i].version <= view {
			i++
		}
		for n, m := range got[1:] {
			if m["seq"].(uint64) != uint64(n+1) {
				t.Fatalf("connection %d: event #%d has seq %v", k, n, m["seq"])
			}
			d := m["d"].(map[string]any)
			if m["ev"] == protocol.EvChat {
				chats[d["text"].(string)]++
				continue
			}
			var user string
			switch m["ev"] {
			case protocol.EvMemberJoined, protocol.EvMemberUpdated:
				user = d["member"].(map[string]any)["user_id"].(string)
			case protocol.EvMemberLeft:
				user = d["user_id"].(string)
			}
			if i >= len(shown) || shown[i].name != m["ev"] || shown[i].user != user {
				t.Fatalf("connection %d (welcome at version %d): got %v %s, want the event of version %d, %+v", k, view, m["ev"], user, shown[min(i, len(shown)-1)].version, shown[min(i, len(shown)-1)])
			}
			lastGot = shown[i].version
			i++
		}
		if k == len(conns)-1 && i != len(shown) {
			t.Fatalf("the last connection missed %d events from version %d", len(shown)-i, shown[i].version)
		}
	}
	for text, n := range chats {
		if n != 1 {
			t.Fatalf("chat %q arrived %d times", text, n)
		}
	}
}

// floodStore delivers n chats to user through the gateway's fan-out while
// the welcome's view of user is being read.
type floodStore struct {
	lobby.Store
	g    *Gateway
	user string
	n    int
}

func (s *floodStore) LobbyOf(ctx context.Context, uid string) (protocol.LobbyView, bool, error) {
	if uid == s.user {
		for i := range s.n {
			chatTo(s.g, fmt.Sprint("flood ", i), uid)
		}
	}
	return s.Store.LobbyOf(ctx, uid)
}

// More events than the ring keeps, arriving while a connection opens
// (held for its welcome, or queued behind a replay), cannot be given as a
// gap-free stream: the connection is closed with 1011 instead, and the
// next connection starts cleanly.
func TestOpenOverrunCloses(t *testing.T) {
	g, mem := testGateway(t, 4, 1<<20)
	var logged strings.Builder
	g.log = slog.New(slog.NewTextHandler(&logged, nil))
	g.lobbies = &floodStore{Store: mem, g: g, user: "u", n: 5}
	w1 := &recordingWriter{}
	cs1 := openFake(g, "u", w1, "", 0)
	if w1.closed != netcode.CloseInternalError || len(w1.msgs) != 0 {
		t.Fatalf("held overrun: closed %d, %d messages", w1.closed, len(w1.msgs))
	}
	g.closed(cs1)

	g.lobbies = mem
	w2 := &recordingWriter{}
	cs2 := openFake(g, "u", w2, "", 0)
	chatTo(g, "next", "u")
	if got := w2.decoded(t); w2.closed != 0 || len(got) != 2 || got[1]["seq"].(uint64) != 1 {
		t.Fatalf("after an overrun: closed %d, %v", w2.closed, got)
	}

	// A resume whose replay is stuck while more than the ring arrives.
	chatTo(g, "one more", "u") // seq 2: the ring holds 1, 2
	g.closed(cs2)
	w3 := newBlockingWriter()
	defer w3.unblock()
	opened := make(chan *connState)
	go func() { opened <- openFake(g, "u", w3, welcomeOf(t, w2)["resume_token"].(string), 0) }()
	<-w3.entered
	for i := range 5 {
		chatTo(g, fmt.Sprint("during ", i), "u")
	}
	w3.unblock()
	<-opened
	if w3.closed != netcode.CloseInternalError {
		t.Fatalf("replay overrun: closed %d", w3.closed)
	}
	// Each close is logged with why (a 1011 in the field must be traced).
	for _, want := range []string{"held events overran", "the ring lost events of the welcome's catch-up"} {
		if !strings.Contains(logged.String(), want) {
			t.Errorf("no log line with %q:\n%s", want, logged.String())
		}
	}
}

// BenchmarkFanOutWhileResuming measures lobby.send in a lobby of 8 (as
// BenchmarkLobbySendFanout8) while, on another goroutine, 8 other users
// drop and resume again and again, each replaying a full ring (1024
// events, 1 MiB). p99-ns, p99.9-ns and max-ns are latencies of single sends:
// what a resume storm (say, after a drain) costs the fan-out of lobbies
// that have nothing to do with it.
func BenchmarkFanOutWhileResuming(b *testing.B) {
	g, store := testGateway(b, 1024, 1<<20)
	ctx := context.Background()
	benchLobby(b, g, store)
	// resumeAll returns what a resume replaying the whole ring sends.
	resumeAll := func(s *Session) (string, uint64) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return tokenOf(s), s.seq - uint64(s.ring.n)
	}
	resumers := make([]*connState, 8)
	body := make([]byte, 960) // 1024 of them fill the ring's 1 MiB
	for i := range resumers {
		uid := fmt.Sprint("r", i)
		resumers[i] = openFake(g, uid, &copyWriter{}, "", 0)
		for range 1024 {
			buf := g.hub.pool.get(len(body) + 64)
			buf.b = protocol.AppendDataEvent(buf.b, "x", body)
			g.hub.fanOut([]string{uid}, buf)
		}
	}
	var stop atomic.Bool
	var resumes atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; !stop.Load(); i = (i + 1) % len(resumers) {
			cs := resumers[i]
			g.closed(cs)
			tok, lastSeq := resumeAll(cs.session)
			cs = openFake(g, cs.id.UserID, &copyWriter{}, tok, lastSeq)
			if cs.session != resumers[i].session {
				panic("not resumed")
			}
			resumers[i] = cs
			resumes.Add(1)
		}
	}()
	data := make([]byte, 64)
	lat := make([]time.Duration, 0, 1<<20)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := store.Send(ctx, "u0", data, nil); err != nil {
			b.Fatal(err)
		}
		if len(lat) < cap(lat) {
			lat = append(lat, time.Since(t0))
		}
	}
	b.StopTimer()
	stop.Store(true)
	<-done
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(lat[len(lat)*999/1000].Nanoseconds()), "p99.9-ns")
	b.ReportMetric(float64(lat[len(lat)-1].Nanoseconds()), "max-ns")
	b.ReportMetric(float64(resumes.Load())/b.Elapsed().Seconds(), "resumes/s")
}

// failingStore is a lobby store whose session-path calls fail the way a
// store behind a network can, while down is set.
type failingStore struct {
	lobby.Store
	down atomic.Bool
}

var errStoreDown = errors.New("store down")

func (f *failingStore) LobbyOf(ctx context.Context, uid string) (protocol.LobbyView, bool, error) {
	if f.down.Load() {
		return protocol.LobbyView{}, false, errStoreDown
	}
	return f.Store.LobbyOf(ctx, uid)
}

func (f *failingStore) SetConnected(ctx context.Context, uid string, c bool) error {
	if f.down.Load() {
		return errStoreDown
	}
	return f.Store.SetConnected(ctx, uid, c)
}

func (f *failingStore) Leave(ctx context.Context, uid, reason string) error {
	if f.down.Load() {
		return errStoreDown
	}
	return f.Store.Leave(ctx, uid, reason)
}

// syncBuffer is a log destination safe for the goroutines of a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// A store that cannot answer on the session path is logged, never read as
// "not in a lobby"; its refusals are not logged.
func TestSessionPathStoreFailures(t *testing.T) {
	g, mem := testGateway(t, 16, 1<<20)
	var logs syncBuffer
	g.log = slog.New(slog.NewTextHandler(&logs, nil))
	store := &failingStore{Store: mem}
	g.lobbies = store
	open := func(uid string) (*recordingWriter, *connState) {
		w := &recordingWriter{}
		cs := g.newConnState(Identity{UserID: uid, Name: uid, Expiry: time.Now().Add(time.Hour)}, time.Now().UnixNano())
		g.open(w, cs)
		return w, cs
	}

	// Not in a lobby: SetConnected and Leave refuse with not_in_lobby,
	// which is an answer, not a failure.
	_, cs := open("a")
	g.closed(cs)
	g.expire(cs.session)
	if s := logs.String(); s != "" {
		t.Fatalf("refusals logged: %s", s)
	}

	// The store is down when a connection opens: no welcome built on a
	// guess, the connection closes with 1011 and the failure is logged.
	store.down.Store(true)
	w, cs := open("b")
	if w.closed != netcode.CloseInternalError || len(w.msgs) != 0 {
		t.Fatalf("open with the store down: closed %d, %d messages", w.closed, len(w.msgs))
	}
	g.closed(cs)
	if s := logs.String(); !strings.Contains(s, "op=LobbyOf") || !strings.Contains(s, "store down") {
		t.Fatalf("LobbyOf failure not logged: %q", s)
	}

	// The store goes down while a member is connected: closing and
	// expiring log the failed SetConnected and Leave.
	store.down.Store(false)
	if _, err := mem.Create(g.ctx, lobby.Actor{UserID: "c", Name: "c"}, protocol.CreateLobby{Name: "x", MaxPlayers: 4, Visibility: "public"}); err != nil {
		t.Fatal(err)
	}
	_, cs = open("c")
	store.down.Store(true)
	g.closed(cs)
	g.expire(cs.session)
	for _, op := range []string{"op=SetConnected", "op=Leave"} {
		if s := logs.String(); !strings.Contains(s, op) {
			t.Fatalf("%s failure not logged: %q", op, s)
		}
	}
}

// What a welcome's snapshot counts as already shown: only a change of its
// own lobby, numbered at or before it, of a kind a view shows in full.
func TestSnapshotShows(t *testing.T) {
	sn := snapshot{lobbyID: "L", version: 5}
	for _, tc := range []struct {
		lobby   string
		version uint64
		inView  bool
		shown   bool
	}{
		{"L", 5, true, true},
		{"L", 1, true, true},
		{"L", 6, true, false},  // after the snapshot
		{"L", 3, false, false}, // chat, data, started
		{"M", 3, true, false},  // another lobby
		{"L", 0, true, false},  // not numbered by its store
		{"", 0, false, false},  // matchmaking
	} {
		ev := &eventBuf{lobbyID: tc.lobby, version: tc.version, inView: tc.inView}
		if got := sn.shows(ev); got != tc.shown {
			t.Errorf("%+v: shown %v", tc, got)
		}
	}
	if (snapshot{}).shows(&eventBuf{lobbyID: "L", version: 1, inView: true}) {
		t.Error("a welcome with no lobby shows an event")
	}
}

// A match's mm.matched events are numbered for every recipient before any
// of them can be given anything else: here the first player's connection
// (a) is stuck writing its mm.matched — as if a fast client had already
// read it and chatted — while a chat for the second (b) comes in. b gets
// its mm.matched first, then the chat.
func TestMatchedReachesEveryoneBeforeTheirChat(t *testing.T) {
	g, _ := testGateway(t, 16, 1<<20)
	wa, wb := newBlockingWriter(), &recordingWriter{}
	attachFake(g, "a", wa)
	attachFake(g, "b", wb)
	matched := func(ticket string) *eventBuf {
		return g.encodeEvent(protocol.EvMatched, protocol.MatchedEv{TicketID: ticket, MatchID: "m", Queue: "duel"})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.hub.fanOutTogether([][]string{{"a"}, {"b"}}, []*eventBuf{matched("ta"), matched("tb")})
	}()
	<-wa.entered // a's mm.matched is being written
	chatted := make(chan struct{})
	go func() {
		defer close(chatted)
		chatTo(g, "gl hf", "b") // a "answers" with a chat that reaches b
	}()
	select {
	case <-chatted:
		t.Fatal("b's chat was numbered while a match's mm.matched was still being given out")
	case <-time.After(50 * time.Millisecond):
	}
	wa.unblock()
	<-done
	<-chatted
	var names []string
	for _, m := range wb.decoded(t) {
		names = append(names, fmt.Sprintf("%v %v", m["ev"], m["seq"]))
	}
	if want := []string{"welcome 0", "mm.matched 1", "lobby.chat 2"}; !slices.Equal(names, want) {
		t.Errorf("b got %v, want %v", names, want)
	}
}

// tokenOf is the resume token of a session of a shard without Redis, as
// its welcome gave it.
func tokenOf(s *Session) string { return hex.EncodeToString([]byte(s.resumeKey)) }

// What a shard keeps per idle player stays in its size classes
// (docs/architecture.md, "Memory per idle player"): a field more moves a
// struct to the next class, 16 to 32 bytes a player.
func TestPerPlayerStructSizes(t *testing.T) {
	for _, c := range []struct {
		name      string
		size, max uintptr
	}{
		{"Session", unsafe.Sizeof(Session{}), 160},
		{"connState", unsafe.Sizeof(connState{}), 96},
		{"sharedBucket", unsafe.Sizeof(sharedBucket{}), 24},
		{"sessionSide", unsafe.Sizeof(sessionSide{}), 48},
	} {
		if c.size > c.max {
			t.Errorf("sizeof(%s) = %d, over %d", c.name, c.size, c.max)
		}
	}
}

// A session adopted from a dead shard's record whose catch-up numbers
// more events than the ring keeps cannot replay from the client's
// last_seq: its connection is closed (1011, logged) before any welcome,
// which must not say resumed.
func TestAdoptedCatchUpPastTheRing(t *testing.T) {
	g, _ := testGateway(t, 4, 1<<20)
	var logged strings.Builder
	g.log = slog.New(slog.NewTextHandler(&logged, nil))
	open := func(missed int) *recordingWriter {
		t.Helper()
		w := &recordingWriter{}
		cs := &connState{id: newConnIdentity(Identity{UserID: "u", Name: "u", Expiry: time.Now().Add(time.Hour)}),
			resume: &resumeQuery{token: "t", lastSeq: 10}}
		res := g.hub.adoptAt(cs, w, "sid", "tok", "", 0)
		var evs []*eventBuf
		for i := range missed {
			evs = append(evs, g.encodeEvent(protocol.EvChat, protocol.ChatEv{Text: fmt.Sprint(i)}))
		}
		g.hub.catchUp(res.session, evs)
		for _, ev := range evs {
			g.hub.pool.release(ev)
		}
		g.hub.welcome(res.session, cs, connEvent(protocol.EvWelcome, protocol.WelcomeEv{Resumed: true}), snapshot{}, 10)
		return w
	}
	if w := open(4); w.closed != 0 || len(w.decoded(t)) != 5 {
		t.Fatalf("4 missed events, a ring of 4: closed %d, %d messages", w.closed, len(w.msgs))
	}
	if w := open(5); w.closed != netcode.CloseInternalError || len(w.msgs) != 0 {
		t.Fatalf("5 missed events, a ring of 4: closed %d, %d messages (want 1011 before the welcome)", w.closed, len(w.msgs))
	}
	if !strings.Contains(logged.String(), "the ring no longer holds what follows last_seq") {
		t.Fatalf("not logged:\n%s", logged.String())
	}
}
