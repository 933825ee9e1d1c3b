package e2e

import (
	"fmt"
	"sync"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/lobbyd/lobbyd/config"
	"github.com/lobbyd/lobbyd/internal/redistest"
)

// startShards starts n in-process shards (a, b, c, ...) of one cluster on
// the test Redis, under a key prefix of the test's own.
func startShards(t *testing.T, n int, mutate func(*config.Config)) []*server {
	t.Helper()
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t)
	var out []*server
	for i := range n {
		out = append(out, startServer(t, func(c *config.Config) {
			c.RedisURL = "redis://" + addr + "/0"
			c.RedisPrefix = prefix
			c.ShardID = string(rune('a' + i))
			if mutate != nil {
				mutate(c)
			}
		}))
	}
	return out
}

// A lobby made on shard a is joined and played from shard b: its members,
// on two shards, see its events in one order, each with gap-free seqs.
func TestClusterChatOneOrderAcrossShards(t *testing.T) {
	sh := startShards(t, 2, func(c *config.Config) { c.RateLimit.PerSecond = 10000; c.RateLimit.Burst = 10000 })
	const members, perMember = 4, 50 // 200 chats
	var cs []*client
	var id any
	for i := range members {
		c := sh[i%2].dial(fmt.Sprint("x", i))
		cs = append(cs, c)
		if i == 0 {
			id = lobbyOf(c.ok("lobby.create", map[string]any{"name": "split", "max_players": members, "visibility": "public"}))["id"]
		} else {
			c.ok("lobby.join", map[string]any{"lobby_id": id})
		}
	}
	for _, c := range cs {
		c.drainEvents()
	}
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range perMember {
				b, _ := msgpack.Marshal(map[string]any{"op": "lobby.chat", "d": map[string]any{"text": fmt.Sprintf("%d-%d", i, k)}})
				if err := c.ws.WriteMessage(2, b); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	var order []string
	for i, c := range cs {
		var got []string
		var last uint64
		for len(got) < members*perMember {
			ev := c.nextEvent("lobby.chat")
			if seq := toUint(ev["seq"]); last != 0 && seq != last+1 {
				t.Fatalf("%s: seq %d after %d", c.user, seq, last)
			} else {
				last = seq
			}
			got = append(got, str(ev.d()["text"]))
		}
		if i == 0 {
			order = got
			continue
		}
		for k := range got {
			if got[k] != order[k] {
				t.Fatalf("%s (shard %c) saw %q at %d, %s saw %q", c.user, 'a'+i%2, got[k], k, cs[0].user, order[k])
			}
		}
	}
}

// Relay in a lobby split over two shards reaches the members of both, and
// the same-shard members too; a lobby made on a is listed and readable on b.
func TestClusterRelayAndListingAcrossShards(t *testing.T) {
	sh := startShards(t, 2, nil)
	ann, ben, cat := sh[0].dial("ann"), sh[1].dial("ben"), sh[0].dial("cat")
	lv := lobbyOf(ann.ok("lobby.create", map[string]any{"name": "relay", "max_players": 4, "visibility": "public", "mode": "ctf"}))
	id := lv["id"].(string)
	ben.ok("lobby.join", map[string]any{"lobby_id": id})
	cat.ok("lobby.join", map[string]any{"code": lv["code"]})
	ann.drainEvents()
	ben.drainEvents()
	ann.ok("lobby.send", map[string]any{"data": []byte("hello")})
	for _, c := range []*client{ben, cat} {
		ev := c.nextEvent("lobby.data")
		if d := ev.d(); str(d["from"]) != "ann" || string(d["data"].([]byte)) != "hello" {
			t.Fatalf("%s got %v", c.user, d)
		}
	}
	var page struct {
		Lobbies []map[string]any `json:"lobbies"`
	}
	deadline := 50 // the listing is fed by the store; PROTOCOL.md allows up to 1 s
	for ; deadline > 0; deadline-- {
		page.Lobbies = nil
		if st, _ := sh[1].httpDo("GET", "/v1/lobbies?mode=ctf", "", nil, &page); st != 200 {
			t.Fatalf("GET /v1/lobbies on b: %d", st)
		}
		if len(page.Lobbies) == 1 {
			break
		}
		ben.call("ping", nil) // a barrier that also spaces the polls
	}
	if len(page.Lobbies) != 1 || page.Lobbies[0]["id"] != id || len(page.Lobbies[0]["members"].([]any)) != 3 {
		t.Fatalf("listing on b: %+v", page.Lobbies)
	}
	if _, has := page.Lobbies[0]["code"]; has {
		t.Fatal("the listing shows the code")
	}
}

// Two shards race players for the last seat of a lobby: exactly one wins,
// the other gets lobby_full.
func TestClusterLastSeatRace(t *testing.T) {
	sh := startShards(t, 2, nil)
	for round := range 10 {
		host := sh[0].dial(fmt.Sprint("h", round))
		id := lobbyOf(host.ok("lobby.create", map[string]any{"name": "two", "max_players": 2, "visibility": "public"}))["id"]
		p, q := sh[0].dial(fmt.Sprint("p", round)), sh[1].dial(fmt.Sprint("q", round))
		var wg sync.WaitGroup
		res := make([]msg, 2)
		for i, c := range []*client{p, q} {
			wg.Add(1)
			go func() { defer wg.Done(); res[i] = c.call("lobby.join", map[string]any{"lobby_id": id}) }()
		}
		wg.Wait()
		wins := 0
		for _, r := range res {
			switch {
			case r["ok"] == true:
				wins++
			case r.errCode() != "lobby_full":
				t.Fatalf("round %d: %v", round, r)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d players got the last seat", round, wins)
		}
	}
}
