package lobbytest

import (
	"github.com/lobbyd/lobbyd/protocol"
)

// testViewVersions checks what a session opening mid-stream relies on
// (docs/architecture.md, "Welcome snapshot"): a view of a lobby shows
// exactly the lobby's events with a Version up to its own. After every kind
// of mutation, the member view carries the Version of the last event
// delivered, and the next event has a higher one.
func testViewVersions(h *harness) {
	v := h.lobbyWith(public("versions"), "a", "b", "c")
	steps := []struct {
		name string
		do   func() error
	}{
		{"join", func() error { _, err := h.s.Join(h.ctx, actor("d"), protocol.JoinLobby{Code: v.Code}); return err }},
		{"chat", func() error { return h.s.Chat(h.ctx, "b", "hi") }},
		{"send", func() error { return h.s.Send(h.ctx, "b", []byte{1}, nil) }},
		{"set_member", func() error {
			_, err := h.s.SetMember(h.ctx, "c", protocol.SetMember{Ready: ptr(true)})
			return err
		}},
		{"update", func() error {
			_, err := h.s.Update(h.ctx, "a", protocol.UpdateLobby{Name: ptr("renamed")})
			return err
		}},
		{"disconnect", func() error { return h.s.SetConnected(h.ctx, "c", false) }},
		{"transfer_host", func() error { return h.s.TransferHost(h.ctx, "a", "b") }},
		{"kick", func() error { return h.s.Kick(h.ctx, "b", "d") }},
		{"leave", func() error { return h.s.Leave(h.ctx, "c", protocol.ReasonLeft) }},
		{"start", func() error { _, err := h.s.Start(h.ctx, "b"); return err }},
	}
	seen := h.lobbyOf("a").Version
	for _, st := range steps {
		if err := st.do(); err != nil {
			h.t.Fatalf("%s: %v", st.name, err)
		}
		evs := h.rec.Take()
		if len(evs) == 0 {
			h.t.Fatalf("%s emitted nothing", st.name)
		}
		for _, e := range evs {
			if e.LobbyID == v.ID && e.Version <= seen {
				h.t.Errorf("%s: %s has version %d, not above %d of the view before it", st.name, e.Name, e.Version, seen)
			}
		}
		now := h.lobbyOf("a")
		if last := evs[len(evs)-1].Version; now.Version != last {
			h.t.Errorf("%s: view version %d, want %d of the last event", st.name, now.Version, last)
		}
		seen = now.Version
	}
}
