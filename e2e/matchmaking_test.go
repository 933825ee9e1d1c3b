package e2e

import (
	"testing"
	"time"

	"github.com/lobbyd/lobbyd/config"
	"github.com/lobbyd/lobbyd/matchmaking"
)

func withQueues(qs ...matchmaking.QueueConfig) func(*config.Config) {
	return func(c *config.Config) { c.Queues = qs }
}

func duelQueue(growth float64) matchmaking.QueueConfig {
	return matchmaking.QueueConfig{Name: "duel", TeamSize: 1, Teams: 2, MaxParty: 1,
		SkillWindow: matchmaking.SkillWindow{Initial: 100, GrowthPerSec: growth, Max: 1000},
		Region:      matchmaking.RegionStrict, TimeoutMs: 60000}
}

func ticketOf(d map[string]any) map[string]any { return d["ticket"].(map[string]any) }

func TestDuelPlayersWithCloseSkillsMatch(t *testing.T) {
	s := startServer(t, nil) // the built-in queues
	a, b := s.dial("d1"), s.dial("d2")
	ta := ticketOf(a.ok("mm.enqueue", map[string]any{"queue": "duel", "skill": 1000.0}))
	if ta["state"] != "queued" || ta["queue"] != "duel" || ta["members"].([]any)[0] != "d1" {
		t.Fatalf("ticket %v", ta)
	}
	if q := a.nextEvent("mm.queued"); ticketOf(q.d())["id"] != ta["id"] {
		t.Fatalf("queued %v", q)
	}
	a.fail("mm.enqueue", map[string]any{"queue": "duel"}, "already_queued")
	b.fail("mm.enqueue", map[string]any{"queue": "nope"}, "queue_unknown")
	tb := ticketOf(b.ok("mm.enqueue", map[string]any{"queue": "duel", "skill": 1050}))
	ma, mb := a.nextEvent("mm.matched").d(), b.nextEvent("mm.matched").d()
	if ma["ticket_id"] != ta["id"] || mb["ticket_id"] != tb["id"] || ma["match_id"] != mb["match_id"] || ma["queue"] != "duel" {
		t.Fatalf("matched %v / %v", ma, mb)
	}
	lv := lobbyOf(ma)
	if lv["state"] != "in_game" || lv["visibility"] != "private" || len(members(lv)) != 2 {
		t.Fatalf("match lobby %v", lv)
	}
	teams := ma["teams"].([]any)
	if len(teams) != 2 || len(teams[0].([]any)) != 1 || len(teams[1].([]any)) != 1 {
		t.Fatalf("teams %v", teams)
	}
	// Both are in the match lobby now.
	a.fail("lobby.join", map[string]any{"code": lv["code"]}, "already_in_lobby")
	a.ok("lobby.chat", map[string]any{"text": "gg"})
	b.nextEvent("lobby.chat")
}

func TestWideningWindowMatchesFarPairOnlyAfterWaiting(t *testing.T) {
	// initial 100, growth 500/s: skills 300 apart need (300-100)/500 = 0.4 s.
	s := startServer(t, withQueues(duelQueue(500)))
	a, b := s.dial("w1"), s.dial("w2")
	start := time.Now()
	a.ok("mm.enqueue", map[string]any{"queue": "duel", "skill": 0})
	b.ok("mm.enqueue", map[string]any{"queue": "duel", "skill": 300})
	a.nextEvent("mm.matched")
	if waited := time.Since(start); waited < 380*time.Millisecond {
		t.Fatalf("matched after %v, before the window could cover 300", waited)
	}
}

func TestPartyOfTwoLandsOnOneSquadTeam(t *testing.T) {
	s := startServer(t, nil)
	host, mate, x, y := s.dial("ph"), s.dial("pm"), s.dial("sx"), s.dial("sy")
	code := lobbyOf(host.ok("lobby.create", map[string]any{"name": "party", "max_players": 2, "visibility": "private"}))["code"]
	mate.ok("lobby.join", map[string]any{"code": code})
	mate.fail("mm.enqueue", map[string]any{"queue": "squad", "party": true}, "not_host")
	pt := ticketOf(host.ok("mm.enqueue", map[string]any{"queue": "squad", "party": true, "skill": 500}))
	if len(pt["members"].([]any)) != 2 {
		t.Fatalf("party ticket %v", pt)
	}
	mate.nextEvent("mm.queued") // every party member hears of it
	x.ok("mm.enqueue", map[string]any{"queue": "squad", "skill": 520})
	y.ok("mm.enqueue", map[string]any{"queue": "squad", "skill": 480})
	m := host.nextEvent("mm.matched").d()
	mate.nextEvent("mm.matched")
	var partyTeam []any
	for _, team := range m["teams"].([]any) {
		tm := team.([]any)
		if len(tm) != 2 {
			t.Fatalf("teams %v", m["teams"])
		}
		for _, u := range tm {
			if u == "ph" {
				partyTeam = tm
			}
		}
	}
	if partyTeam == nil || !(partyTeam[0] == "pm" || partyTeam[1] == "pm") {
		t.Fatalf("party split: %v", m["teams"])
	}
}

