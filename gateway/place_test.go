package gateway

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

// loopWriter is a connection that records the loop it was moved to.
type loopWriter struct {
	recordingWriter
	mu   sync.Mutex
	loop int
}

func (w *loopWriter) MoveTo(k int) {
	w.mu.Lock()
	w.loop = k
	w.mu.Unlock()
}

func (w *loopWriter) at() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.loop
}

// TestLobbyMembersShareALoop: the members of a lobby are moved to one
// loop, on their create or join and on the lobby's events (a member the
// op did not place), lobbies go to the loop with the fewest, a resumed
// connection follows its session, and an idle lobby's home is forgotten.
func TestLobbyMembersShareALoop(t *testing.T) {
	g, store := testGateway(t, 64, 1<<20)
	g.hub.place = newPlacer(3)
	ctx := context.Background()
	conns := map[string]*loopWriter{}
	sessions := map[string]*Session{}
	for i := range 7 {
		uid := fmt.Sprint("u", i)
		conns[uid] = &loopWriter{loop: -1}
		sessions[uid] = attachFake(g, uid, conns[uid])
	}
	// As the create and join ops do: the store, then placeIn.
	create := func(uid string) string {
		lv, err := store.Create(ctx, lobby.Actor{UserID: uid, Name: uid}, protocol.CreateLobby{Name: uid, MaxPlayers: 8, Visibility: "public"})
		if err != nil {
			t.Fatal(err)
		}
		g.hub.placeIn(sessions[uid], lv.ID)
		return lv.ID
	}
	join := func(uid, id string) {
		if _, err := store.Join(ctx, lobby.Actor{UserID: uid, Name: uid}, protocol.JoinLobby{LobbyID: id}); err != nil {
			t.Fatal(err)
		}
		g.hub.placeIn(sessions[uid], id)
	}
	a := create("u0")
	for _, uid := range []string{"u1", "u2"} {
		join(uid, a)
	}
	// u3 joins without the op's placeIn (as through another path): the
	// lobby's next event moves it.
	if _, err := store.Join(ctx, lobby.Actor{UserID: "u3", Name: "u3"}, protocol.JoinLobby{LobbyID: a}); err != nil {
		t.Fatal(err)
	}
	if err := store.Send(ctx, "u0", []byte("tick"), nil); err != nil {
		t.Fatal(err)
	}
	b := create("u4")
	join("u5", b)
	create("u6")
	loopOf := func(uids ...string) int {
		t.Helper()
		k := conns[uids[0]].at()
		for _, uid := range uids[1:] {
			if conns[uid].at() != k {
				t.Fatalf("%s on loop %d, %s on %d: one lobby, two loops", uids[0], k, uid, conns[uid].at())
			}
		}
		return k
	}
	ka, kb, kc := loopOf("u0", "u1", "u2", "u3"), loopOf("u4", "u5"), loopOf("u6")
	if ka == kb || kb == kc || ka == kc {
		t.Fatalf("lobbies on loops %d, %d, %d: want one each (the least loaded)", ka, kb, kc)
	}

	// A resumed connection is moved to its lobby's loop.
	g.closed(sessions["u1"].cs)
	w := &loopWriter{loop: -1}
	cs := openFake(g, "u1", w, tokenOf(sessions["u1"]), 0)
	if cs.session != sessions["u1"] || w.at() != ka {
		t.Fatalf("resumed: same session %v, loop %d, want %d", cs.session == sessions["u1"], w.at(), ka)
	}

	// Homes not asked for between two sweeps are forgotten.
	p := g.hub.place
	p.mu.Lock()
	p.sweepLocked()
	n := len(p.homes)
	p.sweepLocked()
	left, load := len(p.homes), p.lobbies[0]+p.lobbies[1]+p.lobbies[2]
	p.mu.Unlock()
	if n != 3 || left != 0 || load != 0 {
		t.Fatalf("homes %d after one sweep (want 3), %d after two with %d counted (want 0)", n, left, load)
	}
	if k := p.homeOf(b); k != 0 {
		t.Fatalf("a forgotten lobby's new home is loop %d, want the least loaded (0)", k)
	}
}
