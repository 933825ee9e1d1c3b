package lobby_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

type nopSink struct{}

func (nopSink) Deliver(*lobby.Event) {}

func lobbyOf8(b *testing.B) (*lobby.MemoryStore, context.Context) {
	ctx := context.Background()
	s := lobby.NewMemoryStore(nopSink{}, lobby.MemoryOptions{})
	v, err := s.Create(ctx, lobby.Actor{UserID: "u0"}, protocol.CreateLobby{Name: "b", MaxPlayers: 8, Visibility: protocol.VisibilityPublic})
	if err != nil {
		b.Fatal(err)
	}
	for i := 1; i < 8; i++ {
		if _, err := s.Join(ctx, lobby.Actor{UserID: fmt.Sprintf("u%d", i)}, protocol.JoinLobby{LobbyID: v.ID}); err != nil {
			b.Fatal(err)
		}
	}
	return s, ctx
}

// BenchmarkSend is lobby.send to the 7 others of a lobby of 8.
func BenchmarkSend(b *testing.B) {
	s, ctx := lobbyOf8(b)
	data := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Send(ctx, "u0", data, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendTo is lobby.send with a "to" list of 3.
func BenchmarkSendTo(b *testing.B) {
	s, ctx := lobbyOf8(b)
	data := make([]byte, 64)
	to := [][]byte{[]byte("u3"), []byte("u5"), []byte("u7")}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Send(ctx, "u0", data, to); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendParallel sends in many lobbies at once (lock contention).
func BenchmarkSendParallel(b *testing.B) {
	ctx := context.Background()
	s := lobby.NewMemoryStore(nopSink{}, lobby.MemoryOptions{})
	const lobbies = 64
	hosts := make([]string, lobbies)
	for i := range lobbies {
		hosts[i] = fmt.Sprintf("h%d", i)
		v, err := s.Create(ctx, lobby.Actor{UserID: fmt.Sprintf("h%d", i)}, protocol.CreateLobby{Name: "b", MaxPlayers: 8, Visibility: protocol.VisibilityPublic})
		if err != nil {
			b.Fatal(err)
		}
		for j := range 7 {
			if _, err := s.Join(ctx, lobby.Actor{UserID: fmt.Sprintf("m%d-%d", i, j)}, protocol.JoinLobby{LobbyID: v.ID}); err != nil {
				b.Fatal(err)
			}
		}
	}
	data := make([]byte, 64)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if err := s.Send(ctx, hosts[i%lobbies], data, nil); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkJoinLeave is one join and one leave in a lobby of 7.
func BenchmarkJoinLeave(b *testing.B) {
	s, ctx := lobbyOf8(b)
	if err := s.Leave(ctx, "u7", protocol.ReasonLeft); err != nil {
		b.Fatal(err)
	}
	id := func() string { v, _, _ := s.LobbyOf(ctx, "u0"); return v.ID }()
	a := lobby.Actor{UserID: "joiner", Name: "J"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Join(ctx, a, protocol.JoinLobby{LobbyID: id}); err != nil {
			b.Fatal(err)
		}
		if err := s.Leave(ctx, a.UserID, protocol.ReasonLeft); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkList pages over 10,000 public lobbies in 20 modes and 8
// regions, some full, with and without filters.
func BenchmarkList(b *testing.B) {
	ctx := context.Background()
	s := lobby.NewMemoryStore(nopSink{}, lobby.MemoryOptions{})
	for i := range 10000 {
		p := protocol.CreateLobby{
			Name: fmt.Sprint("L", i), MaxPlayers: 2 + i%3, Visibility: protocol.VisibilityPublic,
			Mode: fmt.Sprint("mode", i%20), Region: fmt.Sprint("region", i%8),
			Attrs: protocol.Attrs{"map": fmt.Sprint("map", i%50), "tier": i % 5},
		}
		v, err := s.Create(ctx, lobby.Actor{UserID: fmt.Sprint("h", i)}, p)
		if err != nil {
			b.Fatal(err)
		}
		if i%3 == 0 { // max 2: now full
			if _, err := s.Join(ctx, lobby.Actor{UserID: fmt.Sprint("j", i)}, protocol.JoinLobby{LobbyID: v.ID}); err != nil {
				b.Fatal(err)
			}
		}
	}
	cases := []struct {
		name string
		q    lobby.ListQuery
	}{
		{"all", lobby.ListQuery{}},
		{"mode", lobby.ListQuery{Mode: "mode7"}},
		{"mode+region", lobby.ListQuery{Mode: "mode7", Region: "region3"}},
		{"attr", lobby.ListQuery{Attrs: map[string]string{"map": "map17"}}},
		{"has_space", lobby.ListQuery{HasSpace: true, Limit: 100}},
		{"rare", lobby.ListQuery{Mode: "mode7", Attrs: map[string]string{"map": "map17", "tier": "2"}}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				page, err := s.List(ctx, c.q)
				if err != nil || len(page.Lobbies) == 0 {
					b.Fatal(err, len(page.Lobbies))
				}
			}
		})
	}
}
