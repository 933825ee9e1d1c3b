package e2e

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lobbyd/lobbyd/config"
)

func members(view map[string]any) []map[string]any {
	var out []map[string]any
	for _, m := range view["members"].([]any) {
		out = append(out, m.(map[string]any))
	}
	return out
}

func lobbyOf(d map[string]any) map[string]any { return d["lobby"].(map[string]any) }

// Three players create, join, chat, get ready and start.
func TestStoryCreateJoinChatReadyStart(t *testing.T) {
	s := startServer(t, nil)
	a, b, c := s.dial("ann"), s.dial("ben"), s.dial("cat")

	lv := lobbyOf(a.ok("lobby.create", map[string]any{"name": "Friday", "max_players": 3, "visibility": "public",
		"mode": "ctf", "region": "eu", "attrs": map[string]any{"map": "dust", "rank": 3}, "data": map[string]any{"x": 1}}))
	id := str(lv["id"])
	if lv["host"] != "ann" || lv["state"] != "open" || len(str(lv["code"])) != 6 || lv["has_password"] != false {
		t.Fatalf("created %v", lv)
	}

	jv := lobbyOf(b.ok("lobby.join", map[string]any{"lobby_id": id}))
	if len(members(jv)) != 2 {
		t.Fatalf("join view %v", jv)
	}
	ev := a.nextEvent("lobby.member_joined")
	if ev.d()["member"].(map[string]any)["user_id"] != "ben" || toUint(ev["seq"]) != 1 {
		t.Fatalf("member_joined %v", ev)
	}
	c.ok("lobby.join", map[string]any{"code": lv["code"]})
	a.nextEvent("lobby.member_joined")
	b.nextEvent("lobby.member_joined")

	d := s.dial("dan")
	d.fail("lobby.join", map[string]any{"lobby_id": id}, "lobby_full")

	// Chat goes to everyone, the sender included.
	c.ok("lobby.chat", map[string]any{"text": "gl hf"})
	for _, p := range []*client{a, b, c} {
		ev := p.nextEvent("lobby.chat")
		if ev.d()["from"] != "cat" || ev.d()["text"] != "gl hf" || toUint(ev.d()["ts"]) == 0 {
			t.Fatalf("%s chat %v", p.user, ev)
		}
	}

	// Ready: the actor learns from the reply, the others from the event.
	r := b.ok("lobby.set_member", map[string]any{"ready": true, "data": map[string]any{"hero": "mage"}})
	if r["member"].(map[string]any)["ready"] != true {
		t.Fatalf("set_member reply %v", r)
	}
	for _, p := range []*client{a, c} {
		ev := p.nextEvent("lobby.member_updated")
		if m := ev.d()["member"].(map[string]any); m["user_id"] != "ben" || m["ready"] != true {
			t.Fatalf("member_updated %v", ev)
		}
	}
	b.noEvent("lobby.member_updated")

	// Game data relay: to everyone but the sender, or only to "to".
	b.ok("lobby.send", map[string]any{"data": []byte{1, 2, 3}})
	for _, p := range []*client{a, c} {
		ev := p.nextEvent("lobby.data")
		if ev.d()["from"] != "ben" || string(ev.d()["data"].([]byte)) != "\x01\x02\x03" {
			t.Fatalf("data %v", ev)
		}
	}
	b.ok("lobby.send", map[string]any{"data": []byte{9}, "to": []string{"cat"}})
	if ev := c.nextEvent("lobby.data"); string(ev.d()["data"].([]byte)) != "\x09" {
		t.Fatalf("targeted data %v", ev)
	}
	a.noEvent("lobby.data")
	b.noEvent("lobby.data")

	// Only the host starts; everyone gets lobby.started; then joins are refused.
	b.fail("lobby.start", nil, "not_host")
	a.ok("lobby.start", nil)
	var match string
	for _, p := range []*client{a, b, c} {
		ev := p.nextEvent("lobby.started")
		if ev.d()["lobby_id"] != id || str(ev.d()["match_id"]) == "" {
			t.Fatalf("started %v", ev)
		}
		if match == "" {
			match = str(ev.d()["match_id"])
		} else if match != ev.d()["match_id"] {
			t.Fatal("members got different match ids")
		}
	}
	var view map[string]any
	s.httpDo("GET", "/v1/lobbies/"+id, "", nil, &view)
	if view["state"] != "in_game" || view["code"] != nil {
		t.Fatalf("public view after start %v", view)
	}

	// seq has no gaps on every session.
	for _, p := range []*client{a, b, c} {
		checkNoGaps(t, p)
	}
}

