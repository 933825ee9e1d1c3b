package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// The operator's API (docs/protocol.md §4, operator endpoints) on one
// in-memory shard and on a cluster of two: a look inside a private lobby
// (members, their shards, connected or not), the filtered listing, the
// queues with their matcher's shard, the close of a lobby and the drain of
// a shard asked of another.

// eventually polls cond every 50 ms for up to 15 s (a loaded machine).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 15 s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// adminLobby is the part of GET /admin/lobbies/{id} the tests read.
type adminLobby struct {
	ID         string `json:"id"`
	Code       string `json:"code"`
	Host       string `json:"host"`
	Visibility string `json:"visibility"`
	State      string `json:"state"`
	Version    uint64 `json:"version"`
	Members    []struct {
		UserID    string `json:"user_id"`
		Connected bool   `json:"connected"`
		IsHost    bool   `json:"is_host"`
		Shard     string `json:"shard"`
	} `json:"members"`
}

type adminPage struct {
	Lobbies    []adminLobby `json:"lobbies"`
	NextCursor *string      `json:"next_cursor"`
}

func (s *server) shardID() string { return s.app.Gateway.ShardID() }

func (s *server) adminLobbies(t *testing.T, query string) []string {
	t.Helper()
	var p adminPage
	if st, _ := s.httpDo("GET", "/admin/lobbies?"+query, "op-token", nil, &p); st != 200 {
		t.Fatalf("GET /admin/lobbies?%s: %d", query, st)
	}
	ids := make([]string, len(p.Lobbies))
	for i, l := range p.Lobbies {
		ids[i] = l.ID
	}
	return ids
}

func TestAdminAPISingleShard(t *testing.T) { adminAPI(t, []*server{startServer(t, nil)}) }

func TestClusterAdminAPI(t *testing.T) { adminAPI(t, startShards(t, 2, nil)) }

