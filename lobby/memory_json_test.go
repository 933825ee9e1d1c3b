package lobby_test

import (
	"context"
	"encoding/json"
	"testing"

	gojson "github.com/goccy/go-json"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

// listJSON is what GET /v1/lobbies answers when it encodes List's page.
func listJSON(t *testing.T, s *lobby.MemoryStore, q lobby.ListQuery) string {
	t.Helper()
	page, err := s.List(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	var next *string
	if page.NextCursor != "" {
		next = &page.NextCursor
	}
	if page.Lobbies == nil {
		page.Lobbies = []protocol.LobbyView{}
	}
	b, err := gojson.Marshal(struct {
		Lobbies    []protocol.LobbyView `json:"lobbies"`
		NextCursor *string              `json:"next_cursor"`
	}{page.Lobbies, next})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// AppendListJSON must give List's page byte for byte after every kind of
// change, or a listing would show a stale cached view.
func TestAppendListJSONMatchesList(t *testing.T) {
	ctx := context.Background()
	s := lobby.NewMemoryStore(nil, lobby.MemoryOptions{})
	check := func(step string) {
		t.Helper()
		for _, q := range []lobby.ListQuery{{Limit: 20}, {Limit: 1}, {Limit: 5, Mode: "ctf"}, {Limit: 20, HasSpace: true}} {
			want := listJSON(t, s, q)
			got, err := s.AppendListJSON(ctx, []byte("prefix"), q)
			if err != nil {
				t.Fatal(err)
			}
			if string(got[len("prefix"):]) != want {
				t.Fatalf("%s, query %+v:\n got %s\nwant %s", step, q, got[len("prefix"):], want)
			}
			if !json.Valid(got[len("prefix"):]) {
				t.Fatalf("%s: invalid JSON %s", step, got)
			}
		}
	}
	check("empty store")
	a, err := s.Create(ctx, lobby.Actor{UserID: "alice", Name: "Alice"}, protocol.CreateLobby{Name: "a <&> \"quoted\"", Mode: "ctf", Region: "eu", MaxPlayers: 3, Visibility: protocol.VisibilityPublic,
		Attrs: protocol.Attrs{"map": "dust", "level": 3}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, lobby.Actor{UserID: "carol", Name: "Carol"}, protocol.CreateLobby{Name: "c", Mode: "dm", MaxPlayers: 2, Visibility: protocol.VisibilityPublic}); err != nil {
		t.Fatal(err)
	}
	check("created")
	steps := []struct {
		name string
		do   func() error
	}{
		{"join", func() error {
			_, err := s.Join(ctx, lobby.Actor{UserID: "bob", Name: "Bob"}, protocol.JoinLobby{LobbyID: a.ID})
			return err
		}},
		{"update", func() error {
			name, locked := "renamed", true
			_, err := s.Update(ctx, "alice", protocol.UpdateLobby{Name: &name, Locked: &locked, Attrs: protocol.Attrs{"map": "nuke"}})
			return err
		}},
		{"set member", func() error {
			ready := true
			_, err := s.SetMember(ctx, "bob", protocol.SetMember{Ready: &ready})
			return err
		}},
		{"disconnect", func() error { return s.SetConnected(ctx, "bob", false) }},
		{"chat (no change)", func() error { return s.Chat(ctx, "bob", "hi") }},
		{"transfer host", func() error { return s.TransferHost(ctx, "alice", "bob") }},
		{"leave", func() error { return s.Leave(ctx, "alice", protocol.ReasonLeft) }},
		{"start", func() error { _, err := s.Start(ctx, "bob"); return err }},
		{"close", func() error { return s.Close(ctx, a.ID) }},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		check(st.name)
	}
}
