package lobbytest

import (
	"slices"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

func (h *harness) inspector() lobby.Inspector {
	h.t.Helper()
	in, ok := h.s.(lobby.Inspector)
	if !ok {
		h.t.Fatalf("%T does not implement lobby.Inspector (GET /admin/lobbies needs it)", h.s)
	}
	return in
}

// inspectNames lists with q and returns the lobbies' names and the cursor.
func (h *harness) inspectNames(q lobby.AdminQuery) ([]string, string) {
	h.t.Helper()
	page, err := h.inspector().InspectList(h.ctx, q)
	if err != nil {
		h.t.Fatalf("InspectList %+v: %v", q, err)
	}
	names := make([]string, len(page.Lobbies))
	for i, l := range page.Lobbies {
		names[i] = l.Name
	}
	return names, page.NextCursor
}

// testInspect: the operator's view shows every lobby (private and in_game
// ones too) with its code and members, filters and pages like the
// listing, and follows changes.
func testInspect(h *harness) {
	in := h.inspector()
	pub := h.lobbyWith(protocol.CreateLobby{Name: "L1", MaxPlayers: 4, Visibility: protocol.VisibilityPublic, Mode: "ctf", Region: "eu"}, "u1", "u2")
	priv := h.create("u3", protocol.CreateLobby{Name: "L2", MaxPlayers: 2, Visibility: protocol.VisibilityPrivate, Password: "pw"})
	h.create("u4", protocol.CreateLobby{Name: "L3", MaxPlayers: 2, Visibility: protocol.VisibilityPublic, Mode: "dm"})
	if _, err := h.s.Start(h.ctx, "u4"); err != nil {
		h.t.Fatal(err)
	}

	a, err := in.Inspect(h.ctx, priv.ID)
	if err != nil {
		h.t.Fatalf("Inspect private: %v", err)
	}
	if a.ID != priv.ID || a.Code != priv.Code || a.Visibility != protocol.VisibilityPrivate || !a.HasPassword ||
		a.Host != "u3" || len(a.Members) != 1 || a.Members[0].UserID != "u3" || !a.Members[0].IsHost ||
		!a.Members[0].Connected || a.Members[0].Name != "N-u3" {
		h.t.Errorf("Inspect private: %+v", a)
	}
	_, err = in.Inspect(h.ctx, "no-such-lobby")
	h.wantCode(err, protocol.CodeNotFound, "Inspect absent")

	before, err := in.Inspect(h.ctx, pub.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	if len(before.Members) != 2 || before.Members[1].UserID != "u2" || before.Members[1].IsHost || before.Members[1].Ready {
		h.t.Errorf("Inspect public: members %+v", before.Members)
	}
	// Every member of one store's lobby is on the same shard ("" for a
	// store that does not record shards); the shard filter finds it.
	shard := before.Members[0].Shard
	if before.Members[1].Shard != shard {
		h.t.Errorf("members on shards %q and %q", shard, before.Members[1].Shard)
	}
	if _, err := h.s.SetMember(h.ctx, "u2", protocol.SetMember{Ready: ptr(true)}); err != nil {
		h.t.Fatal(err)
	}
	if err := h.s.SetConnected(h.ctx, "u1", false); err != nil {
		h.t.Fatal(err)
	}
	after, err := in.Inspect(h.ctx, pub.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	if after.Version <= before.Version {
		h.t.Errorf("version %d after two changes, was %d", after.Version, before.Version)
	}
	if !after.Members[1].Ready || after.Members[0].Connected {
		h.t.Errorf("Inspect after ready and disconnect: %+v", after.Members)
	}

	cases := []struct {
		name string
		q    lobby.AdminQuery
		want []string
	}{
		{"all, newest first", lobby.AdminQuery{}, []string{"L3", "L2", "L1"}},
		{"private", lobby.AdminQuery{Visibility: protocol.VisibilityPrivate}, []string{"L2"}},
		{"public", lobby.AdminQuery{Visibility: protocol.VisibilityPublic}, []string{"L3", "L1"}},
		{"in_game", lobby.AdminQuery{State: protocol.StateInGame}, []string{"L3"}},
		{"mode and region", lobby.AdminQuery{Mode: "ctf", Region: "eu"}, []string{"L1"}},
		{"user", lobby.AdminQuery{User: "u2"}, []string{"L1"}},
		{"user and a filter that excludes", lobby.AdminQuery{User: "u2", State: protocol.StateInGame}, []string{}},
		{"user in no lobby", lobby.AdminQuery{User: "nobody"}, []string{}},
		{"another shard", lobby.AdminQuery{Shard: "no-such-shard"}, []string{}},
	}
	if shard != "" {
		cases = append(cases, struct {
			name string
			q    lobby.AdminQuery
			want []string
		}{"this shard", lobby.AdminQuery{Shard: shard}, []string{"L3", "L2", "L1"}})
	}
	for _, c := range cases {
		if got, next := h.inspectNames(c.q); !slices.Equal(got, c.want) || next != "" {
			h.t.Errorf("%s: got %v (next %q), want %v", c.name, got, next, c.want)
		}
	}

	// Paging, one at a time: every lobby once, newest first.
	var got []string
	cursor := ""
	for range 5 {
		names, next := h.inspectNames(lobby.AdminQuery{Limit: 1, Cursor: cursor})
		got = append(got, names...)
		if next == "" {
			break
		}
		cursor = next
	}
	if !slices.Equal(got, []string{"L3", "L2", "L1"}) {
		h.t.Errorf("paged: %v", got)
	}

	for _, q := range []lobby.AdminQuery{{Limit: -1}, {Limit: lobby.MaxAdminLimit + 1}, {State: "closed"},
		{Visibility: "hidden"}, {Cursor: "!!!"}, {User: string(make([]byte, lobby.MaxUserIDBytes+1))}} {
		_, err := in.InspectList(h.ctx, q)
		h.wantCode(err, protocol.CodeBadRequest, "InspectList bad query")
	}

	if err := h.s.Close(h.ctx, priv.ID); err != nil {
		h.t.Fatal(err)
	}
	_, err = in.Inspect(h.ctx, priv.ID)
	h.wantCode(err, protocol.CodeNotFound, "Inspect closed")
	if got, _ := h.inspectNames(lobby.AdminQuery{}); !slices.Equal(got, []string{"L3", "L1"}) {
		h.t.Errorf("after close: %v", got)
	}
}
