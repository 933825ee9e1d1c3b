package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/lobbyd/lobbyd/lobby"
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
func (w *recordingWriter) Close(code uint16, _ string) {
	w.mu.Lock()
	w.closed = code
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
func (w *copyWriter) Close(uint16, string) {}

// testGateway is a gateway without network: a hub, the memory store and
// sessions attached to fake connections.
func testGateway(t testing.TB, ringEntries, ringBytes int) (*Gateway, *lobby.MemoryStore) {
	g := &Gateway{hub: newHub(ringEntries, ringBytes), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	t.Cleanup(g.cancel)
	g.opts.applyDefaults()
	g.metrics = newMetrics(g)
	store := lobby.NewMemoryStore(lobbySink{g}, lobby.MemoryOptions{})
	g.lobbies = store
	return g, store
}

func attachFake(g *Gateway, uid string, w writer) *Session {
	cs := &connState{id: Identity{UserID: uid, Name: uid}}
	res := g.hub.attach(cs, w, func(s *Session, resumed bool) []byte {
		return connEvent(protocol.EvWelcome, protocol.WelcomeEv{SessionID: s.id, UserID: uid, ResumeToken: s.resumeToken, Resumed: resumed})
	})
	cs.session = res.session
	return res.session
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

func TestResumeReplaysAndRefusesGaps(t *testing.T) {
	g, _ := testGateway(t, 4, 1<<20)
	w1 := &recordingWriter{}
	s := attachFake(g, "u", w1)
	for i := 0; i < 6; i++ { // the ring keeps the last 4: seqs 3..6
		g.hub.fanOut([]string{"u"}, g.encodeEvent(protocol.EvChat, protocol.ChatEv{Text: fmt.Sprint(i)}))
	}
	cs := s.cs
	g.hub.detach(s, cs, 1e9, func(*Session) {})
	tok := s.resumeToken

	// last_seq 1: events 2 is gone, so the resume is refused (new session).
	w2 := &recordingWriter{}
	cs2 := &connState{id: Identity{UserID: "u"}, resume: "bogus", lastSeq: 1}
	res := g.hub.attach(cs2, w2, func(*Session, bool) []byte { return []byte{0x80} })
	if res.resumed || res.session == s {
		t.Fatal("resumed with a bogus token")
	}
	// The old session is gone now: its token is dead too.
	cs3 := &connState{id: Identity{UserID: "u"}, resume: tok, lastSeq: 4}
	if res := g.hub.attach(cs3, &recordingWriter{}, func(*Session, bool) []byte { return []byte{0x80} }); res.resumed {
		t.Fatal("resumed a replaced session")
	}
}

func TestResumeReplay(t *testing.T) {
	g, _ := testGateway(t, 4, 1<<20)
	s := attachFake(g, "u", &recordingWriter{})
	for i := 0; i < 6; i++ {
		g.hub.fanOut([]string{"u"}, g.encodeEvent(protocol.EvChat, protocol.ChatEv{Text: fmt.Sprint(i)}))
	}
	g.hub.detach(s, s.cs, 1e9, func(*Session) {})
	for _, tc := range []struct {
		lastSeq uint64
		ok      bool
	}{{1, false}, {7, false}, {2, true}} {
		s.mu.Lock()
		ok := s.canReplayFrom(tc.lastSeq)
		s.mu.Unlock()
		if ok != tc.ok {
			t.Fatalf("canReplayFrom(%d) = %v", tc.lastSeq, ok)
		}
	}
	w := &recordingWriter{}
	cs := &connState{id: Identity{UserID: "u"}, resume: s.resumeToken, lastSeq: 3}
	res := g.hub.attach(cs, w, func(*Session, bool) []byte { return connEvent(protocol.EvWelcome, protocol.WelcomeEv{Resumed: true}) })
	if !res.resumed || res.session != s {
		t.Fatal("not resumed")
	}
	got := w.decoded(t)
	if len(got) != 4 || got[0]["ev"] != "welcome" {
		t.Fatalf("replay %v", got)
	}
	for i, m := range got[1:] {
		if m["seq"].(uint64) != uint64(4+i) || m["d"].(map[string]any)["text"] != fmt.Sprint(3+i) {
			t.Fatalf("replayed %v", m)
		}
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
		if ok, _ := b.take(now, 2, 5); ok {
			passed++
		}
	}
	if passed != 5 {
		t.Fatalf("burst passed %d, want 5", passed)
	}
	if ok, _ := b.take(now+int64(5e8), 2, 5); !ok { // half a second: one token
		t.Fatal("refill")
	}
	var abused bool
	for i := 0; i < 100 && !abused; i++ {
		_, abused = b.take(now+int64(5e8), 2, 5)
	}
	if !abused {
		t.Fatal("never flagged as abuse")
	}
}

// BenchmarkLobbySendFanout8 measures the server side of lobby.send in a
// lobby of 8: store rules, one encoding, and seven stamped deliveries into
// rings and connections (the socket write is a copy, as into the kernel).
func BenchmarkLobbySendFanout8(b *testing.B) {
	g, store := testGateway(b, 1024, 1<<20)
	ctx := context.Background()
	var id string
	for i := 0; i < 8; i++ {
		uid := fmt.Sprint("u", i)
		attachFake(g, uid, &copyWriter{})
		a := lobby.Actor{UserID: uid, Name: uid}
		if i == 0 {
			lv, _ := store.Create(ctx, a, protocol.CreateLobby{Name: "bench", MaxPlayers: 8, Visibility: "public"})
			id = lv.ID
		} else if _, err := store.Join(ctx, a, protocol.JoinLobby{LobbyID: id}); err != nil {
			b.Fatal(err)
		}
	}
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
