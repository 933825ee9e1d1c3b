package lobbytest

import (
	"strings"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

func testCreateAndViews(h *harness) {
	p := public("Room ü")
	p.Mode, p.Region = "ctf", "eu"
	p.Attrs = protocol.Attrs{"map": "dust", "lvl": int8(3), "big": uint64(1 << 63), "f": 1.5}
	p.Data = protocol.RawMap{0x81, 0xa1, 'k', 0x01}
	v := h.create("a", p)
	t := h.t
	if len(v.ID) < 16 || v.Name != "Room ü" || v.Host != "a" || v.Mode != "ctf" || v.Region != "eu" ||
		v.Visibility != protocol.VisibilityPublic || v.State != protocol.StateOpen || v.MaxPlayers != 8 ||
		v.HasPassword || v.Locked || v.CreatedAt <= 0 {
		t.Errorf("create view: %+v", v)
	}
	if len(v.Code) != lobby.CodeLength || strings.Trim(v.Code, lobby.CodeAlphabet) != "" {
		t.Errorf("code %q is not %d characters of the alphabet", v.Code, lobby.CodeLength)
	}
	if len(v.Members) != 1 {
		t.Fatalf("members: %+v", v.Members)
	}
	if m := v.Members[0]; m.UserID != "a" || m.Name != "N-a" || !m.IsHost || !m.Connected || m.Ready || m.JoinedAt <= 0 {
		t.Errorf("host member: %+v", m)
	}
	if v.Attrs["lvl"] != int64(3) || v.Attrs["map"] != "dust" || v.Attrs["big"] != uint64(1<<63) || v.Attrs["f"] != 1.5 {
		t.Errorf("attrs not normalised: %#v", v.Attrs)
	}
	if string(v.Data) != string(p.Data) {
		t.Errorf("data: %x", v.Data)
	}
	h.expect() // create emits nothing

	g, err := h.s.Get(h.ctx, v.ID)
	if err != nil || g.Code != "" || g.ID != v.ID || len(g.Members) != 1 {
		t.Errorf("Get: %+v, %v (want the view without code)", g, err)
	}
	m := h.lobbyOf("a")
	if m.Code != v.Code || m.ID != v.ID {
		t.Errorf("LobbyOf: %+v", m)
	}
	if st := h.s.Stats(); st.Lobbies != 1 || st.Members != 1 {
		t.Errorf("stats: %+v", st)
	}
	_, err = h.s.Get(h.ctx, "nope")
	h.wantCode(err, protocol.CodeNotFound, "Get unknown")
	h.notInLobby("b")

	// Empty display name falls back to the user id.
	v2, err := h.s.Create(h.ctx, lobby.Actor{UserID: "b"}, public("x"))
	if err != nil || v2.Members[0].Name != "b" {
		t.Errorf("empty name: %+v %v", v2.Members, err)
	}
	if v2.ID == v.ID || v2.Code == v.Code {
		t.Errorf("ids or codes repeat: %s/%s %s/%s", v.ID, v2.ID, v.Code, v2.Code)
	}
	_, err = h.s.Create(h.ctx, actor("a"), public("again"))
	h.wantCode(err, protocol.CodeAlreadyInLobby, "create while in a lobby")
}

func testCreateBounds(h *harness) {
	ok, big := strMap(4090), strMap(4091) // 4096 and 4097 bytes encoded
	attrs17 := protocol.Attrs{}
	for i := range 17 {
		attrs17[string(rune('a'+i))] = i
	}
	cases := []struct {
		name string
		edit func(*protocol.CreateLobby)
		ok   bool
	}{
		{"name empty", func(p *protocol.CreateLobby) { p.Name = "" }, false},
		{"name 64 runes", func(p *protocol.CreateLobby) { p.Name = strings.Repeat("é", 64) }, true},
		{"name 65 runes", func(p *protocol.CreateLobby) { p.Name = strings.Repeat("a", 65) }, false},
		{"name bad utf8", func(p *protocol.CreateLobby) { p.Name = "\xff" }, false},
		{"max 1", func(p *protocol.CreateLobby) { p.MaxPlayers = 1 }, false},
		{"max 2", func(p *protocol.CreateLobby) { p.MaxPlayers = 2 }, true},
		{"max 256", func(p *protocol.CreateLobby) { p.MaxPlayers = 256 }, true},
		{"max 257", func(p *protocol.CreateLobby) { p.MaxPlayers = 257 }, false},
		{"visibility empty", func(p *protocol.CreateLobby) { p.Visibility = "" }, false},
		{"visibility other", func(p *protocol.CreateLobby) { p.Visibility = "friends" }, false},
		{"private", func(p *protocol.CreateLobby) { p.Visibility = protocol.VisibilityPrivate }, true},
		{"attrs 16", func(p *protocol.CreateLobby) { delete(attrs17, "a"); p.Attrs = attrs17 }, true},
		{"attrs 17", func(p *protocol.CreateLobby) {
			p.Attrs = protocol.Attrs{}
			for i := range 17 {
				p.Attrs[string(rune('a'+i))] = "v"
			}
		}, false},
		{"attr bool", func(p *protocol.CreateLobby) { p.Attrs = protocol.Attrs{"x": true} }, false},
		{"attr map", func(p *protocol.CreateLobby) { p.Attrs = protocol.Attrs{"x": map[string]any{}} }, false},
		{"attr nil", func(p *protocol.CreateLobby) { p.Attrs = protocol.Attrs{"x": nil} }, false},
		{"attr empty key", func(p *protocol.CreateLobby) { p.Attrs = protocol.Attrs{"": 1} }, false},
		{"attr long string", func(p *protocol.CreateLobby) { p.Attrs = protocol.Attrs{"x": strings.Repeat("v", 257)} }, false},
		{"data 4096", func(p *protocol.CreateLobby) { p.Data = ok }, true},
		{"data 4097", func(p *protocol.CreateLobby) { p.Data = big }, false},
		{"data not a map", func(p *protocol.CreateLobby) { p.Data = protocol.RawMap{0x01} }, false},
		{"data NaN", func(p *protocol.CreateLobby) { p.Data = nanMap }, false},
		{"data -Inf nested", func(p *protocol.CreateLobby) { p.Data = infMap32 }, false},
		{"data finite float", func(p *protocol.CreateLobby) {
			p.Data = protocol.RawMap{0x81, 0xa1, 'x', 0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0}
		}, true},
		{"mode 64 bytes", func(p *protocol.CreateLobby) { p.Mode = strings.Repeat("m", 64) }, true},
		{"mode 65 bytes", func(p *protocol.CreateLobby) { p.Mode = strings.Repeat("m", 65) }, false},
		{"region 65 bytes", func(p *protocol.CreateLobby) { p.Region = strings.Repeat("r", 65) }, false},
		{"password 129 bytes", func(p *protocol.CreateLobby) { p.Password = strings.Repeat("p", 129) }, false},
	}
	for i, c := range cases {
		p := public("ok")
		c.edit(&p)
		user := "u" + string(rune('A'+i))
		_, err := h.s.Create(h.ctx, actor(user), p)
		if c.ok && err != nil {
			h.t.Errorf("%s: %v", c.name, err)
		}
		if !c.ok {
			h.wantCode(err, protocol.CodeBadRequest, c.name)
			h.notInLobby(user)
		}
	}
	for _, a := range []lobby.Actor{{UserID: ""}, {UserID: strings.Repeat("u", 65)}, {UserID: "x", Name: strings.Repeat("n", 33)}} {
		_, err := h.s.Create(h.ctx, a, public("ok"))
		h.wantCode(err, protocol.CodeBadRequest, "actor "+a.UserID+"/"+a.Name)
	}
}

func testLeaveAndHostMigration(h *harness) {
	v := h.lobbyWith(public("r"), "a", "b", "c")
	if err := h.s.Leave(h.ctx, "a", protocol.ReasonLeft); err != nil {
		h.t.Fatal(err)
	}
	h.expect(
		ev{Name: protocol.EvMemberLeft, To: []string{"b", "c"}, UserID: "a", Reason: protocol.ReasonLeft},
		ev{Name: protocol.EvHostChanged, To: []string{"b", "c"}, UserID: "b"},
	)
	got := h.lobbyOf("c")
	if got.Host != "b" || len(got.Members) != 2 || !got.Members[0].IsHost || got.Members[1].IsHost {
		h.t.Errorf("after host left: %+v", got)
	}
	h.notInLobby("a")
	// A member who is not the host leaves: no host change.
	if err := h.s.Leave(h.ctx, "c", protocol.ReasonLeft); err != nil {
		h.t.Fatal(err)
	}
	h.expect(ev{Name: protocol.EvMemberLeft, To: []string{"b"}, UserID: "c", Reason: protocol.ReasonLeft})
	h.wantCode(h.s.Leave(h.ctx, "a", protocol.ReasonLeft), protocol.CodeNotInLobby, "leave twice")
	h.wantCode(h.s.Leave(h.ctx, "b", "bored"), protocol.CodeBadRequest, "bad reason")
	if g, err := h.s.Get(h.ctx, v.ID); err != nil || len(g.Members) != 1 {
		h.t.Errorf("lobby after leaves: %+v %v", g, err)
	}
}

func testDisconnectHostMigration(h *harness) {
	h.lobbyWith(public("r"), "a", "b", "c")
	// Transfer to c so that migration must pick the longest present (b),
	// not the most recent host.
	if err := h.s.TransferHost(h.ctx, "a", "c"); err != nil {
		h.t.Fatal(err)
	}
	h.rec.Take()
	if err := h.s.Leave(h.ctx, "c", protocol.ReasonDisconnected); err != nil {
		h.t.Fatal(err)
	}
	h.expect(
		ev{Name: protocol.EvMemberLeft, To: []string{"a", "b"}, UserID: "c", Reason: protocol.ReasonDisconnected},
		ev{Name: protocol.EvHostChanged, To: []string{"a", "b"}, UserID: "a"},
	)
	if v := h.lobbyOf("b"); v.Host != "a" {
		h.t.Errorf("host %q, want a (longest present)", v.Host)
	}
}

func testLastMemberDeletes(h *harness) {
	v := h.lobbyWith(public("r"), "a", "b")
	for _, u := range []string{"a", "b"} {
		if err := h.s.Leave(h.ctx, u, protocol.ReasonLeft); err != nil {
			h.t.Fatal(err)
		}
	}
	h.expect(
		ev{Name: protocol.EvMemberLeft, To: []string{"b"}, UserID: "a"},
		ev{Name: protocol.EvHostChanged, To: []string{"b"}, UserID: "b"},
	)
	_, err := h.s.Get(h.ctx, v.ID)
	h.wantCode(err, protocol.CodeNotFound, "Get deleted lobby")
	_, err = h.s.Join(h.ctx, actor("c"), protocol.JoinLobby{Code: v.Code})
	h.wantCode(err, protocol.CodeNotFound, "join deleted lobby by code")
	_, err = h.s.Join(h.ctx, actor("c"), protocol.JoinLobby{LobbyID: v.ID})
	h.wantCode(err, protocol.CodeNotFound, "join deleted lobby by id")
	page, err := h.s.List(h.ctx, lobby.ListQuery{})
	if err != nil || len(page.Lobbies) != 0 {
		h.t.Errorf("listing after deletion: %+v %v", page, err)
	}
	if st := h.s.Stats(); st.Lobbies != 0 || st.Members != 0 {
		h.t.Errorf("stats: %+v", st)
	}
	h.wantCode(h.s.Close(h.ctx, v.ID), protocol.CodeNotFound, "close deleted")
}

func testClose(h *harness) {
	p := public("r")
	p.Visibility = protocol.VisibilityPrivate
	v := h.lobbyWith(p, "a", "b", "c")
	h.lobbyWith(public("other"), "d", "e")
	h.wantCode(h.s.Close(h.ctx, "nope"), protocol.CodeNotFound, "close unknown")
	if err := h.s.Close(h.ctx, v.ID); err != nil {
		h.t.Fatal(err)
	}
	all := []string{"a", "b", "c"}
	h.expect(
		ev{Name: protocol.EvMemberLeft, To: all, UserID: "a", Reason: protocol.ReasonClosed},
		ev{Name: protocol.EvMemberLeft, To: all, UserID: "b", Reason: protocol.ReasonClosed},
		ev{Name: protocol.EvMemberLeft, To: all, UserID: "c", Reason: protocol.ReasonClosed},
	)
	for _, u := range all {
		h.notInLobby(u)
	}
	_, err := h.s.Join(h.ctx, actor("x"), protocol.JoinLobby{Code: v.Code})
	h.wantCode(err, protocol.CodeNotFound, "join closed lobby")
	if st := h.s.Stats(); st.Lobbies != 1 || st.Members != 2 {
		h.t.Errorf("stats after close: %+v", st)
	}
	h.create("a", public("fresh")) // members are free again
}

// strMap is the MessagePack map {"k": <n-byte string>} (n < 65536): 6+n bytes.
func strMap(n int) protocol.RawMap {
	b := []byte{0x81, 0xa1, 'k', 0xda, byte(n >> 8), byte(n)}
	return append(b, strings.Repeat("x", n)...)
}