// checkNoGaps asserts the remaining queued events continue without gaps.
func checkNoGaps(t *testing.T, c *client) {
	t.Helper()
	var last uint64
	for _, ev := range c.drainEvents() {
		seq := toUint(ev["seq"])
		if last != 0 && seq != last+1 {
			t.Fatalf("%s: seq %d after %d", c.user, seq, last)
		}
		last = seq
	}
}

func TestLobbyHostOpsAndErrors(t *testing.T) {
	s := startServer(t, nil)
	a, b, c := s.dial("h"), s.dial("m1"), s.dial("m2")
	a.fail("lobby.leave", nil, "not_in_lobby")
	a.fail("lobby.chat", map[string]any{"text": "x"}, "not_in_lobby")
	a.fail("lobby.create", map[string]any{"name": "", "max_players": 4, "visibility": "public"}, "bad_request")
	a.fail("lobby.create", map[string]any{"name": "x", "max_players": 1, "visibility": "public"}, "bad_request")
	a.fail("lobby.create", map[string]any{"name": "x", "max_players": 257, "visibility": "public"}, "bad_request")
	a.fail("lobby.create", map[string]any{"name": "x", "max_players": 4, "visibility": "secret"}, "bad_request")
	lv := lobbyOf(a.ok("lobby.create", map[string]any{"name": "pw", "max_players": 4, "visibility": "public", "password": "hunter2"}))
	id := str(lv["id"])
	if lv["has_password"] != true {
		t.Fatalf("%v", lv)
	}
	a.fail("lobby.create", map[string]any{"name": "again", "max_players": 4, "visibility": "public"}, "already_in_lobby")
	b.fail("lobby.join", map[string]any{"lobby_id": "nope"}, "not_found")
	b.fail("lobby.join", map[string]any{"lobby_id": id}, "wrong_password")
	b.fail("lobby.join", map[string]any{"lobby_id": id, "password": "nope"}, "wrong_password")
	b.ok("lobby.join", map[string]any{"lobby_id": id, "password": "hunter2"})
	b.fail("lobby.join", map[string]any{"lobby_id": id, "password": "hunter2"}, "already_in_lobby")
	c.ok("lobby.join", map[string]any{"lobby_id": id, "password": "hunter2"})
	a.drainEvents()
	b.drainEvents()

	// update (host only)
	b.fail("lobby.update", map[string]any{"name": "mine"}, "not_host")
	a.fail("lobby.update", map[string]any{"max_players": 2}, "bad_request") // below member count
	u := lobbyOf(a.ok("lobby.update", map[string]any{"name": "renamed", "locked": true, "password": ""}))
	if u["name"] != "renamed" || u["locked"] != true || u["has_password"] != false {
		t.Fatalf("update %v", u)
	}
	for _, p := range []*client{b, c} {
		if ev := p.nextEvent("lobby.updated"); lobbyOf(ev.d())["name"] != "renamed" {
			t.Fatalf("updated %v", ev)
		}
	}
	d := s.dial("late")
	d.fail("lobby.join", map[string]any{"lobby_id": id}, "lobby_locked")

	// kick (host only): the kicked user gets lobby.kicked, the others member_left "kicked".
	b.fail("lobby.kick", map[string]any{"user_id": "m2"}, "not_host")
	a.fail("lobby.kick", map[string]any{"user_id": "stranger"}, "not_found")
	a.ok("lobby.kick", map[string]any{"user_id": "m2"})
	if ev := c.nextEvent("lobby.kicked"); ev.d()["lobby_id"] != id {
		t.Fatalf("kicked %v", ev)
	}
	if ev := b.nextEvent("lobby.member_left"); ev.d()["user_id"] != "m2" || ev.d()["reason"] != "kicked" {
		t.Fatalf("member_left %v", ev)
	}
	c.noEvent("lobby.member_left")
	c.fail("lobby.chat", map[string]any{"text": "hey"}, "not_in_lobby")

	// transfer_host
	b.fail("lobby.transfer_host", map[string]any{"user_id": "m1"}, "not_host")
	a.ok("lobby.transfer_host", map[string]any{"user_id": "m1"})
	if ev := b.nextEvent("lobby.host_changed"); ev.d()["host"] != "m1" {
		t.Fatalf("host_changed %v", ev)
	}
	a.fail("lobby.start", nil, "not_host")

	// chat bounds
	b.fail("lobby.chat", map[string]any{"text": ""}, "bad_request")
	b.fail("lobby.chat", map[string]any{"text": string(make([]rune, 501))}, "bad_request")
	b.fail("lobby.chat", map[string]any{"text": "\xff\xfe"}, "bad_request")

	// The host leaves: the longest-present member is host; member_left then host_changed.
	b.ok("lobby.leave", nil)
	if ev := a.nextEvent("lobby.member_left"); ev.d()["user_id"] != "m1" || ev.d()["reason"] != "left" {
		t.Fatalf("member_left %v", ev)
	}
	if ev := a.nextEvent("lobby.host_changed"); ev.d()["host"] != "h" {
		t.Fatalf("host_changed %v", ev)
	}
	// The last member leaving deletes the lobby.
	a.ok("lobby.leave", nil)
	var e struct{ Error struct{ Code string } }
	if st, _ := s.httpDo("GET", "/v1/lobbies/"+id, "", nil, &e); st != 404 || e.Error.Code != "not_found" {
		t.Fatalf("deleted lobby: %d %+v", st, e)
	}
}

