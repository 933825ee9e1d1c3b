package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lobbyd/lobbyd/gateway"
	"github.com/lobbyd/lobbyd/internal/redistest"
)

// The tests of this file run the cluster scenarios of cluster_test.go on
// real lobbyd processes, two shards of one cluster on the test Redis, as
// operators run them: flags only, a key prefix of the test's own, one JWT
// secret, distinct shard ids, killed by PID when the test ends.

// startBinaryShards starts n lobbyd processes (shards a, b, ...) on free
// ports sharing the test Redis, with the rate limit raised so that a burst
// of chats is not throttled.
func startBinaryShards(t *testing.T, n int) []*server {
	t.Helper()
	redisAddr, prefix := redistest.SharedPrefix(t)
	cfg := filepath.Join(t.TempDir(), "lobbyd.yaml")
	if err := os.WriteFile(cfg, []byte("rate_limit: {per_second: 10000, burst: 10000}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	auth := gateway.NewHMACAuth([]byte(testSecret))
	var out []*server
	for i := range n {
		p := startLobbyd(t, []string{"LOBBY_DEV=", "LOBBY_REDIS_URL=", "LOBBY_JWT_SECRET=", "LOBBY_OPERATOR_TOKEN="},
			"--addr", "127.0.0.1:0", "--config", cfg,
			"--redis", "redis://"+redisAddr+"/0", "--redis-prefix", prefix,
			"--shard-id", string(rune('a'+i)), "--jwt-secret", testSecret, "--operator-token", "op-token")
		out = append(out, &server{t: t, addr: p.addr, auth: auth})
	}
	return out
}

// 200 chats interleaved from members on shards a and b reach everyone in
// one order, gap-free.
func TestBinaryClusterChatOneOrder(t *testing.T) { chatOneOrder(t, startBinaryShards(t, 2)) }

// A lobby made on a is listed on b (within 1 s), joined from b and played
// both ways.
func TestBinaryClusterRelayAndListing(t *testing.T) { relayAndListing(t, startBinaryShards(t, 2)) }

// Two shards race players for the last seat: exactly one wins.
func TestBinaryClusterLastSeatRace(t *testing.T) { lastSeatRace(t, startBinaryShards(t, 2)) }

// A player on a and one on b queued in duel both get mm.matched and land
// in one match lobby.
func TestBinaryClusterMatchAcrossShards(t *testing.T) {
	matchAcrossShards(t, startBinaryShards(t, 2))
}

// A player dropped on a (TCP closed without a close frame) resumes on b
// with every missed event once, in order, then back on a (4009 on b).
func TestBinaryClusterResumeOnAnotherShard(t *testing.T) {
	resumeOnAnotherShard(t, startBinaryShards(t, 2))
}

// A second login on b closes the first connection, on a, with 4009.
func TestBinaryClusterSecondLoginClosesFirst(t *testing.T) {
	secondLoginClosesFirst(t, startBinaryShards(t, 2))
}

// GET /admin/shards on either shard lists both.
func TestBinaryClusterShardList(t *testing.T) { shardList(t, startBinaryShards(t, 2)) }

// A lobby split over a and b whose member on b leaves turns all local on
// a. a's members, whose places in the lobby's log derived from their last
// delivery-record entries while b's member chatted, break that at the
// first same-shard relay (docs/cluster.md, "Derived positions"): its
// frame waits for the break's entry in Redis, then every relay flows as
// before, in order, and each stream stays gap-free.
func TestBinaryClusterSplitLobbyTurnsLocal(t *testing.T) {
	sh := startBinaryShards(t, 2)
	ann, cat, ben := sh[0].dial("ann"), sh[0].dial("cat"), sh[1].dial("ben")
	id := str(lobbyOf(ann.ok("lobby.create", map[string]any{"name": "turns", "max_players": 4, "visibility": "public"}))["id"])
	ben.ok("lobby.join", map[string]any{"lobby_id": id})
	cat.ok("lobby.join", map[string]any{"lobby_id": id})
	for i := 1; i <= 6; i++ {
		ben.ok("lobby.chat", map[string]any{"text": fmt.Sprintf("ben %d", i)})
		waitChat(t, fmt.Sprintf("ben %d", i), ann, cat)
		time.Sleep(20 * time.Millisecond) // the entries land: a's members turn pure
	}
	ben.ok("lobby.leave", nil)
	const sends = 20
	for i := range sends {
		ann.ok("lobby.send", map[string]any{"data": []byte(fmt.Sprint("local ", i))})
	}
	eventually(t, "every relay at cat", func() bool {
		cat.mu.Lock()
		defer cat.mu.Unlock()
		n := 0
		for _, m := range cat.inbox {
			if m["ev"] == "lobby.data" {
				n++
			}
		}
		return n == sends
	})
	evs := cat.drainEvents()
	checkEvents(t, cat.user, evs, 1, map[string]int{}) // gap-free, none twice
	var data []string
	for _, m := range evs {
		if m["ev"] == "lobby.data" {
			data = append(data, string(m.d()["data"].([]byte)))
		}
	}
	for i, d := range data {
		if d != fmt.Sprint("local ", i) {
			t.Fatalf("relay %d is %q: out of order (%v)", i, d, data)
		}
	}
	ann.ok("lobby.chat", map[string]any{"text": "ann 1"}) // and the lobby's log still flows
	waitChat(t, "ann 1", ann, cat)
}
