package e2e

import (
	"os"
	"path/filepath"
	"testing"

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
