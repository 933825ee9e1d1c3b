package lobbytest

import (
	"strings"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

func testCreateMatch(h *harness) {
	l1 := h.lobbyWith(public("one"), "a", "c") // a hosts, c stays behind
	l2 := h.lobbyWith(public("two"), "d", "b") // b leaves, d stays host
	h.lobbyWith(public("three"), "e")          // e's lobby goes away with e
	v, err := h.s.CreateMatch(h.ctx, lobby.MatchParams{
		MatchID: "m1", Name: "Match", Mode: "duel", Region: "eu",
		Members: []lobby.Actor{actor("b"), actor("a"), actor("e"), actor("f")},
	})
	if err != nil {
		h.t.Fatal(err)
	}
	recs := h.expect(
		ev{Name: protocol.EvMemberLeft, To: []string{"d"}, UserID: "b", Reason: protocol.ReasonLeft},
		ev{Name: protocol.EvMemberLeft, To: []string{"c"}, UserID: "a", Reason: protocol.ReasonLeft},
		ev{Name: protocol.EvHostChanged, To: []string{"c"}, UserID: "c"},
	)
	if len(recs) == 3 && (recs[0].LobbyID != l2.ID || recs[1].LobbyID != l1.ID) {
		h.t.Errorf("events from the wrong lobbies: %s", describe(recs))
	}
	ids := []string{}
	for _, m := range v.Members {
		ids = append(ids, m.UserID)
		if m.IsHost != (m.UserID == "b") || m.Name != "N-"+m.UserID {
			h.t.Errorf("match member %+v", m)
		}
	}
	if join(ids) != "b,a,e,f" || v.Host != "b" || v.State != protocol.StateInGame ||
		v.Visibility != protocol.VisibilityPrivate || v.Code == "" || v.Mode != "duel" || v.Region != "eu" ||
		v.MaxPlayers != 4 || v.Name != "Match" || v.ID == l1.ID || v.ID == l2.ID {
		h.t.Errorf("match lobby: %+v", v)
	}
	for _, u := range []string{"a", "b", "e", "f"} {
		if got := h.lobbyOf(u); got.ID != v.ID {
			h.t.Errorf("%s is in %s, want %s", u, got.ID, v.ID)
		}
	}
	if got := h.lobbyOf("c"); got.ID != l1.ID || got.Host != "c" || len(got.Members) != 1 {
		h.t.Errorf("old lobby: %+v", got)
	}
	if got := h.lobbyOf("d"); got.ID != l2.ID || got.Host != "d" {
		h.t.Errorf("old lobby 2: %+v", got)
	}
	_, err = h.s.Get(h.ctx, v.ID)
	h.wantCode(err, protocol.CodeNotFound, "Get a match lobby")
	_, err = h.s.Join(h.ctx, actor("g"), protocol.JoinLobby{Code: v.Code})
	h.wantCode(err, protocol.CodeLobbyLocked, "join a match lobby")
	if st := h.s.Stats(); st.Lobbies != 3 || st.Members != 6 {
		h.t.Errorf("stats: %+v", st)
	}
	// A member without a live connection starts connected: false.
	v3, err := h.s.CreateMatch(h.ctx, lobby.MatchParams{MatchID: "m3",
		Members: []lobby.Actor{actor("on"), {UserID: "off", Name: "N-off", Offline: true}}})
	if err != nil || len(v3.Members) != 2 || !v3.Members[0].Connected || v3.Members[1].Connected {
		h.t.Errorf("offline member: %+v %v", v3.Members, err)
	}
	if got, _ := memberOf(h.lobbyOf("off"), "off"); got.Connected {
		h.t.Errorf("stored offline member: %+v", got)
	}
	// Default name and size.
	v2, err := h.s.CreateMatch(h.ctx, lobby.MatchParams{MatchID: "m2", Members: []lobby.Actor{actor("x")}})
	if err != nil || v2.Name == "" || v2.MaxPlayers != 2 || v2.Host != "x" {
		h.t.Errorf("defaults: %+v %v", v2, err)
	}
}

func testCreateMatchErrors(h *harness) {
	cases := []struct {
		name string
		p    lobby.MatchParams
	}{
		{"no members", lobby.MatchParams{MatchID: "m"}},
		{"no match id", lobby.MatchParams{Members: []lobby.Actor{actor("a")}}},
		{"twice the same user", lobby.MatchParams{MatchID: "m", Members: []lobby.Actor{actor("a"), actor("a")}}},
		{"max below members", lobby.MatchParams{MatchID: "m", MaxPlayers: 2, Members: []lobby.Actor{actor("a"), actor("b"), actor("c")}}},
		{"max too big", lobby.MatchParams{MatchID: "m", MaxPlayers: 300, Members: []lobby.Actor{actor("a")}}},
		{"empty user id", lobby.MatchParams{MatchID: "m", Members: []lobby.Actor{{}}}},
		{"long name", lobby.MatchParams{MatchID: "m", Name: strings.Repeat("n", 65), Members: []lobby.Actor{actor("a")}}},
		{"long mode", lobby.MatchParams{MatchID: "m", Mode: strings.Repeat("n", 65), Members: []lobby.Actor{actor("a")}}},
	}
	h.lobbyWith(public("r"), "a", "b")
	for _, c := range cases {
		_, err := h.s.CreateMatch(h.ctx, c.p)
		h.wantCode(err, protocol.CodeBadRequest, c.name)
	}
	h.expect() // nobody moved
	if v := h.lobbyOf("a"); len(v.Members) != 2 {
		h.t.Errorf("a refused match changed the lobby: %+v", v)
	}
}
