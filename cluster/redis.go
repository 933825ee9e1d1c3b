package cluster

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultPoolSize is the Redis connections a shard keeps at most (per
// node of a Redis Cluster): one per off-loop worker of the gateway (128),
// so no worker waits for a connection while others' round trips are in
// flight. go-redis's own default, 10 per CPU, capped a 2-core shard at 20
// round trips in flight: with a 30 ms round trip on a loaded machine that
// is 670 split-lobby sends a second, whatever Redis could do. Connections
// are opened on demand and closed after a minute idle, so an idle shard
// holds few; each has 4 KiB buffers (connBufferSize).
const DefaultPoolSize = 128

// connBufferSize is each pooled connection's read and write buffer unless
// the URL sets one: 4 KiB, not go-redis's 32 KiB, so a full pool costs a
// shard 1 MiB, not 8 (lobby commits are a few hundred bytes; a bigger read
// takes a few reads). Pipelines have their own pool and buffers.
const connBufferSize = 4 << 10

// pipelineBufferSize is the read and write buffer of each connection of
// go-redis's pipeline pool (up to 10 connections, made for pipelines such
// as the delivery records' batches) unless the URL sets one: go-redis's
// default there is 128 KiB each way, 2.5 MiB a shard once a burst had 10
// pipelines in flight — 250 bytes a player on a shard of 10,000, found in
// the heap of fresh shards after a burst of connects (bench/results/CLUSTER.md).
// A batch of delivery records is a few KiB; a bigger one takes a few
// writes.
const pipelineBufferSize = 16 << 10

// connMaxIdle closes a pooled connection idle this long (unless the URL
// sets conn_max_idle_time): a burst's extra connections go back within a
// minute instead of go-redis's 30.
const connMaxIdle = time.Minute

// shardDefaults sets what Open promises on each kind of client (the three
// go-redis option structs have the same fields, not a common type): the
// callers' deadlines on the socket, no retries and DefaultPoolSize unless
// the URL's query sets them, small buffers and a short idle time unless
// set. pipeRead and pipeWrite (the pipeline pool's buffers) are nil for a
// Redis Cluster client, which makes no pipeline pool unless they are set.
func shardDefaults(q url.Values, ctxTimeout *bool, maxRetries, poolSize, read, write, pipeRead, pipeWrite *int, idle *time.Duration) {
	*ctxTimeout = true
	if !q.Has("max_retries") {
		*maxRetries = -1
	}
	if !q.Has("pool_size") {
		*poolSize = DefaultPoolSize
	}
	if *read == 0 {
		*read = connBufferSize
	}
	if *write == 0 {
		*write = connBufferSize
	}
	if *idle == 0 {
		*idle = connMaxIdle
	}
	for _, b := range []*int{pipeRead, pipeWrite} {
		if b != nil && *b == 0 {
			*b = pipelineBufferSize
		}
	}
}

// Open connects to the Redis named by rawURL, in one of three forms:
//
//	redis://[user:password@]host:port[/db][?options]      one node (rediss:// for TLS)
//	redis+sentinel://[user:password@]host:port[/db]?master_name=NAME[&addr=host:port...]
//	redis+cluster://[user:password@]host:port[?addr=host:port...]
//
// (rediss+sentinel:// and rediss+cluster:// for TLS). The options are
// go-redis's URL options (dial_timeout, read_timeout, pool_size, ...).
// Open does not dial: the first command does.
//
// Every client honours its callers' context deadlines on the socket
// (ContextTimeoutEnabled): a request that needs Redis is answered within
// its own bound (docs/protocol.md §5a: 2 s) even while Redis hangs, rather
// than after go-redis's read timeout and retries.
//
// And none retries a command on its own unless the URL asks for it
// (max_retries): go-redis retries a command whose connection broke, and a
// script that ran before Redis died (or before a read timed out) would run
// twice — a chat sent twice, a ticket queued and then refused as "in use".
// The shard answers unavailable instead and the client decides.
//
// The connection pool holds DefaultPoolSize connections unless the URL
// says otherwise (?pool_size=N).
func Open(rawURL string) (redis.UniversalClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	base, kind, _ := strings.Cut(u.Scheme, "+")
	if base != "redis" && base != "rediss" {
		return nil, fmt.Errorf("redis url: scheme %q: want redis, rediss, redis+sentinel or redis+cluster", u.Scheme)
	}
	u.Scheme = base
	plain := u.String()
	switch kind {
	case "":
		o, err := redis.ParseURL(plain)
		if err != nil {
			return nil, fmt.Errorf("redis url: %w", err)
		}
		shardDefaults(u.Query(), &o.ContextTimeoutEnabled, &o.MaxRetries, &o.PoolSize, &o.ReadBufferSize, &o.WriteBufferSize,
			&o.PipelineReadBufferSize, &o.PipelineWriteBufferSize, &o.ConnMaxIdleTime)
		o.Dialer = checkedDial(redis.NewDialer(o))
		return redis.NewClient(o), nil
	case "sentinel":
		o, err := redis.ParseFailoverURL(plain)
		if err != nil {
			return nil, fmt.Errorf("redis url: %w", err)
		}
		if o.MasterName == "" {
			return nil, fmt.Errorf("redis url: redis+sentinel needs ?master_name=NAME")
		}
		shardDefaults(u.Query(), &o.ContextTimeoutEnabled, &o.MaxRetries, &o.PoolSize, &o.ReadBufferSize, &o.WriteBufferSize,
			&o.PipelineReadBufferSize, &o.PipelineWriteBufferSize, &o.ConnMaxIdleTime)
		return redis.NewFailoverClient(o), nil
	case "cluster":
		o, err := redis.ParseClusterURL(plain)
		if err != nil {
			return nil, fmt.Errorf("redis url: %w", err)
		}
		// PoolSize is per node of a Redis Cluster.
		shardDefaults(u.Query(), &o.ContextTimeoutEnabled, &o.MaxRetries, &o.PoolSize, &o.ReadBufferSize, &o.WriteBufferSize,
			nil, nil, &o.ConnMaxIdleTime)
		// go-redis's own dialer, as a node's client would make it, from
		// o as NewClusterClient completes it (its default dial timeout).
		o.Dialer = checkedDial(func(ctx context.Context, network, addr string) (net.Conn, error) {
			return redis.NewDialer(&redis.Options{DialTimeout: o.DialTimeout, TLSConfig: o.TLSConfig})(ctx, network, addr)
		})
		return redis.NewClusterClient(o), nil
	}
	return nil, fmt.Errorf("redis url: scheme %q: want redis, rediss, redis+sentinel or redis+cluster", u.Scheme)
}
