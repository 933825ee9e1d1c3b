package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/lobbyd/lobbyd/internal/redistest"
	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/lobby/lobbytest"
	"github.com/lobbyd/lobbyd/protocol"
)

// TestSendLocalOnlyWhenEveryMemberIsHere: SendLocal delivers with no Redis
// while every member of the lobby sits on this shard, and declines (so the
// caller runs Send off its loop) once a member joins from another shard.
func TestSendLocalOnlyWhenEveryMemberIsHere(t *testing.T) {
	c, prefix := redistest.Client(t)
	ctx := context.Background()
	recA := lobbytest.NewRecorder()
	a := newTestStore(t, c, prefix, "a", recA, LobbyOptions{})
	b := newTestStore(t, c, prefix, "b", nil, LobbyOptions{})
	v, err := a.Create(ctx, lobby.Actor{UserID: "u1", Name: "u1"}, protocol.CreateLobby{Name: "l", MaxPlayers: 8, Visibility: protocol.VisibilityPublic})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Join(ctx, lobby.Actor{UserID: "u2", Name: "u2"}, protocol.JoinLobby{LobbyID: v.ID}); err != nil {
		t.Fatal(err)
	}
	recA.Take()
	if !a.SendLocal("u1", []byte("x"), nil) {
		t.Fatal("SendLocal declined in a lobby whose members are all on this shard")
	}
	if got := recA.Take(); len(got) != 1 || got[0].Name != protocol.EvData || len(got[0].To) != 1 || got[0].To[0] != "u2" {
		t.Fatalf("events %+v", got)
	}
	if b.SendLocal("u1", []byte("x"), nil) {
		t.Fatal("a shard with no member delivered")
	}
	if _, err := b.Join(ctx, lobby.Actor{UserID: "u3", Name: "u3"}, protocol.JoinLobby{LobbyID: v.ID}); err != nil {
		t.Fatal(err)
	}
	// a learns of the join from its follower; once it has, the lobby is split.
	waitFor(t, 5*time.Second, "a to see the member on b", func() bool { return !a.SendLocal("u1", []byte("y"), nil) })
}

// TestEventsAfterReadsTheLog: what a session moving between shards may have
// missed is read back from the lobby's log, in order, with versions.
func TestEventsAfterReadsTheLog(t *testing.T) {
	c, prefix := redistest.Client(t)
	ctx := context.Background()
	rec := lobbytest.NewRecorder()
	a := newTestStore(t, c, prefix, "a", rec, LobbyOptions{})
	v, err := a.Create(ctx, lobby.Actor{UserID: "u1", Name: "u1"}, protocol.CreateLobby{Name: "l", MaxPlayers: 8, Visibility: protocol.VisibilityPublic})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"u2", "u3"} {
		if _, err := a.Join(ctx, lobby.Actor{UserID: u, Name: u}, protocol.JoinLobby{LobbyID: v.ID}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Chat(ctx, "u2", "hi"); err != nil {
		t.Fatal(err)
	}
	delivered := rec.Take()
	var all []lobby.Event
	if err := a.EventsAfter(ctx, v.ID, v.Version, func(ev *lobby.Event) { all = append(all, *ev) }); err != nil {
		t.Fatal(err)
	}
	if len(all) != len(delivered) {
		t.Fatalf("log after the create has %d events, the sink got %d", len(all), len(delivered))
	}
	for i := range all {
		if all[i].Name != delivered[i].Name || all[i].Version != delivered[i].Version || all[i].Version <= v.Version {
			t.Fatalf("event %d: log %s v%d, sink %s v%d", i, all[i].Name, all[i].Version, delivered[i].Name, delivered[i].Version)
		}
	}
	var rest []lobby.Event
	if err := a.EventsAfter(ctx, v.ID, all[0].Version, func(ev *lobby.Event) { rest = append(rest, *ev) }); err != nil || len(rest) != len(all)-1 {
		t.Fatalf("after the first: %d events, err %v", len(rest), err)
	}
}