// adminAPI: a host on the first shard, a member on the last.
func adminAPI(t *testing.T, sh []*server) {
	first, last := sh[0], sh[len(sh)-1]
	host := first.dial("adm-host")
	lv := lobbyOf(host.ok("lobby.create", map[string]any{"name": "secret", "max_players": 4, "visibility": "private", "mode": "ctf"}))
	id, code := str(lv["id"]), str(lv["code"])
	member := last.dial("adm-member")
	member.ok("lobby.join", map[string]any{"code": code})
	other := first.dial("adm-other")
	otherID := str(lobbyOf(other.ok("lobby.create", map[string]any{"name": "open one", "max_players": 2, "visibility": "public"}))["id"])

	// Every shard sees the private lobby with its code and each member's shard.
	for _, s := range sh {
		var a adminLobby
		if st, _ := s.httpDo("GET", "/admin/lobbies/"+id, "op-token", nil, &a); st != 200 {
			t.Fatalf("GET /admin/lobbies/{id} on %s: %d", s.shardID(), st)
		}
		if a.ID != id || a.Code != code || a.Visibility != "private" || a.Host != "adm-host" || len(a.Members) != 2 {
			t.Fatalf("on %s: %+v", s.shardID(), a)
		}
		for _, m := range a.Members {
			want := first.shardID()
			if m.UserID == "adm-member" {
				want = last.shardID()
			}
			if m.Shard != want || !m.Connected || m.IsHost != (m.UserID == "adm-host") {
				t.Fatalf("on %s: member %+v, want shard %s, connected", s.shardID(), m, want)
			}
		}
	}
	if st, _ := first.httpDo("GET", "/admin/lobbies/"+id, "", nil, nil); st != 401 {
		t.Fatalf("without the operator token: %d", st)
	}
	if st, _ := first.httpDo("GET", "/admin/lobbies/0123456789abcdef0123456789abcdef", "op-token", nil, nil); st != 404 {
		t.Fatalf("absent lobby: %d", st)
	}

	// Filters, from the last shard.
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"", []string{otherID, id}},
		{"visibility=private", []string{id}},
		{"mode=ctf", []string{id}},
		{"user=adm-member", []string{id}},
		{"user=adm-other", []string{otherID}},
		{"user=nobody", []string{}},
		{"shard=" + last.shardID(), []string{id}},
		{"shard=no-such-shard", []string{}},
		{"state=in_game", []string{}},
	} {
		got := last.adminLobbies(t, c.query)
		if len(sh) == 1 && c.query == "shard="+last.shardID() {
			c.want = []string{otherID, id} // one shard: every lobby is its own
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("GET /admin/lobbies?%s: %v, want %v", c.query, got, c.want)
		}
	}
	if st, _ := last.httpDo("GET", "/admin/lobbies?state=closed", "op-token", nil, nil); st != 400 {
		t.Fatalf("bad state filter: %d", st)
	}

	// A member who drops stays in the lobby, not connected, for the grace.
	member.ws.Close()
	eventually(t, "the dropped member shown not connected", func() bool {
		var a adminLobby
		first.httpDo("GET", "/admin/lobbies/"+id, "op-token", nil, &a)
		for _, m := range a.Members {
			if m.UserID == "adm-member" {
				return !m.Connected
			}
		}
		return false
	})

	// Queues: a ticket waiting, and the shard that matches the queue.
	var ticket struct {
		Ticket struct{ ID string } `json:"ticket"`
	}
	if st, _ := last.httpDo("POST", "/v1/queues/duel/tickets", last.token("adm-queuer", "", time.Hour), map[string]any{"skill": 1000}, &ticket); st != 200 {
		t.Fatalf("enqueue: %d", st)
	}
	ids := make([]string, len(sh))
	for i, s := range sh {
		ids[i] = s.shardID()
	}
	type queue struct {
		Name         string  `json:"name"`
		Tickets      int     `json:"tickets"`
		OldestWaitMs int64   `json:"oldest_wait_ms"`
		Matcher      *string `json:"matcher"`
	}
	eventually(t, "every queue with a matcher on a live shard, duel's ticket counted", func() bool {
		var qs []queue
		if st, _ := first.httpDo("GET", "/admin/queues", "op-token", nil, &qs); st != 200 || len(qs) == 0 {
			return false
		}
		for _, q := range qs {
			if q.Matcher == nil || !slices.Contains(ids, *q.Matcher) {
				return false
			}
			if q.Name == "duel" && (q.Tickets != 1 || q.OldestWaitMs < 0) {
				return false
			}
		}
		return true
	})
	var shards []struct {
		ID       string   `json:"id"`
		Matchers []string `json:"matchers"`
		Draining bool     `json:"draining"`
	}
	eventually(t, "the shards' reports name the duel matcher once", func() bool {
		first.httpDo("GET", "/admin/shards", "op-token", nil, &shards)
		n := 0
		for _, s := range shards {
			if slices.Contains(s.Matchers, "duel") {
				n++
			}
		}
		return n == 1
	})

	// Close, from the last shard: the host (first shard) hears it.
	if st, _ := last.httpDo("DELETE", "/admin/lobbies/"+id, "op-token", nil, nil); st != 204 {
		t.Fatalf("close: %d", st)
	}
	if ev := host.nextEvent("lobby.member_left").d(); ev["reason"] != "closed" {
		t.Fatalf("host got %v", ev)
	}
	if st, _ := first.httpDo("GET", "/admin/lobbies/"+id, "op-token", nil, nil); st != 404 {
		t.Fatalf("closed lobby: %d", st)
	}

	// Drain the last shard, asked of the first.
	if st, _ := first.httpDo("POST", "/admin/shards/no-such-shard/drain", "op-token", nil, nil); st != 404 {
		t.Fatalf("drain of an unknown shard: %d", st)
	}
	var drained struct {
		Shard    string `json:"shard"`
		Draining bool   `json:"draining"`
	}
	if st, _ := first.httpDo("POST", "/admin/shards/"+last.shardID()+"/drain", "op-token", nil, &drained); st != 202 || drained.Shard != last.shardID() || !drained.Draining {
		t.Fatalf("drain of %s: %d %+v", last.shardID(), st, drained)
	}
	eventually(t, fmt.Sprintf("%s not ready and listed draining", last.shardID()), func() bool {
		if st, _ := last.httpDo("GET", "/readyz", "", nil, nil); st != 503 {
			return false
		}
		first.httpDo("GET", "/admin/shards", "op-token", nil, &shards)
		for _, s := range shards {
			if s.ID == last.shardID() {
				return s.Draining
			}
		}
		return false
	})
	if len(sh) > 1 {
		if st, _ := first.httpDo("GET", "/readyz", "", nil, nil); st != 200 {
			t.Fatalf("the first shard drains too: /readyz %d", st)
		}
	}
}
