package gateway

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

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
		cs := &connState{id: Identity{UserID: uid, Name: uid, Expiry: time.Now().Add(time.Hour)}}
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
	if w.closed != protocol.CloseInternalError || len(w.msgs) != 0 {
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
