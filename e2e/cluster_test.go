package e2e

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/lobbyd/lobbyd/config"
	"github.com/lobbyd/lobbyd/internal/redistest"
)

// startShards starts n in-process shards (a, b, c, ...) of one cluster on
// the test Redis, under a key prefix of the test's own.
func startShards(t *testing.T, n int, mutate func(*config.Config)) []*server {
	t.Helper()
	addr, prefix := redistest.SharedPrefix(t)
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
	chatOneOrder(t, startShards(t, 2, func(c *config.Config) { c.RateLimit.PerSecond = 10000; c.RateLimit.Burst = 10000 }))
}

// chatOneOrder: 4 members, spread over the shards of sh, send 200 chats at
// once (from different connections, so different epoll loops and shards);
// every member sees them in one order with gap-free seqs (docs/protocol.md §2).
func chatOneOrder(t *testing.T, sh []*server) {
	const members, perMember = 4, 50 // 200 chats
	var cs []*client
	var id any
	for i := range members {
		c := sh[i%len(sh)].dial(fmt.Sprint("x", i))
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
				if err := c.write(b); err != nil {
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
				t.Fatalf("%s (shard %d) saw %q at %d, %s saw %q", c.user, i%len(sh), got[k], k, cs[0].user, order[k])
			}
		}
	}
}

// Relay in a lobby split over two shards reaches the members of both, and
// the same-shard members too; a lobby made on a is listed and readable on b.
func TestClusterRelayAndListingAcrossShards(t *testing.T) {
	relayAndListing(t, startShards(t, 2, nil))
}

// relayAndListing: a lobby made on sh[0] is joined from sh[1], relays both
// ways and is listed by GET /v1/lobbies on sh[1].
func relayAndListing(t *testing.T, sh []*server) {
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
	ben.ok("lobby.send", map[string]any{"data": []byte("back")})
	ben.ok("lobby.chat", map[string]any{"text": "from b"})
	for _, c := range []*client{ann, cat} {
		if d := c.nextEvent("lobby.data").d(); str(d["from"]) != "ben" || string(d["data"].([]byte)) != "back" {
			t.Fatalf("%s got %v", c.user, d)
		}
		if d := c.nextEvent("lobby.chat").d(); d["text"] != "from b" {
			t.Fatalf("%s got %v", c.user, d)
		}
	}
	var page struct {
		Lobbies []map[string]any `json:"lobbies"`
	}
	deadline := 50 // the listing is fed by the store; docs/protocol.md allows up to 1 s
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
	lastSeatRace(t, startShards(t, 2, nil))
}

