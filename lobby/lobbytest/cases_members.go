package lobbytest

import (
	"strings"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

func testKick(h *harness) {
	v := h.lobbyWith(public("r"), "a", "b", "c")
	h.create("x", public("x's"))
	h.rec.Take()
	h.wantCode(h.s.Kick(h.ctx, "nobody", "b"), protocol.CodeNotInLobby, "kick by a user in no lobby")
	h.wantCode(h.s.Kick(h.ctx, "b", "c"), protocol.CodeNotHost, "kick by a member")
	h.wantCode(h.s.Kick(h.ctx, "a", "a"), protocol.CodeBadRequest, "kick self")
	h.wantCode(h.s.Kick(h.ctx, "a", "x"), protocol.CodeNotFound, "kick a user of another lobby")
	h.wantCode(h.s.Kick(h.ctx, "a", "nobody"), protocol.CodeNotFound, "kick an unknown user")
	h.expect()
	if err := h.s.Kick(h.ctx, "a", "b"); err != nil {
		h.t.Fatal(err)
	}
	recs := h.expect(
		ev{Name: protocol.EvKicked, To: []string{"b"}},
		ev{Name: protocol.EvMemberLeft, To: []string{"c"}, UserID: "b", Reason: protocol.ReasonKicked},
	)
	if len(recs) == 2 && recs[0].LobbyID != v.ID {
		h.t.Errorf("kicked lobby id %q", recs[0].LobbyID)
	}
	h.notInLobby("b")
	if got := h.lobbyOf("a"); len(got.Members) != 2 || got.Host != "a" {
		h.t.Errorf("after kick: %+v", got)
	}
	// The kicked user may come back (kicks are not bans in v1).
	h.join("b", protocol.JoinLobby{Code: v.Code})
}

func testTransferHost(h *harness) {
	h.lobbyWith(public("r"), "a", "b", "c")
	h.create("x", public("x's"))
	h.rec.Take()
	h.wantCode(h.s.TransferHost(h.ctx, "nobody", "b"), protocol.CodeNotInLobby, "transfer by a user in no lobby")
	h.wantCode(h.s.TransferHost(h.ctx, "b", "c"), protocol.CodeNotHost, "transfer by a member")
	h.wantCode(h.s.TransferHost(h.ctx, "a", "a"), protocol.CodeBadRequest, "transfer to self")
	h.wantCode(h.s.TransferHost(h.ctx, "a", "x"), protocol.CodeNotFound, "transfer to another lobby's user")
	h.expect()
	if err := h.s.TransferHost(h.ctx, "a", "c"); err != nil {
		h.t.Fatal(err)
	}
	h.expect(ev{Name: protocol.EvHostChanged, To: []string{"b", "c"}, UserID: "c"})
	v := h.lobbyOf("a")
	if v.Host != "c" {
		h.t.Errorf("host %q", v.Host)
	}
	for _, m := range v.Members {
		if m.IsHost != (m.UserID == "c") {
			h.t.Errorf("is_host of %s: %v", m.UserID, m.IsHost)
		}
	}
	_, err := h.s.Update(h.ctx, "a", protocol.UpdateLobby{Name: ptr("n")})
	h.wantCode(err, protocol.CodeNotHost, "old host updates")
	if _, err := h.s.Update(h.ctx, "c", protocol.UpdateLobby{Name: ptr("n")}); err != nil {
		h.t.Errorf("new host updates: %v", err)
	}
}

func testUpdateFields(h *harness) {
	p := public("r")
	p.Attrs = protocol.Attrs{"a": "1", "b": "2"}
	v := h.lobbyWith(p, "a", "b")
	data := protocol.RawMap{0x81, 0xa1, 'x', 0x02}
	cases := []struct {
		name  string
		u     protocol.UpdateLobby
		check func(protocol.LobbyView) bool
	}{
		{"name", protocol.UpdateLobby{Name: ptr("New")}, func(v protocol.LobbyView) bool { return v.Name == "New" }},
		{"max_players", protocol.UpdateLobby{MaxPlayers: ptr(2)}, func(v protocol.LobbyView) bool { return v.MaxPlayers == 2 }},
		{"visibility", protocol.UpdateLobby{Visibility: ptr(protocol.VisibilityPrivate)}, func(v protocol.LobbyView) bool { return v.Visibility == protocol.VisibilityPrivate }},
		{"locked", protocol.UpdateLobby{Locked: ptr(true)}, func(v protocol.LobbyView) bool { return v.Locked }},
		{"unlocked", protocol.UpdateLobby{Locked: ptr(false)}, func(v protocol.LobbyView) bool { return !v.Locked }},
		{"attrs replace", protocol.UpdateLobby{Attrs: protocol.Attrs{"c": 3}}, func(v protocol.LobbyView) bool {
			return len(v.Attrs) == 1 && v.Attrs["c"] == int64(3)
		}},
		{"attrs clear", protocol.UpdateLobby{Attrs: protocol.Attrs{}}, func(v protocol.LobbyView) bool { return len(v.Attrs) == 0 }},
		{"data", protocol.UpdateLobby{Data: data}, func(v protocol.LobbyView) bool { return string(v.Data) == string(data) }},
		{"public again", protocol.UpdateLobby{Visibility: ptr(protocol.VisibilityPublic), Name: ptr("Both")}, func(v protocol.LobbyView) bool {
			return v.Visibility == protocol.VisibilityPublic && v.Name == "Both"
		}},
	}
	for _, c := range cases {
		got, err := h.s.Update(h.ctx, "a", c.u)
		if err != nil {
			h.t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !c.check(got) || got.Code != v.Code {
			h.t.Errorf("%s: reply %+v", c.name, got)
		}
		if stored := h.lobbyOf("b"); !c.check(stored) {
			h.t.Errorf("%s: stored %+v", c.name, stored)
		}
		recs := h.expect(ev{Name: protocol.EvLobbyUpdated, To: []string{"b"}})
		if len(recs) == 1 && (recs[0].Lobby == nil || !c.check(*recs[0].Lobby) || recs[0].Lobby.Code != v.Code) {
			h.t.Errorf("%s: event lobby %+v", c.name, recs[0].Lobby)
		}
	}
	// Private: out of Get and listings; public again: back in.
	if _, err := h.s.Update(h.ctx, "a", protocol.UpdateLobby{Visibility: ptr(protocol.VisibilityPrivate)}); err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.s.Get(h.ctx, v.ID); codeOf(err) != protocol.CodeNotFound {
		h.t.Errorf("Get after private: %v", err)
	}
	if page, _ := h.s.List(h.ctx, lobby.ListQuery{}); len(page.Lobbies) != 0 {
		h.t.Errorf("listed after private: %d", len(page.Lobbies))
	}
	if _, err := h.s.Update(h.ctx, "a", protocol.UpdateLobby{Visibility: ptr(protocol.VisibilityPublic)}); err != nil {
		h.t.Fatal(err)
	}
	if page, _ := h.s.List(h.ctx, lobby.ListQuery{}); len(page.Lobbies) != 1 {
		h.t.Errorf("not listed after public: %d", len(page.Lobbies))
	}
	h.rec.Take()
	// An empty update changes nothing and tells nobody.
	if got, err := h.s.Update(h.ctx, "a", protocol.UpdateLobby{}); err != nil || got.ID != v.ID {
		h.t.Errorf("empty update: %+v %v", got, err)
	}
	h.expect()
}

func testUpdateErrors(h *harness) {
	h.lobbyWith(public("r"), "a", "b", "c")
	cases := []struct {
		name string
		user string
		u    protocol.UpdateLobby
		code protocol.Code
	}{
		{"not in lobby", "nobody", protocol.UpdateLobby{Name: ptr("n")}, protocol.CodeNotInLobby},
		{"not host", "b", protocol.UpdateLobby{Name: ptr("n")}, protocol.CodeNotHost},
		{"name empty", "a", protocol.UpdateLobby{Name: ptr("")}, protocol.CodeBadRequest},
		{"name long", "a", protocol.UpdateLobby{Name: ptr(strings.Repeat("x", 65))}, protocol.CodeBadRequest},
		{"max 1", "a", protocol.UpdateLobby{MaxPlayers: ptr(1)}, protocol.CodeBadRequest},
		{"max 257", "a", protocol.UpdateLobby{MaxPlayers: ptr(257)}, protocol.CodeBadRequest},
		{"max below members", "a", protocol.UpdateLobby{MaxPlayers: ptr(2)}, protocol.CodeBadRequest},
		{"visibility", "a", protocol.UpdateLobby{Visibility: ptr("hidden")}, protocol.CodeBadRequest},
		{"attrs bool", "a", protocol.UpdateLobby{Attrs: protocol.Attrs{"x": false}}, protocol.CodeBadRequest},
		{"data big", "a", protocol.UpdateLobby{Data: strMap(4091)}, protocol.CodeBadRequest},
		{"data not map", "a", protocol.UpdateLobby{Data: protocol.RawMap{0xc3}}, protocol.CodeBadRequest},
		{"data NaN", "a", protocol.UpdateLobby{Data: nanMap}, protocol.CodeBadRequest},
		{"data -Inf float32", "a", protocol.UpdateLobby{Data: infMap32}, protocol.CodeBadRequest},
	}
	for _, c := range cases {
		_, err := h.s.Update(h.ctx, c.user, c.u)
		h.wantCode(err, c.code, c.name)
	}
	if v := h.lobbyOf("a"); v.Name != "r" || v.MaxPlayers != 8 {
		h.t.Errorf("a refused update changed the lobby: %+v", v)
	}
	if _, err := h.s.Update(h.ctx, "a", protocol.UpdateLobby{MaxPlayers: ptr(3)}); err != nil {
		h.t.Errorf("max equal to members: %v", err)
	}
	h.rec.Take()
	_, err := h.s.Join(h.ctx, actor("d"), protocol.JoinLobby{LobbyID: h.lobbyOf("a").ID})
	h.wantCode(err, protocol.CodeLobbyFull, "join after max lowered")
	h.expect()
}

func testSetMember(h *harness) {
	h.lobbyWith(public("r"), "a", "b", "c")
	data := protocol.RawMap{0x81, 0xa1, 'c', 0xa3, 'r', 'e', 'd'}
	m, err := h.s.SetMember(h.ctx, "b", protocol.SetMember{Ready: ptr(true), Data: data})
	if err != nil || !m.Ready || string(m.Data) != string(data) || m.UserID != "b" {
		h.t.Fatalf("set_member: %+v %v", m, err)
	}
	recs := h.expect(ev{Name: protocol.EvMemberUpdated, To: []string{"a", "c"}})
	if len(recs) == 1 && (recs[0].Member == nil || !recs[0].Member.Ready || recs[0].Member.UserID != "b") {
		h.t.Errorf("member_updated payload: %+v", recs[0].Member)
	}
	// Only the field present changes.
	m, err = h.s.SetMember(h.ctx, "b", protocol.SetMember{Ready: ptr(false)})
	if err != nil || m.Ready || string(m.Data) != string(data) {
		h.t.Errorf("ready only: %+v %v", m, err)
	}
	h.expect(ev{Name: protocol.EvMemberUpdated, To: []string{"a", "c"}})
	if stored, _ := memberOf(h.lobbyOf("a"), "b"); stored.Ready || string(stored.Data) != string(data) {
		h.t.Errorf("stored member: %+v", stored)
	}
	// The host may set their own entry too.
	if m, err := h.s.SetMember(h.ctx, "a", protocol.SetMember{Ready: ptr(true)}); err != nil || !m.IsHost || !m.Ready {
		h.t.Errorf("host set_member: %+v %v", m, err)
	}
	h.expect(ev{Name: protocol.EvMemberUpdated, To: []string{"b", "c"}})

	_, err = h.s.SetMember(h.ctx, "nobody", protocol.SetMember{Ready: ptr(true)})
	h.wantCode(err, protocol.CodeNotInLobby, "set_member outside a lobby")
	_, err = h.s.SetMember(h.ctx, "b", protocol.SetMember{Data: strMap(4091)})
	h.wantCode(err, protocol.CodeBadRequest, "member data too big")
	_, err = h.s.SetMember(h.ctx, "b", protocol.SetMember{Data: protocol.RawMap{0x90}})
	h.wantCode(err, protocol.CodeBadRequest, "member data not a map")
	_, err = h.s.SetMember(h.ctx, "b", protocol.SetMember{Data: nanMap})
	h.wantCode(err, protocol.CodeBadRequest, "member data with NaN")
	_, err = h.s.SetMember(h.ctx, "b", protocol.SetMember{Data: infMap32})
	h.wantCode(err, protocol.CodeBadRequest, "member data with -Inf")
	h.expect()
}

// Data holding a non-finite float, which JSON cannot carry: {"x": NaN}
// (float64) and {"y": [-Inf]} (float32, nested).
var (
	nanMap   = protocol.RawMap{0x81, 0xa1, 'x', 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1}
	infMap32 = protocol.RawMap{0x81, 0xa1, 'y', 0x91, 0xca, 0xff, 0x80, 0, 0}
)

func testSetConnected(h *harness) {
	h.lobbyWith(public("r"), "a", "b")
	if err := h.s.SetConnected(h.ctx, "nobody", false); err != nil {
		h.t.Errorf("SetConnected outside a lobby: %v", err)
	}
	if err := h.s.SetConnected(h.ctx, "b", false); err != nil {
		h.t.Fatal(err)
	}
	recs := h.expect(ev{Name: protocol.EvMemberUpdated, To: []string{"a"}})
	if len(recs) == 1 && (recs[0].Member == nil || recs[0].Member.Connected || recs[0].Member.UserID != "b") {
		h.t.Errorf("member_updated payload: %+v", recs[0].Member)
	}
	if m, _ := memberOf(h.lobbyOf("a"), "b"); m.Connected {
		h.t.Error("still connected")
	}
	if err := h.s.SetConnected(h.ctx, "b", false); err != nil {
		h.t.Fatal(err)
	}
	h.expect() // no change, no event
	if err := h.s.SetConnected(h.ctx, "b", true); err != nil {
		h.t.Fatal(err)
	}
	recs = h.expect(ev{Name: protocol.EvMemberUpdated, To: []string{"a"}})
	if len(recs) == 1 && (recs[0].Member == nil || !recs[0].Member.Connected) {
		h.t.Errorf("reconnected payload: %+v", recs[0].Member)
	}
	// A disconnected host stays host until it leaves for good.
	if err := h.s.SetConnected(h.ctx, "a", false); err != nil {
		h.t.Fatal(err)
	}
	if v := h.lobbyOf("b"); v.Host != "a" {
		h.t.Errorf("host changed on disconnect: %q", v.Host)
	}
}
