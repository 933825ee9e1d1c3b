package cluster

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// registrySeen is the sorted set shard id → last heartbeat (Redis ms).
func (k Keyspace) registrySeen() string { return k.tag("reg", "shards", ":seen") }

// registryInfo is the hash shard id → its last report (JSON ShardInfo).
func (k Keyspace) registryInfo() string { return k.tag("reg", "shards", ":info") }

// Registry timings (docs/protocol.md §5a: a dead shard is noticed within 10 s).
const (
	DefaultRegistryInterval = 2 * time.Second
	DefaultRegistryTTL      = 10 * time.Second
)

// ShardInfo is one shard as GET /admin/shards lists it (docs/protocol.md §4).
type ShardInfo struct {
	ID          string `json:"id"`
	Addr        string `json:"addr"`
	Connections int    `json:"connections"`
	Lobbies     int    `json:"lobbies"`
	Draining    bool   `json:"draining"`
	LastSeen    int64  `json:"last_seen"` // unix ms, Redis's clock
	// Matchers are the queues whose matcher runs on this shard (it holds
	// their lease), each with the matches it made in the last minute:
	// GET /admin/queues names each queue's matcher from these reports.
	Matchers map[string]int `json:"matchers,omitempty"`
}

var (
	// registryRefreshScript: KEYS seen, info; ARGV id, report. Returns
	// {now, 1 if the entry was absent (first heartbeat, or declared dead)}.
	registryRefreshScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local new = redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return {now, new}`)

	// registryListScript: KEYS seen, info; ARGV ttl ms. Returns the live
	// entries as {id, last seen, report, ...}.
	registryListScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local seen = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. string.format('%.0f', now - tonumber(ARGV[1])), '+inf', 'WITHSCORES')
local out = {}
for i = 1, #seen, 2 do
  out[#out + 1] = seen[i]
  out[#out + 1] = seen[i + 1]
  out[#out + 1] = redis.call('HGET', KEYS[2], seen[i]) or ''
end
return out`)

	// registryReapScript: KEYS seen, info; ARGV ttl ms. Removes and returns
	// the ids whose last heartbeat is ttl old: each dead shard is returned
	// to exactly one caller.
	registryReapScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now - tonumber(ARGV[1])))
for _, id in ipairs(dead) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
end
return dead`)

	// registryLeaveScript: KEYS seen, info; ARGV id.
	registryLeaveScript = redis.NewScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('HDEL', KEYS[2], ARGV[1])`)
)

// Registry is the list of live shards: each shard's Run heartbeats its
// entry every Interval with what report returns; an entry not refreshed
// for TTL is a dead shard. One script per heartbeat; List and Dead are one
// script each. Safe for concurrent use.
type Registry struct {
	rdb    redis.UniversalClient
	ks     Keyspace
	id     string
	report func() ShardInfo
	opts   RegistryOptions
}

// RegistryOptions tune a Registry. Zero values: the defaults.
type RegistryOptions struct {
	Interval time.Duration // heartbeat; 0: DefaultRegistryInterval
	TTL      time.Duration // an entry this old is dead; 0: DefaultRegistryTTL
	// OnDead, when set, is called by Run with the shards that Run found
	// dead (each dead shard is reported to one live shard only): the hook
	// for taking over a dead shard's chores.
	OnDead func(ctx context.Context, shardIDs []string)
	Logger *slog.Logger // nil: slog.Default()
}

// NewRegistry returns the registry entry of shard id; report gives its
// current addr, connections, lobbies and draining (ID and LastSeen are
// filled in here).
func NewRegistry(rdb redis.UniversalClient, ks Keyspace, id string, report func() ShardInfo, opts RegistryOptions) *Registry {
	if opts.Interval <= 0 {
		opts.Interval = DefaultRegistryInterval
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultRegistryTTL
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Registry{rdb: rdb, ks: ks, id: id, report: report, opts: opts}
}

// Refresh writes this shard's entry now. rejoined is true when the entry
// was absent: the first heartbeat, or the shard was declared dead (a pause
// longer than TTL) and others may have taken its chores over.
func (r *Registry) Refresh(ctx context.Context) (rejoined bool, err error) {
	info := r.report()
	info.ID, info.LastSeen = r.id, 0
	b, err := json.Marshal(info)
	if err != nil {
		return false, err
	}
	res, err := registryRefreshScript.Run(ctx, r.rdb, []string{r.ks.registrySeen(), r.ks.registryInfo()}, r.id, b).Slice()
	if err != nil {
		return false, redisFailure("registry: refresh", err)
	}
	return len(res) == 2 && res[1] == int64(1), nil
}

// List returns the live shards, by id.
func (r *Registry) List(ctx context.Context) ([]ShardInfo, error) {
	res, err := registryListScript.Run(ctx, r.rdb, []string{r.ks.registrySeen(), r.ks.registryInfo()}, r.opts.TTL.Milliseconds()).Slice()
	if err != nil {
		return nil, redisFailure("registry: list", err)
	}
	out := make([]ShardInfo, 0, len(res)/3)
	for i := 0; i+2 < len(res); i += 3 {
		id, _ := res[i].(string)
		seen, _ := res[i+1].(string)
		report, _ := res[i+2].(string)
		var s ShardInfo
		_ = json.Unmarshal([]byte(report), &s) // a bad report still lists the shard
		s.ID = id
		ms, _ := strconv.ParseFloat(seen, 64)
		s.LastSeen = int64(ms)
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b ShardInfo) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Dead removes the entries not refreshed for TTL and returns their ids.
// Each dead shard is returned by one call only, whichever shard makes it.
func (r *Registry) Dead(ctx context.Context) ([]string, error) {
	ids, err := registryReapScript.Run(ctx, r.rdb, []string{r.ks.registrySeen(), r.ks.registryInfo()}, r.opts.TTL.Milliseconds()).StringSlice()
	if err != nil {
		return nil, redisFailure("registry: dead", err)
	}
	return ids, nil
}

// Leave removes this shard's entry: the end of a drain, so it leaves the
// list at once and is not reported dead.
func (r *Registry) Leave(ctx context.Context) error {
	return redisFailure("registry: leave",
		registryLeaveScript.Run(ctx, r.rdb, []string{r.ks.registrySeen(), r.ks.registryInfo()}, r.id).Err())
}

// Run heartbeats every Interval and reaps dead shards (OnDead) until ctx
// is done; it does not Leave (a stopped shard that did not drain is dead to
// the others, which is what happened).
func (r *Registry) Run(ctx context.Context) {
	t := time.NewTicker(r.opts.Interval)
	defer t.Stop()
	for {
		if rejoined, err := r.Refresh(ctx); err != nil {
			if ctx.Err() == nil {
				r.opts.Logger.Warn("cluster: registry heartbeat", "err", err)
			}
		} else if rejoined {
			r.opts.Logger.Info("cluster: shard registered", "shard", r.id)
		}
		if r.opts.OnDead != nil {
			if dead, err := r.Dead(ctx); err != nil {
				if ctx.Err() == nil {
					r.opts.Logger.Warn("cluster: registry reap", "err", err)
				}
			} else if len(dead) > 0 {
				r.opts.Logger.Warn("cluster: shards dead (no heartbeat)", "shards", dead, "ttl", r.opts.TTL)
				r.opts.OnDead(ctx, dead)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
