package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/cluster"
	"github.com/lobbyd/lobbyd/config"
	"github.com/lobbyd/lobbyd/gateway"
	"github.com/lobbyd/lobbyd/matchmaking"
)

// startTimeout bounds what a shard does with Redis before it serves: the
// first ping, the shared secret, the subscriptions.
const startTimeout = 10 * time.Second

// redisCluster is this shard's part of a cluster: the Redis client and the
// pieces built on it that outlive the gateway's build function.
type redisCluster struct {
	rdb     redis.UniversalClient
	ks      cluster.Keyspace
	lobby   *cluster.LobbyStore
	listing *cluster.Listing // every shard's public lobbies: an index in memory, views cached or read
	leases  *cluster.Leases
	cancel  context.CancelFunc // stops the leases' renewal
}

// openRedis connects to cfg's Redis and checks it answers, so that a wrong
// URL or an unreachable server stops lobbyd at start with the reason.
func openRedis(cfg *config.Config) (redis.UniversalClient, error) {
	rdb, err := cluster.Open(cfg.RedisURL)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("redis: %s does not answer: %w", redactURL(cfg.RedisURL), err)
	}
	return rdb, nil
}

// clusterBackends builds the services of a shard of a cluster: the Redis
// lobby store and the matchmaking service on the Redis ticket store, whose
// matcher runs only the queues whose lease this shard holds.
func (rc *redisCluster) backends(cfg *config.Config, w gateway.Wiring, log *slog.Logger) (gateway.Backends, error) {
	// Before anything else uses the client: every command is timed.
	rc.rdb.AddHook(w.RedisHook())
	w.RedisPool(rc.rdb.PoolStats)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	pepper, err := cluster.SharedSecret(ctx, rc.rdb, rc.ks, "password-pepper")
	if err != nil {
		return gateway.Backends{}, err
	}
	if rc.listing, err = cluster.NewListing(rc.rdb, rc.ks, cluster.ListingOptions{Logger: log}); err != nil {
		return gateway.Backends{}, err
	}
	// A match lobby records each member on the shard its session is on, so
	// that its events go there (a matcher matches players of every shard).
	sessions := cluster.NewSessions(rc.rdb, rc.ks, cfg.ShardID, cfg.ResumeGrace())
	shardOf := func(ctx context.Context, userID string) (string, error) {
		s, ok, err := sessions.Get(ctx, userID)
		if err != nil || !ok {
			return cfg.ShardID, err
		}
		return s.Shard, nil
	}
	rc.lobby, err = cluster.NewLobbyStore(ctx, rc.rdb, rc.ks, cfg.ShardID, w.LobbySink, cluster.LobbyOptions{
		PasswordPepper: pepper,
		OnPublicChange: rc.listing.OnPublicChange,
		ShardOf:        shardOf,
		Logger:         log,
	})
	if err != nil {
		return gateway.Backends{}, fmt.Errorf("redis: lobby store: %w", err)
	}
	if err := rc.listing.Start(context.Background()); err != nil {
		rc.lobby.Stop()
		return gateway.Backends{}, err
	}
	store := cluster.ListedStore{LobbyStore: rc.lobby, Listing: rc.listing}
	names := queueNames(cfg)
	rc.leases = cluster.NewLeases(rc.rdb, rc.ks, names, cluster.LeaseOptions{
		TTL: cfg.Cluster.LeaseTTL(), Renew: cfg.Cluster.LeaseRenew(), Logger: log})
	tickets := cluster.NewTicketStore(rc.rdb, rc.ks, cluster.TicketOptions{Fence: rc.leases.Fence})
	mm, err := matchmaking.NewService(cfg.Queues, tickets, w.MatchLobbies(store), w.MatchSink,
		matchmaking.Options{Logger: log, Runs: rc.leases.Held, Observer: w.MatchObserver(names)})
	if err != nil {
		rc.listing.Close()
		rc.lobby.Stop()
		return gateway.Backends{}, err
	}
	var leaseCtx context.Context
	leaseCtx, rc.cancel = context.WithCancel(context.Background())
	go rc.leases.Run(leaseCtx)
	return gateway.Backends{Lobbies: store, Matchmaking: mm,
		Cluster: &gateway.ClusterLink{Client: rc.rdb, Keys: rc.ks, Lobbies: rc.lobby, Ready: rc.listing.Ready,
			Registry: cluster.RegistryOptions{Interval: cfg.Cluster.Heartbeat(), TTL: cfg.Cluster.DeadAfter()}}}, nil
}

// close stops the cluster pieces (the leases are released at once, so
// another shard's matcher takes the queues over) and the client.
func (rc *redisCluster) close() {
	if rc.cancel != nil {
		rc.cancel()
	}
	if rc.listing != nil {
		rc.listing.Close()
	}
	if rc.lobby != nil {
		rc.lobby.Stop()
	}
	rc.rdb.Close()
}

// redactURL hides a password in a Redis URL for logs and errors.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}