func TestPrivateLobbyByCode(t *testing.T) {
	s := startServer(t, nil)
	a, b := s.dial("p1"), s.dial("p2")
	lv := lobbyOf(a.ok("lobby.create", map[string]any{"name": "secret", "max_players": 2, "visibility": "private"}))
	b.fail("lobby.join", map[string]any{"lobby_id": lv["id"]}, "not_found")
	var page struct{ Lobbies []map[string]any }
	s.httpDo("GET", "/v1/lobbies", "", nil, &page)
	if len(page.Lobbies) != 0 {
		t.Fatalf("private lobby listed: %v", page.Lobbies)
	}
	if st, _ := s.httpDo("GET", "/v1/lobbies/"+str(lv["id"]), "", nil, nil); st != 404 {
		t.Fatalf("private lobby by id over HTTP: %d", st)
	}
	jv := lobbyOf(b.ok("lobby.join", map[string]any{"code": lv["code"]}))
	if jv["id"] != lv["id"] || jv["code"] != lv["code"] {
		t.Fatalf("joined %v", jv)
	}
}

// The host drops and does not come back: after the grace period it leaves
// with reason "disconnected" and the longest-present member becomes host.
func TestStoryHostDropsForGood(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.ResumeGraceMs = 400 })
	a, b, c := s.dial("host"), s.dial("second"), s.dial("third")
	id := lobbyOf(a.ok("lobby.create", map[string]any{"name": "g", "max_players": 4, "visibility": "public"}))["id"]
	b.ok("lobby.join", map[string]any{"lobby_id": id})
	c.ok("lobby.join", map[string]any{"lobby_id": id})
	b.drainEvents()
	a.ws.Close() // dropped, not left
	ev := b.nextEvent("lobby.member_updated")
	if m := ev.d()["member"].(map[string]any); m["user_id"] != "host" || m["connected"] != false {
		t.Fatalf("member_updated %v", ev)
	}
	left := b.nextEvent("lobby.member_left")
	if left.d()["user_id"] != "host" || left.d()["reason"] != "disconnected" {
		t.Fatalf("member_left %v", left)
	}
	hc := b.nextEvent("lobby.host_changed")
	if hc.d()["host"] != "second" || toUint(hc["seq"]) != toUint(left["seq"])+1 {
		t.Fatalf("host_changed %v after %v", hc, left)
	}
	c.nextEvent("lobby.host_changed")
}

// resume_grace_ms: 0 means a dropped player leaves at once (not the default).
func TestZeroResumeGraceLeavesAtOnce(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.ResumeGraceMs = 0 })
	a, b := s.dial("z1"), s.dial("z2")
	id := lobbyOf(a.ok("lobby.create", map[string]any{"name": "z", "max_players": 2, "visibility": "public"}))["id"]
	b.ok("lobby.join", map[string]any{"lobby_id": id})
	b.ws.Close()
	start := time.Now()
	if left := a.nextEvent("lobby.member_left").d(); left["user_id"] != "z2" || left["reason"] != "disconnected" {
		t.Fatalf("member_left %v", left)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Fatalf("left after %v with no grace period", waited)
	}
}

