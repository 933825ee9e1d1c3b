package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/internal/redistest"
	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/lobby/lobbytest"
	"github.com/lobbyd/lobbyd/protocol"
)

// reorderFixture is one shard following a lobby of two local members whose
// log holds two chats the shard has delivered; rewind makes the follower
// forget them, as if their publications had not arrived yet.
type reorderFixture struct {
	store *LobbyStore
	rec   *lobbytest.Recorder
	cnt   *cmdCounter
	fl    *followed
	chats [2]message // the two chats, as the channel would carry them
}

func newReorderFixture(t *testing.T) *reorderFixture {
	t.Helper()
	srv := redistest.Server(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { c.Close() })
	fx := &reorderFixture{rec: lobbytest.NewRecorder(), cnt: &cmdCounter{}}
	c.AddHook(fx.cnt)
	fx.store = newTestStore(t, c, "t:", "a", fx.rec, LobbyOptions{})
	ctx := context.Background()
	v, err := fx.store.Create(ctx, lobby.Actor{UserID: "u1", Name: "u1"}, protocol.CreateLobby{Name: "l", MaxPlayers: 8, Visibility: protocol.VisibilityPublic})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fx.store.Join(ctx, lobby.Actor{UserID: "u2", Name: "u2"}, protocol.JoinLobby{LobbyID: v.ID}); err != nil {
		t.Fatal(err)
	}
	for i, text := range []string{"one", "two"} {
		if err := fx.store.Chat(ctx, "u1", text); err != nil {
			t.Fatal(err)
		}
		fx.fl = fx.store.f.get(v.ID)
		fx.fl.mu.Lock()
		w := wireEvent{Name: protocol.EvChat, To: []string{"u1", "u2"}, Shards: []string{"a", "a"}, From: "u1", Text: text}
		fx.chats[i] = message{lobbyID: v.ID, first: fx.fl.last, version: fx.fl.version, events: []wireEvent{w}}
		fx.fl.mu.Unlock()
	}
	// Load the read script, so the count below is one command (a fresh
	// server answers the first EVALSHA NOSCRIPT).
	if _, err := fx.store.Get(ctx, v.ID); err != nil {
		t.Fatal(err)
	}
	fx.rec.Take()
	return fx
}

// rewind makes the follower's last offset the one before the two chats.
func (fx *reorderFixture) rewind() {
	fx.fl.mu.Lock()
	fx.fl.last = fx.chats[0].first - 1
	fx.fl.mu.Unlock()
}

func (fx *reorderFixture) deliver(m message) {
	fx.fl.mu.Lock()
	fx.store.f.applyLocked(fx.fl, &m, nil)
	fx.fl.mu.Unlock()
}

func chatTexts(recs []lobbytest.Rec) []string {
	var out []string
	for _, r := range recs {
		if r.Name == protocol.EvChat {
			out = append(out, r.Text)
		}
	}
	return out
}

// TestFollowerReordersWithoutReading: a message that overtakes the one
// before it (two shards' commits racing) waits in the reorder buffer and
// both are delivered in log order once the first arrives, with no read of
// the log: the reorder costs Redis nothing.
func TestFollowerReordersWithoutReading(t *testing.T) {
	fx := newReorderFixture(t)
	fx.rewind()
	c0, _ := fx.cnt.read()
	fx.deliver(fx.chats[1])
	if got := chatTexts(fx.rec.Take()); len(got) != 0 {
		t.Fatalf("delivered %v beyond a gap", got)
	}
	fx.deliver(fx.chats[0])
	if got := chatTexts(fx.rec.Take()); len(got) != 2 || got[0] != "one" || got[1] != "two" {
		t.Fatalf("delivered %v, want [one two]", got)
	}
	time.Sleep(2 * gapWait) // a timer left armed would read now
	if c1, _ := fx.cnt.read(); c1 != c0 {
		t.Fatalf("the reorder sent %d Redis commands, want 0", c1-c0)
	}
	fx.fl.mu.Lock()
	defer fx.fl.mu.Unlock()
	if len(fx.fl.pending) != 0 || fx.fl.gapTimer != nil || fx.fl.drained != nil {
		t.Fatalf("reorder buffer left: %d held, timer %v", len(fx.fl.pending), fx.fl.gapTimer != nil)
	}
}

// TestFollowerReadsAGapThatDoesNotFill: when the message before a held
// one never arrives (a publication lost), the follower reads the log after
// gapWait and delivers both, in order, once each.
func TestFollowerReadsAGapThatDoesNotFill(t *testing.T) {
	fx := newReorderFixture(t)
	fx.rewind()
	c0, _ := fx.cnt.read()
	fx.deliver(fx.chats[1])
	var got []string
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		got = append(got, chatTexts(fx.rec.Take())...)
	}
	if len(got) != 2 || got[0] != "one" || got[1] != "two" {
		t.Fatalf("delivered %v, want [one two]", got)
	}
	if c1, _ := fx.cnt.read(); c1-c0 != 1 {
		t.Fatalf("filling the gap sent %d Redis commands, want 1 read", c1-c0)
	}
	// The late publication of the first chat is a duplicate now.
	fx.deliver(fx.chats[0])
	if got := chatTexts(fx.rec.Take()); len(got) != 0 {
		t.Fatalf("a late duplicate delivered %v", got)
	}
}

// TestOwnCommitWaitsForTheGap: a commit's reply that overtakes another
// shard's publication is delivered before the call returns, in order,
// after the missing message arrives (here: after the log is read).
func TestOwnCommitWaitsForTheGap(t *testing.T) {
	fx := newReorderFixture(t)
	fx.rewind()
	m := fx.chats[1]
	fx.store.f.applyOwn(context.Background(), &m, nil)
	if got := chatTexts(fx.rec.Take()); len(got) != 2 || got[0] != "one" || got[1] != "two" {
		t.Fatalf("applyOwn returned with %v delivered, want [one two]", got)
	}
}
