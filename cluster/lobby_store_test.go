package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/internal/redistest"
	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/lobby/lobbytest"
)

// newTestStore makes a store of shard on client under prefix, stopped
// when the test ends.
func newTestStore(t testing.TB, client redis.UniversalClient, prefix, shard string, sink lobby.Sink, opts LobbyOptions) *LobbyStore {
	t.Helper()
	if opts.PasswordPepper == nil {
		opts.PasswordPepper = []byte("test pepper shared by the shards")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := NewLobbyStore(ctx, client, NewKeyspace(prefix), shard, sink, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}

// TestLobbyStoreConformance runs the lobby conformance suite, unchanged,
// against the Redis store on one Redis node, a key prefix per subtest.
func TestLobbyStoreConformance(t *testing.T) {
	lobbytest.Run(t, func(t *testing.T, sink lobby.Sink) lobby.Store {
		c, prefix := redistest.Client(t)
		return newTestStore(t, c, prefix, "a", sink, LobbyOptions{})
	})
}

// TestLobbyStoreConformanceCluster runs the suite on a three-master Redis
// Cluster: every script touches one slot.
func TestLobbyStoreConformanceCluster(t *testing.T) {
	lobbytest.Run(t, func(t *testing.T, sink lobby.Sink) lobby.Store {
		c, prefix := redistest.Cluster(t)
		return newTestStore(t, c, prefix, "a", sink, LobbyOptions{})
	})
}