// A player drops, misses 50 events, and resumes with none missing or repeated.
func TestStoryResumeReplaysMissedEvents(t *testing.T) {
	s := startServer(t, nil)
	a, b := s.dial("stay"), s.dial("drop")
	id := lobbyOf(a.ok("lobby.create", map[string]any{"name": "r", "max_players": 4, "visibility": "public"}))["id"]
	b.ok("lobby.join", map[string]any{"lobby_id": id})
	a.ok("lobby.chat", map[string]any{"text": "before"})
	before := b.nextEvent("lobby.chat")
	lastSeq := toUint(before["seq"])
	token := str(b.welcome.d()["resume_token"])
	b.ws.Close()
	a.nextEvent("lobby.member_updated") // drop shows connected:false
	for i := 0; i < 50; i++ {
		a.ok("lobby.chat", map[string]any{"text": fmt.Sprint("missed ", i)})
	}
	q := "token=" + url.QueryEscape(s.token("drop", "", time.Hour)) + "&resume=" + url.QueryEscape(token) + fmt.Sprintf("&last_seq=%d", lastSeq)
	b2 := s.dialQuery("drop", q)
	w := b2.welcome.d()
	if w["resumed"] != true || w["resume_token"] == token || lobbyOf(w)["id"] != id {
		t.Fatalf("resume welcome %v", w)
	}
	for i := 0; i < 50; i++ {
		ev := b2.nextEvent("lobby.chat")
		if toUint(ev["seq"]) != lastSeq+1+uint64(i) || ev.d()["text"] != fmt.Sprint("missed ", i) {
			t.Fatalf("replayed #%d: %v", i, ev)
		}
	}
	// Then new events continue the same numbering.
	a.ok("lobby.chat", map[string]any{"text": "after"})
	if ev := b2.nextEvent("lobby.chat"); toUint(ev["seq"]) != lastSeq+51 || ev.d()["text"] != "after" {
		t.Fatalf("after resume %v", ev)
	}
	if ev := a.nextEvent("lobby.member_updated"); ev.d()["member"].(map[string]any)["connected"] != true {
		t.Fatalf("reconnect member_updated %v", ev)
	}
	// Another user's resume token is not honoured: a new session for that
	// user, and the token's owner keeps its session.
	other := s.dialQuery("intruder", "token="+url.QueryEscape(s.token("intruder", "", time.Hour))+"&resume="+url.QueryEscape(str(w["resume_token"]))+"&last_seq=0")
	if other.welcome.d()["resumed"] != false || other.welcome.d()["user_id"] != "intruder" {
		t.Fatalf("another user's token: %v", other.welcome)
	}
	// The old token is spent once the client has shown it read the
	// welcome with the new one: using it again starts a new session.
	b2.acknowledged()
	b2.ws.Close()
	b3 := s.dialQuery("drop", q)
	if b3.welcome.d()["resumed"] != false || lobbyOf(b3.welcome.d())["id"] != id {
		t.Fatalf("spent token welcome %v", b3.welcome)
	}
}

// Paging through 45 lobbies while others are created and deleted never
// shows a lobby twice and never skips one that existed throughout.
func TestStoryPagingWhileLobbiesChange(t *testing.T) {
	s := startServer(t, nil)
	var stable []string
	var hosts []*client
	for i := 0; i < 45; i++ {
		h := s.dial(fmt.Sprint("host", i))
		hosts = append(hosts, h)
		lv := lobbyOf(h.ok("lobby.create", map[string]any{"name": fmt.Sprint("L", i), "max_players": 4, "visibility": "public", "mode": "ffa"}))
		stable = append(stable, str(lv["id"]))
	}
	// Lobbies that will be deleted during paging.
	var doomed []*client
	for i := 0; i < 10; i++ {
		h := s.dial(fmt.Sprint("doomed", i))
		h.ok("lobby.create", map[string]any{"name": fmt.Sprint("D", i), "max_players": 4, "visibility": "public", "mode": "ffa"})
		doomed = append(doomed, h)
	}
	seen := map[string]int{}
	cursor := ""
	for page := 0; page < 20; page++ {
		var p struct {
			Lobbies    []map[string]any
			NextCursor *string `json:"next_cursor"`
		}
		path := "/v1/lobbies?mode=ffa&limit=10"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		if st, _ := s.httpDo("GET", path, "", nil, &p); st != 200 {
			t.Fatalf("page %d: %d", page, st)
		}
		for _, l := range p.Lobbies {
			seen[str(l["id"])]++
			if l["code"] != nil {
				t.Fatalf("listing shows a code: %v", l)
			}
		}
		// Churn between pages.
		h := s.dial(fmt.Sprint("new", page))
		h.ok("lobby.create", map[string]any{"name": "N", "max_players": 4, "visibility": "public", "mode": "ffa"})
		if page < len(doomed) {
			doomed[page].ok("lobby.leave", nil)
		}
		if p.NextCursor == nil {
			break
		}
		cursor = *p.NextCursor
	}
	for id, n := range seen {
		if n > 1 {
			t.Fatalf("lobby %s listed %d times", id, n)
		}
	}
	for _, id := range stable {
		if seen[id] != 1 {
			t.Fatalf("lobby %s that existed throughout was skipped", id)
		}
	}
}

