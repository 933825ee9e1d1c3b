package lobbytest

import (
	"fmt"
	"slices"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

func (h *harness) listIDs(q lobby.ListQuery) ([]string, string) {
	h.t.Helper()
	page, err := h.s.List(h.ctx, q)
	if err != nil {
		h.t.Fatalf("list %+v: %v", q, err)
	}
	ids := make([]string, len(page.Lobbies))
	for i, v := range page.Lobbies {
		ids[i] = v.Name
		if v.Code != "" {
			h.t.Errorf("listing shows the code of %s", v.Name)
		}
		if v.Visibility != protocol.VisibilityPublic {
			h.t.Errorf("listing shows private %s", v.Name)
		}
	}
	return ids, page.NextCursor
}

func testListFilters(h *harness) {
	mk := func(user, name, mode, region string, maxP int, attrs protocol.Attrs, private bool) {
		p := protocol.CreateLobby{Name: name, MaxPlayers: maxP, Visibility: protocol.VisibilityPublic,
			Mode: mode, Region: region, Attrs: attrs}
		if private {
			p.Visibility = protocol.VisibilityPrivate
		}
		h.create(user, p)
	}
	mk("u1", "L1", "ctf", "eu", 2, protocol.Attrs{"map": "dust", "lvl": 3}, false)
	mk("u2", "L2", "ctf", "us", 4, protocol.Attrs{"map": "nuke", "lvl": 3.0}, false)
	mk("u3", "L3", "dm", "eu", 2, protocol.Attrs{"map": "dust", "ratio": 0.5}, false)
	mk("u4", "L4", "ctf", "eu", 4, nil, true) // private: never listed
	mk("u5", "L5", "", "", 8, nil, false)
	h.join("v1", protocol.JoinLobby{LobbyID: h.lobbyOf("u1").ID}) // L1 full
	h.join("v3", protocol.JoinLobby{LobbyID: h.lobbyOf("u3").ID}) // L3 full
	if _, err := h.s.Start(h.ctx, "u2"); err != nil {
		h.t.Fatal(err)
	}
	cases := []struct {
		name string
		q    lobby.ListQuery
		want []string
	}{
		{"all, newest first", lobby.ListQuery{}, []string{"L5", "L3", "L2", "L1"}},
		{"mode", lobby.ListQuery{Mode: "ctf"}, []string{"L2", "L1"}},
		{"region", lobby.ListQuery{Region: "eu"}, []string{"L3", "L1"}},
		{"mode and region", lobby.ListQuery{Mode: "ctf", Region: "eu"}, []string{"L1"}},
		{"unknown mode", lobby.ListQuery{Mode: "race"}, []string{}},
		{"state open", lobby.ListQuery{State: protocol.StateOpen}, []string{"L5", "L3", "L1"}},
		{"state in_game", lobby.ListQuery{State: protocol.StateInGame}, []string{"L2"}},
		{"has space", lobby.ListQuery{HasSpace: true}, []string{"L5", "L2"}},
		{"attr string", lobby.ListQuery{Attrs: map[string]string{"map": "dust"}}, []string{"L3", "L1"}},
		{"attr integer, also as float", lobby.ListQuery{Attrs: map[string]string{"lvl": "3"}}, []string{"L2", "L1"}},
		{"attr float", lobby.ListQuery{Attrs: map[string]string{"ratio": "0.5"}}, []string{"L3"}},
		{"two attrs", lobby.ListQuery{Attrs: map[string]string{"map": "dust", "lvl": "3"}}, []string{"L1"}},
		{"attr missing", lobby.ListQuery{Attrs: map[string]string{"nope": "1"}}, []string{}},
		{"everything", lobby.ListQuery{Mode: "ctf", Region: "eu", State: protocol.StateOpen, Attrs: map[string]string{"map": "dust"}}, []string{"L1"}},
		{"limit", lobby.ListQuery{Limit: 2}, []string{"L5", "L3"}},
	}
	for _, c := range cases {
		got, _ := h.listIDs(c.q)
		if !slices.Equal(got, c.want) {
			h.t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
	// Attrs changes re-file the lobby.
	if _, err := h.s.Update(h.ctx, "u1", protocol.UpdateLobby{Attrs: protocol.Attrs{"map": "nuke"}}); err != nil {
		h.t.Fatal(err)
	}
	if got, _ := h.listIDs(lobby.ListQuery{Attrs: map[string]string{"map": "nuke"}}); !slices.Equal(got, []string{"L2", "L1"}) {
		h.t.Errorf("after attrs update: %v", got)
	}
	if got, _ := h.listIDs(lobby.ListQuery{Attrs: map[string]string{"lvl": "3"}}); !slices.Equal(got, []string{"L2"}) {
		h.t.Errorf("after attrs update, old attr: %v", got)
	}
	// max_players changes has_space.
	if _, err := h.s.Update(h.ctx, "u1", protocol.UpdateLobby{MaxPlayers: ptr(3)}); err != nil {
		h.t.Fatal(err)
	}
	if got, _ := h.listIDs(lobby.ListQuery{HasSpace: true}); !slices.Equal(got, []string{"L5", "L2", "L1"}) {
		h.t.Errorf("after max_players update: %v", got)
	}
	// Default limit is 20.
	for i := range 25 {
		h.create(fmt.Sprintf("w%d", i), public(fmt.Sprintf("W%d", i)))
	}
	if got, next := h.listIDs(lobby.ListQuery{}); len(got) != lobby.DefaultListLimit || next == "" {
		h.t.Errorf("default page: %d lobbies, next %q", len(got), next)
	}
	if got, next := h.listIDs(lobby.ListQuery{Limit: 100}); len(got) != 29 || next != "" {
		h.t.Errorf("whole listing: %d lobbies, next %q", len(got), next)
	}
}

func testListErrors(h *harness) {
	h.create("a", public("r"))
	_, next := h.listIDs(lobby.ListQuery{Limit: 1})
	if next != "" {
		h.t.Errorf("one lobby, limit 1: next %q", next)
	}
	h.create("b", public("s"))
	_, next = h.listIDs(lobby.ListQuery{Limit: 1})
	if next == "" {
		h.t.Fatal("no next cursor")
	}
	cases := []struct {
		name string
		q    lobby.ListQuery
	}{
		{"limit negative", lobby.ListQuery{Limit: -1}},
		{"limit 101", lobby.ListQuery{Limit: 101}},
		{"state", lobby.ListQuery{State: "closed"}},
		{"cursor garbage", lobby.ListQuery{Cursor: "!!!"}},
		{"cursor truncated", lobby.ListQuery{Cursor: next[:len(next)-1]}},
		{"cursor extended", lobby.ListQuery{Cursor: next + "AA"}},
	}
	for _, c := range cases {
		_, err := h.s.List(h.ctx, c.q)
		h.wantCode(err, protocol.CodeBadRequest, c.name)
	}
	if got, _ := h.listIDs(lobby.ListQuery{Cursor: next, Limit: 1}); !slices.Equal(got, []string{"r"}) {
		h.t.Errorf("second page: %v", got)
	}
}

// testListPaging pages through 45 lobbies, 10 at a time, while other
// lobbies are created and deleted between pages: every lobby that existed
// throughout shows up exactly once, newest first, and nothing shows twice.
func testListPaging(h *harness) {
	var stable []string // names, in creation order
	var churn []string  // users of live churn lobbies, oldest first
	made := 0
	mkChurn := func() {
		made++
		u := fmt.Sprintf("c%d", made)
		h.create(u, public(fmt.Sprintf("C%d", made)))
		churn = append(churn, u)
	}
	for i := range 45 {
		name := fmt.Sprintf("S%02d", i)
		h.create("s"+name, public(name))
		stable = append(stable, name)
		if i%3 == 0 {
			mkChurn()
		}
	}
	seen := map[string]int{}
	var order []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 20 {
			h.t.Fatal("paging does not end")
		}
		ids, next := h.listIDs(lobby.ListQuery{Limit: 10, Cursor: cursor})
		for _, id := range ids {
			seen[id]++
			if id[0] == 'S' {
				order = append(order, id)
			}
		}
		// Between pages: two new lobbies, and the two oldest churn
		// lobbies (not yet paged through) go away.
		mkChurn()
		mkChurn()
		for range 2 {
			if err := h.s.Leave(h.ctx, churn[0], protocol.ReasonLeft); err != nil {
				h.t.Fatal(err)
			}
			churn = churn[1:]
		}
		if next == "" {
			break
		}
		cursor = next
	}
	for id, n := range seen {
		if n != 1 {
			h.t.Errorf("%s listed %d times", id, n)
		}
	}
	want := slices.Clone(stable)
	slices.Reverse(want)
	if !slices.Equal(order, want) {
		h.t.Errorf("stable lobbies seen %v, want %v", order, want)
	}
}
