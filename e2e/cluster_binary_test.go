package e2e

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/lobbyd/lobbyd/gateway"
	"github.com/lobbyd/lobbyd/internal/redistest"
)

// The tests of this file run real lobbyd processes, two shards of one
// cluster on the test Redis, as operators run them: flags only, a key
// prefix of the test's own, one JWT secret, distinct shard ids.

// startBinaryShards starts n lobbyd processes (shards a, b, ...) on free
// ports sharing the test Redis, with the rate limit raised so that a burst
// of chats is not throttled.
func startBinaryShards(t *testing.T, n int) []*server {
	t.Helper()
	redisAddr, prefix := redistest.Addr(t), redistest.Prefix(t)
	cfg := filepath.Join(t.TempDir(), "lobbyd.yaml")
	if err := os.WriteFile(cfg, []byte("rate_limit: {per_second: 10000, burst: 10000}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	auth := gateway.NewHMACAuth([]byte(testSecret))
	var out []*server
	for i := range n {
		p := startLobbyd(t, []string{"LOBBY_DEV=", "LOBBY_REDIS_URL=", "LOBBY_JWT_SECRET="},
			"--addr", "127.0.0.1:0", "--config", cfg,
			"--redis", "redis://"+redisAddr+"/0", "--redis-prefix", prefix,
			"--shard-id", string(rune('a'+i)), "--jwt-secret", testSecret, "--operator-token", "op-token")
		out = append(out, &server{t: t, addr: p.addr, auth: auth})
	}
	return out
}

// 200 chats interleaved from members on shards a and b reach everyone in
// one order, gap-free.
func TestBinaryClusterChatOneOrder(t *testing.T) {
	chatOneOrder(t, startBinaryShards(t, 2))
}

// A lobby made on a is listed on b, joined from b and played both ways.
func TestBinaryClusterRelayAndListing(t *testing.T) {
	relayAndListing(t, startBinaryShards(t, 2))
}

// Two shards race players for the last seat: exactly one wins.
func TestBinaryClusterLastSeatRace(t *testing.T) {
	lastSeatRace(t, startBinaryShards(t, 2))
}

// A player connected to a, in a lobby with members on a and b, drops (TCP
// closed, no close frame); the lobby goes on; the player resumes on b with
// last_seq and gets every missed event once, in order, then live ones
// numbered on.
func TestBinaryClusterResumeOnOtherShard(t *testing.T) {
	sh := startBinaryShards(t, 2)
	onA, onB, drop := sh[0].dial("stay-a"), sh[1].dial("stay-b"), sh[0].dial("drop")
	id := lobbyOf(onA.ok("lobby.create", map[string]any{"name": "r", "max_players": 4, "visibility": "public"}))["id"]
	onB.ok("lobby.join", map[string]any{"lobby_id": id})
	drop.ok("lobby.join", map[string]any{"lobby_id": id})
	onA.ok("lobby.chat", map[string]any{"text": "before"})
	lastSeq := toUint(drop.nextEvent("lobby.chat")["seq"])
	drop.drainEvents()
	token := str(drop.welcome.d()["resume_token"])
	drop.ws.Close() // gorilla closes the socket without a close frame
	onB.take("drop's connected:false", func(m msg) bool {
		mem, _ := m.d()["member"].(map[string]any)
		return m["ev"] == "lobby.member_updated" && mem["user_id"] == "drop" && mem["connected"] == false
	})
	var want []string
	for i := range 20 {
		c := []*client{onA, onB}[i%2]
		text := fmt.Sprint("missed ", i)
		c.ok("lobby.chat", map[string]any{"text": text})
		want = append(want, text)
	}
	q := "token=" + url.QueryEscape(sh[1].token("drop", "", time.Hour)) + "&resume=" + url.QueryEscape(token) + fmt.Sprintf("&last_seq=%d", lastSeq)
	back := sh[1].dialQuery("drop", q)
	if w := back.welcome.d(); w["resumed"] != true || lobbyOf(w)["id"] != id {
		t.Fatalf("resume welcome on b: %v", w)
	}
	onA.ok("lobby.chat", map[string]any{"text": "after"})
	want = append(want, "after")
	// Every event from the resume to "after": seqs on from last_seq, one
	// each; the chats exactly the missed ones, then "after".
	var got []string
	next := lastSeq + 1
	for len(got) == 0 || got[len(got)-1] != "after" {
		ev := back.take("an event", func(m msg) bool { _, ok := m["ev"]; return ok })
		if ev["ev"] == "welcome" {
			continue
		}
		if seq := toUint(ev["seq"]); seq != next {
			t.Fatalf("event %v: seq %d, want %d (got so far %q)", ev["ev"], seq, next, got)
		}
		next++
		if ev["ev"] == "lobby.chat" {
			got = append(got, str(ev.d()["text"]))
		}
		if len(got) > len(want) {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("chats after resume on b: %q, want %q", got, want)
	}
}

// A second login of one user on b closes the first connection, on a, with
// 4009; the new one works.
func TestBinaryClusterSecondLoginClosesFirst(t *testing.T) {
	sh := startBinaryShards(t, 2)
	first := sh[0].dial("erin")
	second := sh[1].dial("erin")
	if code := first.waitClose(); code != 4009 {
		t.Fatalf("first connection (on a) closed with %d, want 4009", code)
	}
	if second.welcome.d()["resumed"] != false {
		t.Fatalf("second welcome %v", second.welcome)
	}
	second.ok("ping", nil)
}

// GET /admin/shards on either shard lists both, with their addresses.
func TestBinaryClusterAdminShardsListsBoth(t *testing.T) {
	sh := startBinaryShards(t, 2)
	for i, s := range sh {
		var rows []gateway.ShardInfo
		for range 50 { // a shard registers at start; poll briefly in case its first heartbeat is in flight
			rows = nil
			if st, _ := s.httpDo("GET", "/admin/shards", "op-token", nil, &rows); st != 200 {
				t.Fatalf("GET /admin/shards on %c: %d", 'a'+i, st)
			}
			if len(rows) == 2 {
				break
			}
			s.dial(fmt.Sprint("poll", i)).ok("ping", nil) // spaces the polls without a sleep
		}
		ids := map[string]string{}
		for _, r := range rows {
			ids[r.ID] = r.Addr
		}
		if len(rows) != 2 || ids["a"] == "" || ids["b"] == "" {
			t.Fatalf("GET /admin/shards on %c: %+v", 'a'+i, rows)
		}
	}
	if st, _ := sh[0].httpDo("GET", "/admin/shards", "", nil, nil); st != 401 {
		t.Fatalf("GET /admin/shards without the operator token: %d", st)
	}
}
