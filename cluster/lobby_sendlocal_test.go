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