// lastSeatRace: ten rounds of a player on sh[0] and one on sh[1] joining
// the last seat at once.
func lastSeatRace(t *testing.T, sh []*server) {
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

// A player on shard a and one on shard b queue for a duel: whichever shard
// holds the queue's matcher lease matches them, both get mm.matched and
// land in one match lobby.
func TestClusterMatchAcrossShards(t *testing.T) {
	matchAcrossShards(t, startShards(t, 2, nil))
}

// matchAcrossShards: sh[0] and sh[1] each queue a duel player.
func matchAcrossShards(t *testing.T, sh []*server) {
	p, q := sh[0].dial("mp"), sh[1].dial("mq")
	p.ok("mm.enqueue", map[string]any{"queue": "duel", "skill": 1000.0, "region": "eu"})
	q.ok("mm.enqueue", map[string]any{"queue": "duel", "skill": 1010.0, "region": "eu"})
	var lobbies []any
	for _, c := range []*client{p, q} {
		m := c.nextEvent("mm.matched").d()
		l := lobbyOf(m)
		lobbies = append(lobbies, l["id"])
		// Both are online, each on its own shard: a player of another
		// shard than the matcher's is not taken for absent.
		for _, mem := range l["members"].([]any) {
			if mm, _ := mem.(map[string]any); mm["connected"] != true {
				t.Fatalf("%s: the match lobby shows member %v not connected", c.user, mem)
			}
		}
	}
	if lobbies[0] != lobbies[1] || lobbies[0] == nil {
		t.Fatalf("matched into lobbies %v", lobbies)
	}
}

// GET /admin/shards on either shard lists every live shard of the cluster.
func TestClusterShardList(t *testing.T) {
	shardList(t, startShards(t, 2, nil))
}

// shardList: both shards list both.
func shardList(t *testing.T, sh []*server) {
	for _, s := range sh {
		var list []map[string]any
		if st, _ := s.httpDo("GET", "/admin/shards", "op-token", nil, &list); st != 200 {
			t.Fatalf("/admin/shards: %d", st)
		}
		ids := map[any]bool{}
		for _, e := range list {
			ids[e["id"]] = true
			if e["addr"] == "" || e["last_seen"] == nil {
				t.Fatalf("entry %v", e)
			}
		}
		if len(list) != 2 || !ids["a"] || !ids["b"] {
			t.Fatalf("shards listed: %v", list)
		}
	}
}

// A player on shard a drops, misses 50 events, and resumes on shard b: the
// ring is handed over, nothing is missing or repeated, and the numbering
// goes on. Then it resumes back on a while its connection on b is still
// open (the old connection is closed with 4009).
func TestClusterResumeOnAnotherShard(t *testing.T) {
	resumeOnAnotherShard(t, startShards(t, 2, nil))
}

// resumeOnAnotherShard: drop on sh[0], resume on sh[1], then back.
func resumeOnAnotherShard(t *testing.T, sh []*server) {
	a, b := sh[0], sh[1]
	stay, other := a.dial("stay"), b.dial("other")
	drop := a.dial("drop")
	id := lobbyOf(stay.ok("lobby.create", map[string]any{"name": "r", "max_players": 4, "visibility": "public"}))["id"]
	other.ok("lobby.join", map[string]any{"lobby_id": id})
	drop.ok("lobby.join", map[string]any{"lobby_id": id})
	stay.ok("lobby.chat", map[string]any{"text": "before"})
	lastSeq := toUint(drop.nextEvent("lobby.chat")["seq"])
	token := str(drop.welcome.d()["resume_token"])
	drop.ws.Close()
	stay.nextEvent("lobby.member_updated") // the drop shows connected:false
	for i := range 50 {
		stay.ok("lobby.chat", map[string]any{"text": fmt.Sprint("missed ", i)})
	}
	q := func(tok string, last uint64) string {
		return "token=" + url.QueryEscape(b.token("drop", "", time.Hour)) + "&resume=" + url.QueryEscape(tok) + fmt.Sprintf("&last_seq=%d", last)
	}
	onB := b.dialQuery("drop", q(token, lastSeq))
	if w := onB.welcome.d(); w["resumed"] != true || w["shard"] != "b" || lobbyOf(w)["id"] != id {
		t.Fatalf("resume welcome on b: %v", w)
	}
	for i := range 50 {
		ev := onB.nextEvent("lobby.chat")
		if toUint(ev["seq"]) != lastSeq+1+uint64(i) || ev.d()["text"] != fmt.Sprint("missed ", i) {
			t.Fatalf("replayed #%d: %v", i, ev)
		}
	}
	stay.ok("lobby.chat", map[string]any{"text": "after"})
	ev := onB.nextEvent("lobby.chat")
	if toUint(ev["seq"]) != lastSeq+51 || ev.d()["text"] != "after" {
		t.Fatalf("after resume: %v", ev)
	}
	onB.call("ping", nil) // a barrier: nothing else is queued for it
	for _, m := range onB.drainEvents() {
		t.Fatalf("unexpected after the replay: %v", m)
	}

	// Back to a, without dropping b first.
	last := toUint(ev["seq"])
	stay.ok("lobby.chat", map[string]any{"text": "while moving"})
	onB.nextEvent("lobby.chat")
	onA := a.dialQuery("drop", q(str(onB.welcome.d()["resume_token"]), last))
	if code := onB.waitClose(); code != 4009 {
		t.Fatalf("the connection on b closed with %d, want 4009", code)
	}
	if w := onA.welcome.d(); w["resumed"] != true || w["shard"] != "a" {
		t.Fatalf("resume welcome on a: %v", w)
	}
	if ev := onA.nextEvent("lobby.chat"); toUint(ev["seq"]) != last+1 || ev.d()["text"] != "while moving" {
		t.Fatalf("replayed on a: %v", ev)
	}
	stay.ok("lobby.chat", map[string]any{"text": "last"})
	if ev := onA.nextEvent("lobby.chat"); toUint(ev["seq"]) != last+2 {
		t.Fatalf("after the second move: %v", ev)
	}
}

// A connection cut between a resume and its welcome's arrival leaves the
// client with the spent token only: the next resume with it, on another
// shard, is honoured, nothing missing or repeated. Once the client has
// answered a ping written after the welcome, the spent token is refused.
func TestClusterResumeCutBeforeItsWelcome(t *testing.T) {
	var prefix string
	sh := startShards(t, 2, func(c *config.Config) { prefix = c.RedisPrefix })
	a, b := sh[0], sh[1]
	stay, drop := a.dial("stay"), a.dial("drop")
	id := lobbyOf(stay.ok("lobby.create", map[string]any{"name": "r", "max_players": 4, "visibility": "public"}))["id"]
	drop.ok("lobby.join", map[string]any{"lobby_id": id})
	stay.ok("lobby.chat", map[string]any{"text": "0"})
	last := toUint(drop.nextEvent("lobby.chat")["seq"])
	spent := str(drop.welcome.d()["resume_token"])
	drop.ws.Close()
	q := func(s *server, last uint64) string {
		return "token=" + url.QueryEscape(s.token("drop", "", time.Hour)) + "&resume=" + url.QueryEscape(spent) + fmt.Sprintf("&last_seq=%d", last)
	}
	stay.ok("lobby.chat", map[string]any{"text": "1"})
	lost := b.dialQuery("drop", q(b, last)) // its welcome is "lost": the client never reads it
	if lost.welcome.d()["resumed"] != true {
		t.Fatalf("first resume: %v", lost.welcome)
	}
	lost.ws.Close()
	stay.ok("lobby.chat", map[string]any{"text": "2"})

	onA := a.dialQuery("drop", q(a, last))
	if w := onA.welcome.d(); w["resumed"] != true || w["shard"] != "a" {
		t.Fatalf("resume with the spent, unconfirmed token: %v", w)
	}
	for i := range 2 {
		ev := onA.nextEvent("lobby.chat")
		if toUint(ev["seq"]) != last+1+uint64(i) || ev.d()["text"] != fmt.Sprint(i+1) {
			t.Fatalf("replayed #%d: %v", i, ev)
		}
	}
	// The client answers the ping the shard writes a second after its
	// writes went quiet; the directory then forgets the spent token.
	rdb := redis.NewClient(&redis.Options{Addr: redistest.Addr(t)})
	defer rdb.Close()
	ctx := context.Background()
	eventually(t, "the spent token forgotten", func() bool {
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		for _, k := range keys {
			if ok, _ := rdb.HExists(ctx, k, "ptok").Result(); ok {
				return false
			}
		}
		return len(keys) > 0
	})
	onA.ws.Close()
	if w := b.dialQuery("drop", q(b, last+2)).welcome.d(); w["resumed"] != false {
		t.Fatalf("the spent token resumed after the client confirmed the new one: %v", w)
	}
}

// A second login of one user on shard b closes the first connection, on a,
// with 4009; the new connection is a fresh session that works.
func TestClusterSecondLoginClosesFirst(t *testing.T) {
	secondLoginClosesFirst(t, startShards(t, 2, nil))
}

// secondLoginClosesFirst: a login on sh[1] replaces the user's on sh[0].
func secondLoginClosesFirst(t *testing.T, sh []*server) {
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
