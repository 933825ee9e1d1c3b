package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// registrySeen is the sorted set shard id → last heartbeat (Redis ms).
func (k Keyspace) registrySeen() string { return k.tag("reg", "shards", ":seen") }

// registryInfo is the hash shard id → its last report (JSON ShardInfo).
func (k Keyspace) registryInfo() string { return k.tag("reg", "shards", ":info") }

// clusterToken names the data set the shards share: a random token the
// first heartbeat writes when it is absent. Redis restarted empty (or
// flushed, or failed over to a replica that never had it) has none; the
// next heartbeat writes a new one, and every shard that knew the old one
// learns that what it holds from Redis is gone (Registry.Run, OnLost).
func (k Keyspace) clusterToken() string { return k.tag("reg", "shards", ":cluster") }

// registryChores is the sorted set of dead shards whose chores are not
// done yet: shard id → when it may be claimed (Redis ms). Dead moves a
// shard here; Chores claims it for a while; ChoreDone removes it. A live
// shard that dies in the middle of another's chores leaves them to be
// claimed again.
func (k Keyspace) registryChores() string { return k.tag("reg", "shards", ":chores") }

// Registry timings (docs/protocol.md §5a: a dead shard is noticed within
// 10 s). Its last heartbeat is at most TTL old when it dies, and a live
// shard reaps every Interval: it is noticed within TTL + Interval, 8.5 s
// with the defaults (1.5 s in hand).
//
// The interval is a sixteenth of the TTL so that a shard's liveness (below)
// survives a Redis stall of several seconds (docs/failures.md: a 5 s pause
// costs nothing): the last heartbeat answered before the stall was sent at
// most an interval before it, and keeps the shard live TTL - min(clockSkew,
// TTL/5) after it was sent: 6.4 s, so at least 5.9 s into the stall. The
// liveness always ends before TTL, when the others may declare it dead.
const (
	DefaultRegistryInterval = 500 * time.Millisecond
	DefaultRegistryTTL      = 8 * time.Second
	// clockSkew is what the liveness keeps in hand against the TTL, which
	// Redis counts on its own clock from when the heartbeat ran there.
	clockSkew = 2 * time.Second
	// DefaultChoreRetry is how long a claimed dead shard's chores wait
	// before another shard may claim them again (their claimer died).
	DefaultChoreRetry = time.Minute
)

// livenessFor is how long after it was sent an answered heartbeat keeps
// the shard entitled to write: the TTL less what the clocks of the shard
// and Redis may differ by (at most clockSkew, a fifth of a short TTL), so
// it ends before any other shard may declare this one dead.
func livenessFor(ttl time.Duration) time.Duration { return ttl - min(clockSkew, ttl/5) }

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
	// registryRefreshScript: KEYS seen, info, cluster token; ARGV id,
	// report, a new cluster token to write when there is none. Returns
	// {now, 1 if the entry was absent (first heartbeat, or declared dead),
	// the cluster token}. Guarded: a heartbeat held up in the network
	// does not register a shard that has given up on it.
	registryRefreshScript = newGuardedScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local new = redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
local c = redis.call('GET', KEYS[3])
if not c then
  c = ARGV[3]
  redis.call('SET', KEYS[3], c)
end
return {now, new, c}`)

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

	// registryReapScript: KEYS seen, info, chores; ARGV ttl ms. Removes
	// and returns the ids whose last heartbeat is ttl old, and queues their
	// chores: each dead shard is returned to exactly one caller.
	registryReapScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now - tonumber(ARGV[1])))
for _, id in ipairs(dead) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  redis.call('ZADD', KEYS[3], 0, id)
end
return dead`)

	// registryChoresScript: KEYS chores, seen; ARGV max, retry ms, id.
	// Claims up to max dead shards whose chores are due (each pushed retry
	// ms ahead: one caller at a time) and returns them. A shard listed
	// live again (it came back) is dropped: it does its own chores.
	registryChoresScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now), 'LIMIT', 0, tonumber(ARGV[1]))
