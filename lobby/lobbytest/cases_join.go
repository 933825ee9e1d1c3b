package lobbytest

import (
	"strings"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

func testJoinByIDAndCode(h *harness) {
	v := h.create("a", public("r"))
	got := h.join("b", protocol.JoinLobby{LobbyID: v.ID})
	if got.ID != v.ID || got.Code != v.Code || len(got.Members) != 2 {
		h.t.Errorf("join by id view: %+v", got)
	}
	if m := got.Members[1]; m.UserID != "b" || m.Name != "N-b" || m.IsHost || !m.Connected || m.JoinedAt < got.Members[0].JoinedAt {
		h.t.Errorf("joined member: %+v", m)
	}
	recs := h.expect(ev{Name: protocol.EvMemberJoined, To: []string{"a"}})
	if len(recs) == 1 && (recs[0].Member == nil || recs[0].Member.UserID != "b" || recs[0].LobbyID != v.ID) {
		h.t.Errorf("member_joined payload: %+v", recs[0])
	}
	// Codes are case-insensitive.
	h.join("c", protocol.JoinLobby{Code: strings.ToLower(v.Code)})
	h.expect(ev{Name: protocol.EvMemberJoined, To: []string{"a", "b"}})
	// Member order is join order.
	ids := []string{}
	for _, m := range h.lobbyOf("a").Members {
		ids = append(ids, m.UserID)
	}
	if join(ids) != "a,b,c" {
		h.t.Errorf("member order %v", ids)
	}
	// Code and id together must name the same lobby.
	other := h.create("d", public("o"))
	_, err := h.s.Join(h.ctx, actor("e"), protocol.JoinLobby{Code: v.Code, LobbyID: other.ID})
	h.wantCode(err, protocol.CodeNotFound, "code and id of different lobbies")
	h.join("e", protocol.JoinLobby{Code: v.Code, LobbyID: v.ID})
	// A password given to a lobby without one is ignored.
	h.join("f", protocol.JoinLobby{LobbyID: other.ID, Password: "x"})

	for _, c := range []protocol.JoinLobby{{}, {Password: "x"}} {
		_, err := h.s.Join(h.ctx, actor("z"), c)
		h.wantCode(err, protocol.CodeBadRequest, "join without id or code")
	}
	for _, c := range []string{"ZZZZZZ", "O0I1L0", "abc", "", "ABCDEFG"} {
		_, err := h.s.Join(h.ctx, actor("z"), protocol.JoinLobby{Code: c, LobbyID: "x"})
		h.wantCode(err, protocol.CodeNotFound, "join by code "+c)
	}
	_, err = h.s.Join(h.ctx, lobby.Actor{UserID: ""}, protocol.JoinLobby{LobbyID: v.ID})
	h.wantCode(err, protocol.CodeBadRequest, "join with empty user id")
}

// testJoinCheckOrder walks a lobby that fails every check down the order
// not_found, already_in_lobby, lobby_locked, wrong_password, lobby_full.
func testJoinCheckOrder(h *harness) {
	p := public("r")
	p.MaxPlayers = 2
	p.Password = "pw"
	v := h.lobbyWith(p, "a", "b") // full
	if _, err := h.s.Update(h.ctx, "a", protocol.UpdateLobby{Locked: ptr(true)}); err != nil {
		h.t.Fatal(err)
	}
	h.create("m", public("m's")) // m is in a lobby already

	_, err := h.s.Join(h.ctx, actor("m"), protocol.JoinLobby{LobbyID: "absent"})
	h.wantCode(err, protocol.CodeNotFound, "in a lobby, joining an absent one")
	_, err = h.s.Join(h.ctx, actor("m"), protocol.JoinLobby{Code: v.Code})
	h.wantCode(err, protocol.CodeAlreadyInLobby, "in a lobby, joining a locked full one")
	_, err = h.s.Join(h.ctx, actor("a"), protocol.JoinLobby{Code: v.Code, Password: "pw"})
	h.wantCode(err, protocol.CodeAlreadyInLobby, "joining one's own lobby")
	_, err = h.s.Join(h.ctx, actor("x"), protocol.JoinLobby{Code: v.Code})
	h.wantCode(err, protocol.CodeLobbyLocked, "locked, no password, full")

	if _, err := h.s.Update(h.ctx, "a", protocol.UpdateLobby{Locked: ptr(false)}); err != nil {
		h.t.Fatal(err)
	}
	for _, pw := range []string{"", "PW", "pw ", strings.Repeat("p", 200)} {
		_, err = h.s.Join(h.ctx, actor("x"), protocol.JoinLobby{Code: v.Code, Password: pw})
		h.wantCode(err, protocol.CodeWrongPassword, "full, password "+pw)
	}
	_, err = h.s.Join(h.ctx, actor("x"), protocol.JoinLobby{Code: v.Code, Password: "pw"})
	h.wantCode(err, protocol.CodeLobbyFull, "full, right password")

	if err := h.s.Leave(h.ctx, "b", protocol.ReasonLeft); err != nil {
		h.t.Fatal(err)
	}
	h.rec.Take()
	h.join("x", protocol.JoinLobby{Code: v.Code, Password: "pw"})
	h.expect(ev{Name: protocol.EvMemberJoined, To: []string{"a"}})
	h.notInLobby("b")

	// in_game refuses joins like locked.
	if err := h.s.Leave(h.ctx, "x", protocol.ReasonLeft); err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.s.Start(h.ctx, "a"); err != nil {
		h.t.Fatal(err)
	}
	_, err = h.s.Join(h.ctx, actor("x"), protocol.JoinLobby{Code: v.Code, Password: "pw"})
	h.wantCode(err, protocol.CodeLobbyLocked, "in_game")
}

func testPrivateLobby(h *harness) {
	p := public("secret")
	p.Visibility = protocol.VisibilityPrivate
	v := h.create("a", p)
	if v.Code == "" || v.Visibility != protocol.VisibilityPrivate {
		h.t.Fatalf("private view: %+v", v)
	}
	_, err := h.s.Join(h.ctx, actor("b"), protocol.JoinLobby{LobbyID: v.ID})
	h.wantCode(err, protocol.CodeNotFound, "private by id")
	_, err = h.s.Get(h.ctx, v.ID)
	h.wantCode(err, protocol.CodeNotFound, "Get private")
	page, err := h.s.List(h.ctx, lobby.ListQuery{})
	if err != nil || len(page.Lobbies) != 0 {
		h.t.Errorf("private lobby listed: %+v %v", page, err)
	}
	got := h.join("b", protocol.JoinLobby{Code: v.Code})
	if got.ID != v.ID || got.Code != v.Code {
		h.t.Errorf("join by code: %+v", got)
	}
	// A member still sees it (with code).
	if m := h.lobbyOf("b"); m.Code != v.Code {
		h.t.Errorf("member view: %+v", m)
	}
}

func testPassword(h *harness) {
	p := public("r")
	p.Password = "one"
	v := h.create("a", p)
	if !v.HasPassword {
		h.t.Error("has_password false")
	}
	if g, _ := h.s.Get(h.ctx, v.ID); !g.HasPassword {
		h.t.Error("public view: has_password false")
	}
	// Change.
	u, err := h.s.Update(h.ctx, "a", protocol.UpdateLobby{Password: ptr("two")})
	if err != nil || !u.HasPassword {
		h.t.Fatalf("change password: %+v %v", u, err)
	}
	_, err = h.s.Join(h.ctx, actor("b"), protocol.JoinLobby{LobbyID: v.ID, Password: "one"})
	h.wantCode(err, protocol.CodeWrongPassword, "old password")
	h.join("b", protocol.JoinLobby{LobbyID: v.ID, Password: "two"})
	// Remove.
	u, err = h.s.Update(h.ctx, "a", protocol.UpdateLobby{Password: ptr("")})
	if err != nil || u.HasPassword {
		h.t.Fatalf("remove password: %+v %v", u, err)
	}
	h.join("c", protocol.JoinLobby{LobbyID: v.ID})
	// Set on a lobby that had none.
	if _, err := h.s.Update(h.ctx, "a", protocol.UpdateLobby{Password: ptr("three")}); err != nil {
		h.t.Fatal(err)
	}
	_, err = h.s.Join(h.ctx, actor("d"), protocol.JoinLobby{LobbyID: v.ID})
	h.wantCode(err, protocol.CodeWrongPassword, "missing password")
	_, err = h.s.Update(h.ctx, "a", protocol.UpdateLobby{Password: ptr(strings.Repeat("p", 129))})
	h.wantCode(err, protocol.CodeBadRequest, "password too long")
}
