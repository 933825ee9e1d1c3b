package lobbytest

import (
	"encoding/json"

	gojson "github.com/goccy/go-json"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

// listJSON is the page GET /v1/lobbies answers when it encodes List's page.
func (h *harness) listJSON(q lobby.ListQuery) string {
	h.t.Helper()
	page, err := h.s.List(h.ctx, q)
	if err != nil {
		h.t.Fatalf("list %+v: %v", q, err)
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
		h.t.Fatal(err)
	}
	return string(b)
}

// testListJSON: a store that writes listings as JSON itself (lobby.JSONLister,
// which may keep views encoded) must give List's page byte for byte after
// every kind of change, or a listing would show a stale view. Stores without
// it have nothing to check.
func testListJSON(h *harness) {
	jl, ok := h.s.(lobby.JSONLister)
	if !ok {
		h.t.Log("store is not a lobby.JSONLister")
		return
	}
	check := func(step string) {
		h.t.Helper()
		for _, q := range []lobby.ListQuery{{Limit: 20}, {Limit: 1}, {Limit: 5, Mode: "ctf"}, {Limit: 20, HasSpace: true}} {
			want := h.listJSON(q)
			got, err := jl.AppendListJSON(h.ctx, []byte("prefix"), q)
			if err != nil {
				h.t.Fatalf("%s: %v", step, err)
			}
			if string(got[:6]) != "prefix" || string(got[6:]) != want {
				h.t.Fatalf("%s, query %+v:\n got %s\nwant %s", step, q, got, want)
			}
			if !json.Valid(got[6:]) {
				h.t.Fatalf("%s: invalid JSON %s", step, got)
			}
		}
	}
	check("empty store")
	a := h.create("alice", protocol.CreateLobby{Name: `a <&> "quoted"`, Mode: "ctf", Region: "eu", MaxPlayers: 3,
		Visibility: protocol.VisibilityPublic, Attrs: protocol.Attrs{"map": "dust", "level": 3}})
	h.create("carol", protocol.CreateLobby{Name: "c", Mode: "dm", MaxPlayers: 2, Visibility: protocol.VisibilityPublic})
	check("created")
	steps := []struct {
		name string
		do   func() error
	}{
		{"join", func() error { _, err := h.s.Join(h.ctx, actor("bob"), protocol.JoinLobby{LobbyID: a.ID}); return err }},
		{"update", func() error {
			_, err := h.s.Update(h.ctx, "alice", protocol.UpdateLobby{Name: ptr("renamed"), Locked: ptr(true), Attrs: protocol.Attrs{"map": "nuke"}})
			return err
		}},
		{"set member", func() error { _, err := h.s.SetMember(h.ctx, "bob", protocol.SetMember{Ready: ptr(true)}); return err }},
		{"disconnect", func() error { return h.s.SetConnected(h.ctx, "bob", false) }},
		{"chat (no change)", func() error { return h.s.Chat(h.ctx, "bob", "hi") }},
		{"transfer host", func() error { return h.s.TransferHost(h.ctx, "alice", "bob") }},
		{"leave", func() error { return h.s.Leave(h.ctx, "alice", protocol.ReasonLeft) }},
		{"private", func() error {
			_, err := h.s.Update(h.ctx, "carol", protocol.UpdateLobby{Visibility: ptr(protocol.VisibilityPrivate)})
			return err
		}},
		{"start", func() error { _, err := h.s.Start(h.ctx, "bob"); return err }},
		{"close", func() error { return h.s.Close(h.ctx, a.ID) }},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			h.t.Fatalf("%s: %v", st.name, err)
		}
		check(st.name)
	}
}