local out = {}
for _, id in ipairs(due) do
  if id == ARGV[3] or redis.call('ZSCORE', KEYS[2], id) then
    redis.call('ZREM', KEYS[1], id)
  else
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), id)
    out[#out + 1] = id
  end
end
return out`)

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

	mu          sync.Mutex // guards cluster, lost, incarnation
	cluster     string     // the cluster token this shard's state is from ("" before the first heartbeat)
	lost        bool       // OnLost was called; the next heartbeat answered starts a new incarnation
	incarnation int        // 1 from the first heartbeat, +1 per rejoin after OnLost
}

// Loss is why a shard dropped what it held (RegistryOptions.OnLost).
type Loss string

const (
	// LossCutOff: no heartbeat was answered for TTL - clockSkew; the
	// other shards may declare this one dead at any moment, and its
	// writes are refused (Liveness).
	LossCutOff Loss = "cut off from redis"
	// LossStore: Redis lost the cluster's data (restarted empty, flushed,
	// failed over to a replica without it).
	LossStore Loss = "redis lost its data"
	// LossDeclaredDead: a heartbeat found this shard's entry reaped by
	// another shard while this one still counted itself live (a clock
	// that jumped, a process frozen past its liveness).
	LossDeclaredDead Loss = "declared dead by another shard"
)

// RegistryOptions tune a Registry. Zero values: the defaults.
type RegistryOptions struct {
	Interval time.Duration // heartbeat; 0: DefaultRegistryInterval
	TTL      time.Duration // an entry this old is dead; 0: DefaultRegistryTTL
	// OnDead, when set, is called by Run for each dead shard whose chores
	// it claimed (one live shard at a time): the hook for taking them over.
	// nil: done. An error (or a crash of this shard) leaves them to be
	// claimed again after ChoreRetry, by this shard or another, so OnDead
	// must be safe to run twice for one shard.
	OnDead     func(ctx context.Context, shardID string) error
	ChoreRetry time.Duration // 0: DefaultChoreRetry
	// Liveness, when set, is extended by every heartbeat answered (to
	// TTL - clockSkew after it was sent) and ended by a loss: the bound of
	// every guarded write of this shard (WithLiveness).
	Liveness *Liveness
	// OnLost, when set, is called by Run, before the next heartbeat can
	// extend Liveness, when what this shard holds from Redis can no longer
	// be trusted: it must drop it (close its players' connections so that
	// they resume on a live shard, forget its copies of lobbies). The
	// shard then rejoins as a new incarnation.
	OnLost func(ctx context.Context, why Loss)
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
	if opts.ChoreRetry <= 0 {
		opts.ChoreRetry = DefaultChoreRetry
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
	rejoined, _, err = r.refresh(ctx)
	return rejoined, err
}

func randomToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// refresh is Refresh that also reports a loss it found: a changed cluster
// token (Redis lost the cluster's data since the last heartbeat answered)
// or this shard's entry reaped while it counted itself live. It extends
// the liveness unless it found one, which the caller must handle first.
func (r *Registry) refresh(ctx context.Context) (rejoined bool, loss Loss, err error) {
	info := r.report()
	info.ID, info.LastSeen = r.id, 0
	b, err := json.Marshal(info)
	if err != nil {
		return false, "", err
	}
	sent := time.Now()
	res, err := runGuarded(WithLiveness(ctx, nil), r.rdb, registryRefreshScript,
		[]string{r.ks.registrySeen(), r.ks.registryInfo(), r.ks.clusterToken()}, r.id, b, randomToken()).Slice()
	if err != nil {
		return false, "", redisFailure("registry: refresh", err)
	}
	if len(res) != 3 {
		return false, "", redisFailure("registry: refresh", fmt.Errorf("reply %v", res))
	}
	rejoined = res[1] == int64(1)
	token, _ := res[2].(string)
	r.mu.Lock()
	switch {
	case r.cluster != "" && token != r.cluster:
		loss = LossStore
	case rejoined && !r.lost && r.incarnation > 0:
		loss = LossDeclaredDead
	}
	r.cluster = token
	r.mu.Unlock()
	if loss != "" {
		return rejoined, loss, nil // the caller drops what it holds, then rejoins
	}
	r.rejoin(sent)
	return rejoined, "", nil
}

// rejoin extends the liveness from a heartbeat sent at sent and, after a
// loss, starts a new incarnation.
func (r *Registry) rejoin(sent time.Time) {
	r.mu.Lock()
	if r.lost || r.incarnation == 0 {
		r.lost = false
		r.incarnation++
		if r.incarnation > 1 {
			r.opts.Logger.Warn("cluster: shard rejoined as a new incarnation", "shard", r.id, "incarnation", r.incarnation)
		}
	}
	r.mu.Unlock()
	if l := r.opts.Liveness; l != nil {
		l.extend(sent.Add(livenessFor(r.opts.TTL)))
	}
}

// Incarnation counts this shard's lives in the cluster: 1 from the first
// heartbeat, one more each time it rejoins after a loss.
func (r *Registry) Incarnation() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.incarnation
}

// lose ends the liveness and calls OnLost once per loss.
func (r *Registry) lose(ctx context.Context, why Loss) {
	r.mu.Lock()
	already := r.lost
	r.lost = true
	r.mu.Unlock()
	if l := r.opts.Liveness; l != nil {
		l.end()
	}
	if already {
		return
	}
	r.opts.Logger.Error("cluster: shard dropped what it held from redis", "shard", r.id, "why", string(why))
	if r.opts.OnLost != nil {
		r.opts.OnLost(ctx, why)
	}
}

// watch reports the loss as soon as the liveness ends (Run's heartbeats
// may be waiting on a Redis that does not answer).
func (r *Registry) watch(ctx context.Context) {
	t := time.NewTicker(min(r.opts.Interval/2, 250*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !r.opts.Liveness.Live() {
				r.lose(ctx, LossCutOff)
			}
		}
	}
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

// Dead removes the entries not refreshed for TTL, queues their chores
// (Chores) and returns their ids. Each dead shard is returned by one call
// only, whichever shard makes it.
func (r *Registry) Dead(ctx context.Context) ([]string, error) {
	ids, err := registryReapScript.Run(ctx, r.rdb, []string{r.ks.registrySeen(), r.ks.registryInfo(), r.ks.registryChores()},
		r.opts.TTL.Milliseconds()).StringSlice()
	if err != nil {
		return nil, redisFailure("registry: dead", err)
	}
	return ids, nil
}

// Chores claims up to max dead shards whose chores are waiting, for
// ChoreRetry: no other shard gets them meanwhile. The caller does them and
// calls ChoreDone; if it does not, they are claimable again after that.
func (r *Registry) Chores(ctx context.Context, max int) ([]string, error) {
	ids, err := registryChoresScript.Run(ctx, r.rdb, []string{r.ks.registryChores(), r.ks.registrySeen()},
		max, r.opts.ChoreRetry.Milliseconds(), r.id).StringSlice()
	if err != nil {
		return nil, redisFailure("registry: chores", err)
	}
	return ids, nil
}

// ChoreDone records that the chores of dead shard id are done.
func (r *Registry) ChoreDone(ctx context.Context, id string) error {
	return redisFailure("registry: chore done", r.rdb.ZRem(ctx, r.ks.registryChores(), id).Err())
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
	if r.opts.Liveness != nil {
		go r.watch(ctx)
	}
	for {
		// A heartbeat may wait two intervals for Redis (at least 2 s: a
		// guarded script needs more than lateMargin); later it could only
		// be refused.
		hctx, cancel := context.WithTimeout(ctx, max(2*r.opts.Interval, 2*time.Second))
		sent := time.Now()
		rejoined, loss, err := r.refresh(hctx)
		cancel()
		switch {
		case err != nil:
			if ctx.Err() == nil {
				r.opts.Logger.Warn("cluster: registry heartbeat", "err", err)
			}
		case loss != "":
			r.lose(ctx, loss)
			r.rejoin(sent)
		case rejoined:
			r.opts.Logger.Info("cluster: shard registered", "shard", r.id, "incarnation", r.Incarnation())
		}
		if r.opts.OnDead != nil {
			r.reap(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// reap finds dead shards and does the chores this shard claims.
func (r *Registry) reap(ctx context.Context) {
	// Each script may wait two intervals for Redis (at least 2 s), as a
	// heartbeat does.
	dctx, cancel := context.WithTimeout(ctx, max(2*r.opts.Interval, 2*time.Second))
	defer cancel()
	if dead, err := r.Dead(dctx); err != nil {
		if ctx.Err() == nil {
			r.opts.Logger.Warn("cluster: registry reap", "err", err)
		}
	} else if len(dead) > 0 {
		r.opts.Logger.Warn("cluster: shards dead (no heartbeat)", "shards", dead, "ttl", r.opts.TTL)
	}
	ids, err := r.Chores(dctx, 16)
	if err != nil {
		if ctx.Err() == nil {
			r.opts.Logger.Warn("cluster: registry chores", "err", err)
		}
		return
	}
	for _, id := range ids {
		if err := r.opts.OnDead(ctx, id); err != nil {
			if ctx.Err() == nil {
				r.opts.Logger.Warn("cluster: a dead shard's chores failed; retried later", "dead_shard", id,
					"retry_in", r.opts.ChoreRetry, "err", err)
			}
			continue
		}
		if err := r.ChoreDone(ctx, id); err != nil && ctx.Err() == nil {
			r.opts.Logger.Warn("cluster: registry chore done", "dead_shard", id, "err", err)
		}
	}
}