func TestListFiltersAndLimits(t *testing.T) {
	s := startServer(t, nil)
	a, b := s.dial("f1"), s.dial("f2")
	a.ok("lobby.create", map[string]any{"name": "a", "max_players": 2, "visibility": "public", "mode": "ctf", "region": "eu", "attrs": map[string]any{"map": "dust", "lvl": 5}})
	b.ok("lobby.create", map[string]any{"name": "b", "max_players": 2, "visibility": "public", "mode": "tdm", "region": "us"})
	count := func(q string) int {
		var p struct{ Lobbies []map[string]any }
		if st, _ := s.httpDo("GET", "/v1/lobbies?"+q, "", nil, &p); st != 200 {
			t.Fatalf("%s: %d", q, st)
		}
		return len(p.Lobbies)
	}
	for q, want := range map[string]int{"": 2, "mode=ctf": 1, "region=us": 1, "mode=ctf&region=us": 0, "attr.map=dust": 1, "attr.lvl=5": 1, "attr.map=nuke": 0, "has_space=true": 2, "state=in_game": 0, "state=open": 2} {
		if got := count(q); got != want {
			t.Errorf("%q: %d lobbies, want %d", q, got, want)
		}
	}
	var attrs17 []string
	for i := range 17 {
		attrs17 = append(attrs17, fmt.Sprintf("attr.k%d=v", i))
	}
	// The bounds are lobby.CheckListQuery's; the gateway only parses.
	for _, q := range []string{"limit=0", "limit=-1", "limit=101", "limit=x", "cursor=%%%", "has_space=maybe", "state=gone",
		"attr.=x", "attr.%ff=1", "attr." + strings.Repeat("k", 65) + "=1", "attr.k=" + strings.Repeat("v", 257), strings.Join(attrs17, "&")} {
		var e struct{ Error struct{ Code string } }
		if st, _ := s.httpDo("GET", "/v1/lobbies?"+q, "", nil, &e); st != 400 || e.Error.Code != "bad_request" {
			t.Errorf("%q: %d %+v, want 400 bad_request", q, st, e)
		}
	}
}

func TestOperatorClosesLobby(t *testing.T) {
	s := startServer(t, nil)
	a, b := s.dial("o1"), s.dial("o2")
	id := str(lobbyOf(a.ok("lobby.create", map[string]any{"name": "x", "max_players": 2, "visibility": "public"}))["id"])
	b.ok("lobby.join", map[string]any{"lobby_id": id})
	if st, _ := s.httpDo("DELETE", "/admin/lobbies/"+id, "op-token", nil, nil); st != 204 {
		t.Fatalf("close: %d", st)
	}
	for _, c := range []*client{a, b} {
		ev := c.take("member_left closed", func(m msg) bool {
			return m["ev"] == "lobby.member_left" && m.d()["user_id"] == c.user
		})
		if ev.d()["reason"] != "closed" {
			t.Fatalf("%v", ev)
		}
	}
	a.fail("lobby.leave", nil, "not_in_lobby")
	if st, _ := s.httpDo("DELETE", "/admin/lobbies/"+id, "op-token", nil, nil); st != 404 {
		t.Fatalf("close again: %d", st)
	}
}

// A session acts under the display name of its connection's token, as the
// welcome gives it: a resume with a token of another name acts under the
// new one from then on.
func TestResumedSessionActsUnderItsNewTokensName(t *testing.T) {
	s := startServer(t, nil)
	q := func(name string) string { return "token=" + url.QueryEscape(s.token("renamer", name, time.Hour)) }
	a := s.dialQuery("renamer", q("Old"))
	if a.welcome.d()["name"] != "Old" {
		t.Fatalf("welcome %v", a.welcome)
	}
	token, lastSeq := str(a.welcome.d()["resume_token"]), toUint(a.welcome["seq"])
	a.ws.Close()
	b := s.dialQuery("renamer", q("New")+"&resume="+url.QueryEscape(token)+fmt.Sprintf("&last_seq=%d", lastSeq))
	if w := b.welcome.d(); w["resumed"] != true || w["name"] != "New" {
		t.Fatalf("resume welcome %v", b.welcome)
	}
	members := lobbyOf(b.ok("lobby.create", map[string]any{"name": "r", "max_players": 4, "visibility": "private"}))["members"].([]any)
	if len(members) != 1 || members[0].(map[string]any)["name"] != "New" {
		t.Fatalf("members of the lobby the resumed session made: %v", members)
	}
}
