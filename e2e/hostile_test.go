package e2e

import (
	"math"
	"testing"
)

// Hostile players: regressions of issue 10 (application half). Each test
// here failed on the code the attack run found.

// A NaN or infinity in lobby or member data used to be accepted, and then
// every GET /v1/lobbies page holding the lobby (and GET /v1/lobbies/{id})
// answered 500. Such data is refused now, and the browser keeps working.
func TestNonFiniteDataIsRefusedAndListingsStayUp(t *testing.T) {
	s := startServer(t, nil)
	a, b := s.dial("ann"), s.dial("ben")
	for _, x := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		a.fail("lobby.create", map[string]any{"name": "nan", "max_players": 4, "visibility": "public",
			"data": map[string]any{"x": x}}, "bad_request")
		a.fail("lobby.create", map[string]any{"name": "nan", "max_players": 4, "visibility": "public",
			"data": map[string]any{"deep": []any{map[string]any{"y": float32(x)}}}}, "bad_request")
	}
	lv := lobbyOf(a.ok("lobby.create", map[string]any{"name": "ok", "max_players": 4, "visibility": "public"}))
	id := str(lv["id"])
	b.ok("lobby.join", map[string]any{"lobby_id": id})
	b.fail("lobby.set_member", map[string]any{"data": map[string]any{"x": math.NaN()}}, "bad_request")
	a.fail("lobby.update", map[string]any{"data": map[string]any{"x": math.Inf(1)}}, "bad_request")
	a.fail("lobby.update", map[string]any{"attrs": map[string]any{"x": math.NaN()}}, "bad_request")

	var page struct {
		Lobbies []map[string]any `json:"lobbies"`
	}
	if code, _ := s.httpDo("GET", "/v1/lobbies", "", nil, &page); code != 200 || len(page.Lobbies) != 1 {
		t.Fatalf("GET /v1/lobbies: %d %v", code, page)
	}
	if code, _ := s.httpDo("GET", "/v1/lobbies/"+id, "", nil, nil); code != 200 {
		t.Fatalf("GET /v1/lobbies/{id}: %d", code)
	}
}
