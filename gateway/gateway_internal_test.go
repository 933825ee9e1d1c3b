package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/lobbyd/lobbyd/budget"
	"github.com/lobbyd/lobbyd/cluster"
	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/netcode"
	"github.com/lobbyd/lobbyd/protocol"
)

// recordingWriter is a connection that keeps what it is sent.
type recordingWriter struct {
	mu     sync.Mutex
	msgs   [][]byte
	closed uint16
}

func (w *recordingWriter) Write(m []byte) error { return w.WriteParts(m, nil) }
func (w *recordingWriter) WriteParts(head, body []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, append(append([]byte(nil), head...), body...))
	return nil
}
func (w *recordingWriter) WriteHead(head [netcode.MaxHead]byte, n int, body []byte) error {
	return w.WriteParts(head[:n], body)
}
func (w *recordingWriter) Close(code uint16, _ string) {
	w.mu.Lock()
	if w.closed == 0 { // as netcode: closing a closing connection does nothing
		w.closed = code
	}
	w.mu.Unlock()
}

func (w *recordingWriter) decoded(t *testing.T) []map[string]any {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []map[string]any
	for _, m := range w.msgs {
		var v map[string]any
		if err := msgpack.Unmarshal(m, &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// copyWriter stands in for a socket that takes everything: it copies the
// bytes, as the kernel would, and keeps nothing.
type copyWriter struct{ buf [1 << 16]byte }

func (w *copyWriter) Write(m []byte) error { copy(w.buf[:], m); return nil }
func (w *copyWriter) WriteParts(head, body []byte) error {
	n := copy(w.buf[:], head)
	copy(w.buf[n:], body)
	return nil
}
func (w *copyWriter) WriteHead(head [netcode.MaxHead]byte, n int, body []byte) error {
	return w.WriteParts(head[:n], body)
}
func (w *copyWriter) Close(uint16, string) {}

// testGateway is a gateway without network: a hub, the memory store and
// sessions attached to fake connections.
func testGateway(t testing.TB, ringEntries, ringBytes int) (*Gateway, *lobby.MemoryStore) {
	g := &Gateway{hub: newHub(ringEntries, ringBytes), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	t.Cleanup(g.cancel)
	g.opts.applyDefaults()
	g.opts.ResumeGrace = time.Hour             // a test that wants a session gone calls expire
	g.budget = budget.New(g.opts.MemoryBudget) // as New does: benchmarks pay for the accounting
	g.hub.pool.budget = g.budget
	g.hub.shed = g.shed
	g.hub.gapClose = g.logGapClose
	g.settings.Store(g.opts.live())
	g.userMsgs = newBucketTable(Rate{g.opts.RatePerSecond, g.opts.RateBurst}, 4*g.opts.MaxConnections) // as New does
	g.live = &cluster.Liveness{}
	g.logLimits = newLogLimits()
	g.metrics = newMetrics(g)
	store := lobby.NewMemoryStore(lobbySink{g}, lobby.MemoryOptions{})
	g.lobbies = store
	return g, store
}

// openFake opens a connection of uid on w, resuming with token and lastSeq
// when token is not empty, as OnOpen does.
func openFake(g *Gateway, uid string, w writer, token string, lastSeq uint64) *connState {
	cs := g.newConnState(Identity{UserID: uid, Name: uid, Expiry: time.Now().Add(time.Hour)}, time.Now().UnixNano())
	if token != "" || lastSeq != 0 {
		cs.resume = &resumeQuery{token: token, lastSeq: lastSeq}
	}
	g.open(w, cs)
	return cs
}

func attachFake(g *Gateway, uid string, w writer) *Session {
	return openFake(g, uid, w, "", 0).session
}

// chatTo fans one chat event with text out to the users.
func chatTo(g *Gateway, text string, users ...string) {
	g.hub.fanOut(users, g.encodeEvent(protocol.EvChat, protocol.ChatEv{Text: text}))
}

func TestFanOutStampsEachRecipientsSeq(t *testing.T) {
	g, store := testGateway(t, 16, 1<<20)
	ctx := context.Background()
	ws := map[string]*recordingWriter{}
	for _, u := range []string{"a", "b", "c"} {
		ws[u] = &recordingWriter{}
		attachFake(g, u, ws[u])
	}
	lv, err := store.Create(ctx, lobby.Actor{UserID: "a", Name: "a"}, protocol.CreateLobby{Name: "x", MaxPlayers: 4, Visibility: "public"})
	if err != nil {
		t.Fatal(err)
	}
	store.Join(ctx, lobby.Actor{UserID: "b", Name: "b"}, protocol.JoinLobby{LobbyID: lv.ID})
	store.Join(ctx, lobby.Actor{UserID: "c", Name: "c"}, protocol.JoinLobby{LobbyID: lv.ID})
	store.Send(ctx, "c", []byte("hi"), nil)
	// a: joined(b)=1, joined(c)=2, data=3; b: joined(c)=1, data=2; c: nothing.
	want := map[string][]string{"a": {"welcome", "lobby.member_joined", "lobby.member_joined", "lobby.data"}, "b": {"welcome", "lobby.member_joined", "lobby.data"}, "c": {"welcome"}}
	for u, evs := range want {
		got := ws[u].decoded(t)
		if len(got) != len(evs) {
			t.Fatalf("%s got %v", u, got)
		}
		for i, m := range got {
			if m["ev"] != evs[i] {
				t.Fatalf("%s #%d = %v, want %s", u, i, m, evs[i])
			}
			if seq, _ := m["seq"].(uint64); seq != uint64(i) {
				t.Fatalf("%s #%d seq %v", u, i, m["seq"])
			}
		}
	}
}

// A resume with a valid token is refused, and starts a new session, when
// the ring no longer holds every event after last_seq, or when last_seq is
// beyond the last event sent. The token is the session's own, so only the
// gap can refuse it; a resume that is not refused shows the token works.
func TestResumeReplaysAndRefusesGaps(t *testing.T) {
	for _, tc := range []struct {
		lastSeq uint64
		resumed bool
	}{
		{1, false}, // event 2 fell out of the ring (it keeps seqs 3..6)
		{7, false}, // the client claims an event never sent
		{2, true},  // 3..6 are all there
		{6, true},  // nothing to replay
	} {
		g, tok, s := droppedWithSix(t)

		w2 := &recordingWriter{}
		cs2 := openFake(g, "u", w2, tok, tc.lastSeq)
		got := w2.decoded(t)
		if resumed := got[0]["d"].(map[string]any)["resumed"].(bool); resumed != tc.resumed || (cs2.session == s) != tc.resumed {
			t.Fatalf("last_seq %d: resumed %v (same session %v), want %v", tc.lastSeq, resumed, cs2.session == s, tc.resumed)
		}
		if !tc.resumed {
			if len(got) != 1 {
				t.Fatalf("last_seq %d: a new session got %v", tc.lastSeq, got[1:])
			}
			// The refused session is gone: its token cannot resume it later.
			cs3 := openFake(g, "u", &recordingWriter{}, tok, 6)
			if cs3.session == s {
				t.Fatalf("last_seq %d: resumed a replaced session", tc.lastSeq)
			}
		}
	}
}

// droppedWithSix is a gateway whose user u got chats "0".."5" (seqs 1..6;
// the ring of 4 keeps 3..6) and dropped; it returns u's resume token and
// session.
func droppedWithSix(t *testing.T) (*Gateway, string, *Session) {
	g, _ := testGateway(t, 4, 1<<20)
	w := &recordingWriter{}
	cs := openFake(g, "u", w, "", 0)
	for i := range 6 {
		chatTo(g, fmt.Sprint(i), "u")
	}
	g.closed(cs)
	return g, welcomeOf(t, w)["resume_token"].(string), cs.session
}

func welcomeOf(t *testing.T, w *recordingWriter) map[string]any {
	t.Helper()
	got := w.decoded(t)
	if len(got) == 0 || got[0]["ev"] != protocol.EvWelcome {
		t.Fatalf("no welcome first: %v", got)
	}
	return got[0]["d"].(map[string]any)
}

// A disconnected session keeps its grace timer in its side; a resume stops
// the timer and, on one shard, lets the side go with it.
func TestResumeLetsTheGraceSideGo(t *testing.T) {
	g, tok, s := droppedWithSix(t)
	s.mu.Lock()
	timer := s.side != nil && s.side.grace != nil
	s.mu.Unlock()
	if !timer {
		t.Fatal("a disconnected session has no grace timer in its side")
	}
	cs := openFake(g, "u", &recordingWriter{}, tok, 6)
	if cs.session != s {
		t.Fatal("not resumed")
	}
	s.mu.Lock()
	side := s.side
	s.mu.Unlock()
	if side != nil {
		t.Fatalf("the resumed session kept its side: %+v", side)
	}
}

// A resume gets the welcome, every event after last_seq in order, then the
// live stream with the numbering continued.
func TestResumeReplay(t *testing.T) {
	g, tok, s := droppedWithSix(t)
	w := &recordingWriter{}
	cs := openFake(g, "u", w, tok, 3)
	if cs.session != s || !welcomeOf(t, w)["resumed"].(bool) {
		t.Fatal("not resumed")
	}
	chatTo(g, "live", "u")
	got := w.decoded(t)
	if len(got) != 5 || got[0]["ev"] != "welcome" || w.closed != 0 {
		t.Fatalf("replay %v (closed %d)", got, w.closed)
	}
	for i, m := range got[1:4] {
		if m["seq"].(uint64) != uint64(4+i) || m["d"].(map[string]any)["text"] != fmt.Sprint(3+i) {
			t.Fatalf("replayed %v", m)
		}
	}
	if m := got[4]; m["seq"].(uint64) != 7 || m["d"].(map[string]any)["text"] != "live" {
		t.Fatalf("after the replay %v", m)
	}
}

func TestEventBuffersReturnToPool(t *testing.T) {
	g, _ := testGateway(t, 2, 1<<20)
	s := attachFake(g, "u", &copyWriter{})
	var bufs []*eventBuf
	for i := 0; i < 5; i++ {
		b := g.encodeEvent(protocol.EvChat, protocol.ChatEv{Text: "x"})
		bufs = append(bufs, b)
		g.hub.fanOut([]string{"u"}, b)
	}
	// Three fell out of the ring; the last two are held by it alone.
	if s.ring.n != 2 || bufs[3].refs.Load() != 1 || bufs[4].refs.Load() != 1 {
		t.Fatalf("ring %d entries, refs %d %d", s.ring.n, bufs[3].refs.Load(), bufs[4].refs.Load())
	}
	g.hub.mu.Lock()
	s.mu.Lock()
	g.hub.endLocked(s)
	s.mu.Unlock()
	g.hub.mu.Unlock()
	if s.ring.n != 0 || s.ring.bytes != 0 || bufs[3].refs.Load() != 0 || bufs[4].refs.Load() != 0 {
		t.Fatal("ring not emptied or references left")
	}
}

func TestTokenBucket(t *testing.T) {
	var b tokenBucket
	now := int64(1e9)
	passed := 0
	for i := 0; i < 10; i++ {
		if b.take(now, 2, 5) {
			passed++
		}
	}
	if passed != 5 {
		t.Fatalf("burst passed %d, want 5", passed)
	}
	if !b.take(now+int64(5e8), 2, 5) { // half a second: one token
		t.Fatal("refill")
	}
}

// More than 10 × burst refusals within 10 s is abuse; a window that has
// passed starts the count again, and so does a clock that steps back.
func TestRefusals(t *testing.T) {
	var r refusals
	now := int64(1e12)
	for i := 1; i <= 50; i++ {
		if r.count(now, 5) {
			t.Fatalf("abuse after %d refusals, bound 50", i)
		}
	}
	if !r.count(now+int64(9*time.Second), 5) {
		t.Fatal("51 refusals within 10 s not flagged")
	}
	later := now + int64(12*time.Second)
	if r.count(later, 5) {
		t.Fatal("a new window kept the old count")
	}
	if r.count(later-int64(time.Hour), 5) || r.n != 1 {
		t.Fatalf("a clock that stepped back kept the count (%d)", r.n)
	}
}

// benchLobby puts u0..u7, each with a session on a copyWriter, in one
// lobby hosted by u0.
func benchLobby(b testing.TB, g *Gateway, store lobby.Store) {
	ctx := context.Background()
	var id string
	for i := range 8 {
		uid := fmt.Sprint("u", i)
		attachFake(g, uid, &copyWriter{})
		a := lobby.Actor{UserID: uid, Name: uid}
		if i == 0 {
			lv, err := store.Create(ctx, a, protocol.CreateLobby{Name: "bench", MaxPlayers: 8, Visibility: "public"})
			if err != nil {
				b.Fatal(err)
			}
			id = lv.ID
		} else if _, err := store.Join(ctx, a, protocol.JoinLobby{LobbyID: id}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLobbySendFanout8 measures the server side of lobby.send in a
// lobby of 8: store rules, one encoding, and seven stamped deliveries into
// rings and connections (the socket write is a copy, as into the kernel).
func BenchmarkLobbySendFanout8(b *testing.B) {
	g, store := testGateway(b, 1024, 1<<20)
	ctx := context.Background()
	benchLobby(b, g, store)
	data := make([]byte, 64)
	// Warm up past the ring size so pooled buffers are recycling.
	for i := 0; i < 4096; i++ {
		store.Send(ctx, "u0", data, nil)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := store.Send(ctx, "u0", data, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(7*b.N), "ns/delivered")
}

// What the client acknowledged by answering a ping (OnAck) leaves the
// ring: a resume from after it still replays what follows, one from
// before it starts a new session, and a ring acknowledged to its end
// lets its storage go. A mark beyond what was written drops no more.
func TestAckedEventsLeaveTheRing(t *testing.T) {
	g, _ := testGateway(t, 16, 1<<20)
	w := &recordingWriter{}
	cs := openFake(g, "u", w, "", 0)
	s := cs.session
	for i := range 6 {
		chatTo(g, fmt.Sprint(i), "u")
	}
	s.mu.Lock()
	s.ackedLocked(g.hub, 3)
	first, n := s.ring.oldest(), s.ring.n
	s.mu.Unlock()
	if first != 4 || n != 3 {
		t.Fatalf("after an ack of 3 the ring holds %d from %d, want 3 from 4", n, first)
	}
	tok := welcomeOf(t, w)["resume_token"].(string)
	g.closed(cs)

	w2 := &recordingWriter{}
	cs2 := openFake(g, "u", w2, tok, 3)
	got := w2.decoded(t)
	if cs2.session != s || len(got) != 4 || got[1]["seq"].(uint64) != 4 || got[3]["seq"].(uint64) != 6 {
		t.Fatalf("resume from 3 after an ack of 3: %v", got)
	}

	s.mu.Lock()
	s.ackedLocked(g.hub, 1000) // more than was written: bounded by it
	n, evs := s.ring.n, s.ring.slots()
	s.mu.Unlock()
	if n != 0 || evs != nil {
		t.Fatalf("ring of %d (storage %d) after acking all", n, len(evs))
	}
	chatTo(g, "after", "u") // numbered on from the last seq
	if got := w2.decoded(t); got[len(got)-1]["seq"].(uint64) != 7 {
		t.Fatalf("after the ring emptied: %v", got[len(got)-1])
	}
	tok = welcomeOf(t, w2)["resume_token"].(string)
	g.closed(cs2)
	cs3 := openFake(g, "u", &recordingWriter{}, tok, 5) // before the ack
	if cs3.session == s {
		t.Fatal("resumed from before what the client acknowledged")
	}
}

// A resume token stays good after its resume until the client shows it
// read the welcome with the new one (a pong to a marked ping): a
// connection cut before the welcome arrived resumes with the spent token,
// nothing lost; once confirmed, the spent token is refused.
func TestSpentTokenHonouredUntilConfirmed(t *testing.T) {
	g, _ := testGateway(t, 16, 1<<20)
	type conn struct {
		cs *connState
		w  *recordingWriter
	}
	open := func(uid, tok string, last uint64) conn {
		t.Helper()
		w := &recordingWriter{}
		return conn{openFake(g, uid, w, tok, last), w}
	}
	token := func(c conn) string { return welcomeOf(t, c.w)["resume_token"].(string) }

	c1 := open("u", "", 0)
	s := c1.cs.session
	for i := range 3 {
		chatTo(g, fmt.Sprint(i), "u")
	}
	tok1 := token(c1)
	g.closed(c1.cs)
	c2 := open("u", tok1, 1)
	if c2.cs.session != s {
		t.Fatal("first resume refused")
	}
	g.closed(c2.cs) // cut before the client read its welcome
	chatTo(g, "3", "u")

	c3 := open("u", tok1, 1) // all the client has
	got := c3.w.decoded(t)
	if c3.cs.session != s || len(got) != 4 || got[1]["seq"].(uint64) != 2 || got[3]["seq"].(uint64) != 4 {
		t.Fatalf("resume with the spent, unconfirmed token: %v", got)
	}
	g.acked(c2.cs, c2.w, 4) // a pong on the old connection confirms nothing
	g.closed(c3.cs)
	c4 := open("u", tok1, 4)
	if c4.cs.session != s {
		t.Fatal("the spent token was refused before any confirmation")
	}
	g.acked(c4.cs, c4.w, 0) // the client answered a marked ping
	g.closed(c4.cs)
	if c5 := open("u", tok1, 4); c5.cs.session == s {
		t.Fatal("the spent token resumed after the client confirmed the new one")
	}

	// The token of a welcome that never arrived, replaced since by another
	// resume's, is refused.
	v1 := open("v", "", 0)
	tok1 = token(v1)
	g.closed(v1.cs)
	v2 := open("v", tok1, 0)
	tok2 := token(v2)
	g.closed(v2.cs)
	v3 := open("v", tok1, 0)
	g.closed(v3.cs)
	if v4 := open("v", tok2, 0); v4.cs.session == v1.cs.session {
		t.Fatal("a replaced, never confirmed token resumed")
	}
}

// An event whose frame waits (a cluster shard's delivery record) is not
// acknowledged by a mark that reaches it: it was never written.
func TestAckStopsAtWhatWasWritten(t *testing.T) {
	g, _ := testGateway(t, 16, 1<<20)
	w := &recordingWriter{}
	s := openFake(g, "u", w, "", 0).session
	chatTo(g, "0", "u")
	chatTo(g, "1", "u")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.numberAsLocked(g.hub, g.encodeEvent(protocol.EvChat, protocol.ChatEv{Text: "gated"}), numberGated)
	if written, ok := s.writtenLocked(); !ok || written != 2 {
		t.Fatalf("written %d %v, want 2 (seq 3 waits)", written, ok)
	}
	s.ackedLocked(g.hub, 3)
	if s.ring.n != 1 || s.ring.oldest() != 3 {
		t.Fatalf("ring holds %d from %d, want the waiting 3 alone", s.ring.n, s.ring.oldest())
	}
}
