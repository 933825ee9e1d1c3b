package cluster

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/internal/redistest"
)

// onEachRedis runs f as two subtests: on one Redis node and on a
// three-master Redis Cluster, each with a key prefix of its own.
func onEachRedis(t *testing.T, f func(t *testing.T, rdb redis.UniversalClient, prefix string)) {
	t.Run("OneNode", func(t *testing.T) { c, p := redistest.Client(t); f(t, c, p) })
	t.Run("Cluster", func(t *testing.T) { c, p := redistest.Cluster(t); f(t, c, p) })
}