// Region-strict matching over the wire: of eu, us and eu, the two eu
// players are matched and the us one is left waiting, whichever passes
// the matcher happens to run meanwhile. (That a strict queue never mixes
// regions, pass by pass, is TestServiceRegions, on a clock of its own.)
func TestRegionStrict(t *testing.T) {
	s := startServer(t, nil)
	a, b, c := s.dial("r1"), s.dial("r2"), s.dial("r3")
	a.ok("mm.enqueue", map[string]any{"queue": "duel", "region": "eu"})
	b.ok("mm.enqueue", map[string]any{"queue": "duel", "region": "us"})
	c.ok("mm.enqueue", map[string]any{"queue": "duel", "region": "eu"})
	for _, p := range []*client{a, c} {
		if m := p.nextEvent("mm.matched").d(); lobbyOf(m)["region"] != "eu" {
			t.Fatalf("match %v", m)
		}
	}
	b.noEvent("mm.matched")
}

func TestTicketTimeoutAndCancel(t *testing.T) {
	q := duelQueue(0)
	q.TimeoutMs = 300
	s := startServer(t, withQueues(q))
	a, b := s.dial("t1"), s.dial("t2")
	ta := ticketOf(a.ok("mm.enqueue", map[string]any{"queue": "duel", "region": "eu"}))
	if ev := a.nextEvent("mm.cancelled").d(); ev["ticket_id"] != ta["id"] || ev["reason"] != "timeout" {
		t.Fatalf("timeout %v", ev)
	}
	tb := ticketOf(b.ok("mm.enqueue", map[string]any{"queue": "duel", "region": "us"}))
	a.fail("mm.cancel", map[string]any{"ticket_id": tb["id"]}, "not_found") // not a's ticket
	b.ok("mm.cancel", map[string]any{"ticket_id": tb["id"]})
	if ev := b.nextEvent("mm.cancelled").d(); ev["ticket_id"] != tb["id"] || ev["reason"] != "cancelled" {
		t.Fatalf("cancelled %v", ev)
	}
	b.fail("mm.cancel", map[string]any{"ticket_id": tb["id"]}, "not_found")
}

func TestDroppedPartyMemberCancelsTicketAfterGrace(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.ResumeGraceMs = 300 })
	host, mate := s.dial("gh"), s.dial("gm")
	code := lobbyOf(host.ok("lobby.create", map[string]any{"name": "p", "max_players": 2, "visibility": "private"}))["code"]
	mate.ok("lobby.join", map[string]any{"code": code})
	tk := ticketOf(host.ok("mm.enqueue", map[string]any{"queue": "squad", "party": true}))
	mate.ws.Close()
	ev := host.nextEvent("mm.cancelled").d()
	if ev["ticket_id"] != tk["id"] || ev["reason"] != "disconnected" {
		t.Fatalf("cancelled %v", ev)
	}
}

func TestMatchedPlayerLeavesOldLobby(t *testing.T) {
	s := startServer(t, nil)
	a, b, friend := s.dial("m1"), s.dial("m2"), s.dial("mf")
	old := lobbyOf(a.ok("lobby.create", map[string]any{"name": "old", "max_players": 4, "visibility": "public"}))
	friend.ok("lobby.join", map[string]any{"lobby_id": old["id"]})
	a.ok("mm.enqueue", map[string]any{"queue": "duel"})
	b.ok("mm.enqueue", map[string]any{"queue": "duel"})
	m := a.nextEvent("mm.matched").d()
	left := friend.nextEvent("lobby.member_left").d()
	if left["user_id"] != "m1" {
		t.Fatalf("member_left %v", left)
	}
	if hc := friend.nextEvent("lobby.host_changed").d(); hc["host"] != "mf" {
		t.Fatalf("host_changed %v", hc)
	}
	var view map[string]any
	s.httpDo("GET", "/v1/lobbies/"+str(old["id"]), "", nil, &view)
	if len(members(view)) != 1 {
		t.Fatalf("old lobby %v", view)
	}
	// A reconnect shows the match lobby in the welcome.
	a2 := s.dial("m1")
	if lobbyOf(a2.welcome.d())["id"] != lobbyOf(m)["id"] {
		t.Fatalf("welcome lobby %v", a2.welcome.d()["lobby"])
	}
}

func TestTicketsOverHTTP(t *testing.T) {
	s := startServer(t, nil)
	a := s.dial("hx")
	tok := s.token("hx", "", time.Hour)
	var e struct{ Error struct{ Code string } }
	if st, _ := s.httpDo("POST", "/v1/queues/duel/tickets", "", map[string]any{}, &e); st != 401 {
		t.Fatalf("no token: %d", st)
	}
	if st, _ := s.httpDo("POST", "/v1/queues/nope/tickets", tok, map[string]any{}, &e); st != 404 || e.Error.Code != "queue_unknown" {
		t.Fatalf("unknown queue: %d %+v", st, e)
	}
	var r struct{ Ticket map[string]any }
	if st, _ := s.httpDo("POST", "/v1/queues/duel/tickets", tok, map[string]any{"skill": 10, "region": "eu"}, &r); st != 200 || r.Ticket["queue"] != "duel" {
		t.Fatalf("create: %d %+v", st, r)
	}
	a.nextEvent("mm.queued") // events go to the user's socket
	var qs []map[string]any
	s.httpDo("GET", "/v1/queues", "", nil, &qs)
	found := false
	for _, q := range qs {
		if q["name"] == "duel" && toUint(q["tickets"]) == 1 && toUint(q["players"]) == 1 {
			found = true
		}
	}
	if !found {
		t.Fatalf("queues %v", qs)
	}
	other := s.token("someone-else", "", time.Hour)
	id := str(r.Ticket["id"])
	if st, _ := s.httpDo("DELETE", "/v1/tickets/"+id, other, nil, nil); st != 404 {
		t.Fatalf("delete by another user: %d", st)
	}
	if st, _ := s.httpDo("DELETE", "/v1/tickets/"+id, tok, nil, nil); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	a.nextEvent("mm.cancelled")
}
