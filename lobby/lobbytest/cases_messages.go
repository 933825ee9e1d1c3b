package lobbytest

import (
	"strings"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

func testChat(h *harness) {
	v := h.lobbyWith(public("r"), "a", "b", "c")
	if err := h.s.Chat(h.ctx, "b", "hello"); err != nil {
		h.t.Fatal(err)
	}
	recs := h.expect(ev{Name: protocol.EvChat, To: []string{"a", "b", "c"}})
	if len(recs) == 1 {
		if r := recs[0]; r.From != "b" || r.Text != "hello" || r.TS <= 0 || r.LobbyID != v.ID {
			h.t.Errorf("chat payload: %+v", r)
		}
	}
	cases := []struct {
		text string
		ok   bool
	}{
		{"", false},
		{strings.Repeat("ж", 500), true},
		{strings.Repeat("a", 501), false},
		{"bad \xff utf8", false},
	}
	for _, c := range cases {
		err := h.s.Chat(h.ctx, "a", c.text)
		if c.ok {
			if err != nil {
				h.t.Errorf("chat of %d bytes: %v", len(c.text), err)
			}
			h.expect(ev{Name: protocol.EvChat, To: []string{"a", "b", "c"}})
		} else {
			h.wantCode(err, protocol.CodeBadRequest, "chat "+c.text[:min(len(c.text), 10)])
			h.expect()
		}
	}
	h.wantCode(h.s.Chat(h.ctx, "nobody", "hi"), protocol.CodeNotInLobby, "chat outside a lobby")
}

func testSend(h *harness) {
	v := h.lobbyWith(public("r"), "a", "b", "c", "d")
	h.create("x", public("x's"))
	h.rec.Take()
	data := []byte{1, 2, 3}
	if err := h.s.Send(h.ctx, "b", data, nil); err != nil {
		h.t.Fatal(err)
	}
	recs := h.expect(ev{Name: protocol.EvData, To: []string{"a", "c", "d"}})
	if len(recs) == 1 && (recs[0].From != "b" || string(recs[0].Data) != string(data) || recs[0].LobbyID != v.ID) {
		h.t.Errorf("data payload: %+v", recs[0])
	}
	cases := []struct {
		name string
		to   []string
		want []string // nil: no event
	}{
		{"subset", []string{"c"}, []string{"c"}},
		{"two", []string{"d", "a"}, []string{"a", "d"}},
		{"sender skipped", []string{"b", "c"}, []string{"c"}},
		{"non-members skipped", []string{"x", "nobody", "d"}, []string{"d"}},
		{"duplicates once", []string{"c", "c", "c"}, []string{"c"}},
		{"only self", []string{"b"}, nil},
		{"only strangers", []string{"x"}, nil},
	}
	for _, c := range cases {
		to := make([][]byte, len(c.to))
		for i, u := range c.to {
			to[i] = []byte(u)
		}
		if err := h.s.Send(h.ctx, "b", data, to); err != nil {
			h.t.Errorf("%s: %v", c.name, err)
		}
		if c.want == nil {
			h.expect()
		} else {
			h.expect(ev{Name: protocol.EvData, To: c.want})
		}
	}
	h.wantCode(h.s.Send(h.ctx, "nobody", data, nil), protocol.CodeNotInLobby, "send outside a lobby")
	// Alone in a lobby: nobody to tell.
	if err := h.s.Send(h.ctx, "x", data, nil); err != nil {
		h.t.Error(err)
	}
	h.expect()
}

func testStart(h *harness) {
	p := public("r")
	p.Mode = "duel"
	v := h.lobbyWith(p, "a", "b")
	_, err := h.s.Start(h.ctx, "b")
	h.wantCode(err, protocol.CodeNotHost, "start by a member")
	_, err = h.s.Start(h.ctx, "nobody")
	h.wantCode(err, protocol.CodeNotInLobby, "start outside a lobby")
	h.expect()
	mid, err := h.s.Start(h.ctx, "a")
	if err != nil || mid == "" {
		h.t.Fatalf("start: %q %v", mid, err)
	}
	recs := h.expect(ev{Name: protocol.EvStarted, To: []string{"a", "b"}})
	if len(recs) == 1 && (recs[0].MatchID != mid || recs[0].LobbyID != v.ID) {
		h.t.Errorf("started payload: %+v", recs[0])
	}
	if got := h.lobbyOf("b"); got.State != protocol.StateInGame {
		h.t.Errorf("state %q", got.State)
	}
	_, err = h.s.Start(h.ctx, "a")
	h.wantCode(err, protocol.CodeBadRequest, "start twice")
	h.expect()
	for _, c := range []struct {
		state string
		n     int
	}{{protocol.StateInGame, 1}, {protocol.StateOpen, 0}, {"", 1}} {
		page, err := h.s.List(h.ctx, lobby.ListQuery{State: c.state, Mode: "duel"})
		if err != nil || len(page.Lobbies) != c.n {
			h.t.Errorf("list state %q: %d lobbies, %v", c.state, len(page.Lobbies), err)
		}
	}
}
