package e2e

import (
	"context"
	"errors"
	"testing"
	"time"

	sdk "github.com/lobbyd/lobbyd/client"
	"github.com/lobbyd/lobbyd/protocol"
)

// End-to-end tests written with the Go SDK (package client) where raw
// frames are not the point: every op of docs/protocol.md §3 through its
// typed method, on one shard and across two shards of a cluster.

func sdkDial(t *testing.T, s *server, user string) *sdk.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), watchWait)
	defer cancel()
	c, err := sdk.Dial(ctx, "ws://"+s.addr+"/ws", sdk.TokenFunc(func(context.Context) (string, error) {
		return s.auth.Issue(user, user, time.Hour)
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sdkNext waits for the next event of c with the name.
func sdkNext(t *testing.T, c *sdk.Client, name string) sdk.Event {
	t.Helper()
	deadline := time.After(watchWait)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatalf("events closed: %v", c.Err())
			}
			if ev.Name == name {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s within %v", name, watchWait)
		}
	}
}

func TestSDKEveryOp(t *testing.T) {
	sdkEveryOp(t, []*server{startServer(t, nil)})
}

func TestClusterSDKEveryOp(t *testing.T) {
	sdkEveryOp(t, startShards(t, 2, nil))
}

// sdkEveryOp plays a lobby's life with the host on the first shard and the
// guests on the last, then a squad-free duel through matchmaking.
func sdkEveryOp(t *testing.T, sh []*server) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*watchWait)
	defer cancel()
	a, b := sh[0], sh[len(sh)-1]
	host, ben, cat := sdkDial(t, a, "host"), sdkDial(t, b, "ben"), sdkDial(t, b, "cat")
	if ms, err := host.Ping(ctx); err != nil || ms <= 0 {
		t.Fatalf("ping: %d %v", ms, err)
	}
	lv, err := host.CreateLobby(ctx, protocol.CreateLobby{Name: "sdk", MaxPlayers: 4, Visibility: protocol.VisibilityPublic,
		Password: "pw", Mode: "ctf", Attrs: protocol.Attrs{"map": "dusk"}})
	if err != nil || lv.Code == "" || !lv.HasPassword {
		t.Fatalf("create: %+v %v", lv, err)
	}
	var pe *protocol.Error
	if _, err := ben.JoinLobby(ctx, protocol.JoinLobby{LobbyID: lv.ID}); !errors.As(err, &pe) || pe.Code != protocol.CodeWrongPassword {
		t.Fatalf("join without the password: %v", err)
	}
	if _, err := ben.JoinLobby(ctx, protocol.JoinLobby{LobbyID: lv.ID, Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	if _, err := cat.JoinLobby(ctx, protocol.JoinLobby{Code: lv.Code, Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	if d := sdkNext(t, host, protocol.EvMemberJoined).Data.(*protocol.MemberJoinedEv); d.Member.UserID != "ben" {
		t.Fatalf("first joined %+v", d)
	}
	locked := true
	if up, err := host.UpdateLobby(ctx, protocol.UpdateLobby{Locked: &locked}); err != nil || !up.Locked || up.Name != "sdk" {
		t.Fatalf("update: %+v %v", up, err)
	}
	if d := sdkNext(t, ben, protocol.EvLobbyUpdated).Data.(*protocol.LobbyUpdatedEv); !d.Lobby.Locked {
		t.Fatalf("ben's lobby.updated %+v", d)
	}
	if m, err := ben.SetReady(ctx, true); err != nil || !m.Ready {
		t.Fatalf("ready: %+v %v", m, err)
	}
	if err := ben.Chat(ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	if d := sdkNext(t, cat, protocol.EvChat).Data.(*protocol.ChatEv); d.From != "ben" || d.Text != "hello" {
		t.Fatalf("chat %+v", d)
	}
	if err := host.Send(ctx, []byte{1, 2, 3}, "cat"); err != nil {
		t.Fatal(err)
	}
	if d := sdkNext(t, cat, protocol.EvData).Data.(*protocol.DataEv); d.From != "host" || string(d.Data) != "\x01\x02\x03" {
		t.Fatalf("data %+v", d)
	}
	if err := host.Kick(ctx, "cat"); err != nil {
		t.Fatal(err)
	}
	if d := sdkNext(t, cat, protocol.EvKicked).Data.(*protocol.KickedEv); d.LobbyID != lv.ID {
		t.Fatalf("kicked %+v", d)
	}
	if err := host.TransferHost(ctx, "ben"); err != nil {
		t.Fatal(err)
	}
	if d := sdkNext(t, ben, protocol.EvHostChanged).Data.(*protocol.HostChangedEv); d.Host != "ben" {
		t.Fatalf("host_changed %+v", d)
	}
	if err := host.Start(ctx); !errors.As(err, &pe) || pe.Code != protocol.CodeNotHost {
		t.Fatalf("start by a former host: %v", err)
	}
	if err := ben.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if d := sdkNext(t, host, protocol.EvStarted).Data.(*protocol.StartedEv); d.LobbyID != lv.ID || d.MatchID == "" {
		t.Fatalf("started %+v", d)
	}
	for _, c := range []*sdk.Client{host, ben} {
		if err := c.LeaveLobby(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// Matchmaking: a ticket cancelled, then a duel between shards.
	tk, err := cat.Enqueue(ctx, protocol.Enqueue{Queue: "duel"})
	if err != nil || tk.State != "queued" {
		t.Fatalf("enqueue: %+v %v", tk, err)
	}
	if err := cat.CancelTicket(ctx, tk.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := cat.Enqueue(ctx, protocol.Enqueue{Queue: "duel"}); err != nil {
		t.Fatal(err)
	}
	if _, err := host.Enqueue(ctx, protocol.Enqueue{Queue: "duel"}); err != nil {
		t.Fatal(err)
	}
	m1 := sdkNext(t, cat, protocol.EvMatched).Data.(*protocol.MatchedEv)
	m2 := sdkNext(t, host, protocol.EvMatched).Data.(*protocol.MatchedEv)
	if m1.MatchID != m2.MatchID || m1.Lobby.ID != m2.Lobby.ID || len(m1.Lobby.Members) != 2 {
		t.Fatalf("matched %+v / %+v", m1, m2)
	}
}
