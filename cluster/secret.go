package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// secretKey holds a cluster-wide secret (hex), e.g. the lobby password
// pepper: made by the first shard that asks, read by every other.
func (k Keyspace) secretKey(name string) string { return k.tag("secret", name, "") }

// SharedSecret returns the cluster's secret called name, 32 random bytes
// created by the first shard that asks (SET NX) and read by every other,
// so that shards agree on it without any configuration: the lobby password
// pepper, which every shard needs to check a password set on another. It
// is kept in Redis without TTL; whoever can read Redis can read it, which is
// no more than they could do to the lobbies themselves.
func SharedSecret(ctx context.Context, rdb redis.UniversalClient, ks Keyspace, name string) ([]byte, error) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	key := ks.secretKey(name)
	if err := rdb.SetNX(ctx, key, hex.EncodeToString(b[:]), 0).Err(); err != nil {
		return nil, redisFailure("secret", err)
	}
	v, err := rdb.Get(ctx, key).Result()
	if err != nil {
		return nil, redisFailure("secret", err)
	}
	out, err := hex.DecodeString(v)
	if err != nil || len(out) != 32 {
		return nil, fmt.Errorf("cluster: secret %s in Redis is not 32 hex bytes", name)
	}
	return out, nil
}
