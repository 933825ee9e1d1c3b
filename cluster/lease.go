package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// queueLease holds "<epoch>:<token>" of the shard that runs the queue's
// matcher, with a TTL (PX) renewed while it runs.
func (k Keyspace) queueLease(queue string) string { return k.tag("q", queue, ":lease") }

// queueEpoch counts the acquisitions of the queue's lease (INCR): the
// fencing epoch the claim script checks. It never expires.
func (k Keyspace) queueEpoch(queue string) string { return k.tag("q", queue, ":epoch") }

// Lease timings (docs/cluster.md, "Matchmaking"). A dead holder's lease
// expires after DefaultLeaseTTL; the others try every DefaultLeaseRenew,
// so a queue's matcher runs again within TTL + Renew (8 s) of its shard's
// death, inside docs/protocol.md §5a's 10 s.
const (
	DefaultLeaseTTL   = 6 * time.Second
	DefaultLeaseRenew = 2 * time.Second
)

var (
	// leaseAcquireScript: KEYS lease, epoch; ARGV token, ttl ms. Returns
	// the epoch held (a new one from INCR, or ours again when the lease is
	// already ours), or 0 when another holds it.
	leaseAcquireScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then
  local i = string.find(v, ':', 1, true)
  if i and string.sub(v, i + 1) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return tonumber(string.sub(v, 1, i - 1))
  end
  return 0
end
local e = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], string.format('%.0f', e) .. ':' .. ARGV[1], 'PX', ARGV[2])
return e`)

	// leaseRenewScript: compare-and-pexpire. KEYS lease; ARGV value, ttl ms.
	leaseRenewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`)

	// compareDeleteScript deletes KEYS[1] when it holds ARGV[1].
	compareDeleteScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)
)

// Lease is one shard's hold on one queue's matcher lease: at most one
// holder per queue at a time, with a fencing epoch that grows with every
// acquisition. The holder runs the queue's matcher; the TicketStore's claim
// script refuses an epoch that is not the current one, so a holder cut off
// (paused, partitioned) can never claim after another took over.
//
// Safe for concurrent use; Leases drives Acquire and Renew.
type Lease struct {
	rdb   redis.UniversalClient
	ks    Keyspace
	queue string
	token string
	ttl   time.Duration

	mu    sync.Mutex // guards epoch, until
	epoch int64      // 0: not held
	until time.Time  // local deadline of the hold (monotonic clock)
}

// NewLease returns a lease on queue, not yet held. ttl 0: DefaultLeaseTTL.
func NewLease(rdb redis.UniversalClient, ks Keyspace, queue string, ttl time.Duration) *Lease {
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return &Lease{rdb: rdb, ks: ks, queue: queue, token: hex.EncodeToString(b[:]), ttl: ttl}
}

// Queue is the queue the lease is on.
func (l *Lease) Queue() string { return l.queue }

// Epoch returns the fencing epoch while the lease is held: acquired or
// renewed less than 4/5 of its TTL ago (counted from before the command was
// sent, so a slow reply or a drifting clock cannot stretch the hold past
// the key's expiry in Redis).
func (l *Lease) Epoch() (int64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.epoch == 0 || !time.Now().Before(l.until) {
		return 0, false
	}
	return l.epoch, true
}

// Fence is the lease's value ("<epoch>:<token>") while it is held: what
// the claim script compares with the lease key (TicketOptions.Fence).
func (l *Lease) Fence() (string, bool) {
	e, ok := l.Epoch()
	if !ok {
		return "", false
	}
	return l.value(e), true
}

func (l *Lease) value(epoch int64) string { return strconv.FormatInt(epoch, 10) + ":" + l.token }

// Acquire takes the lease if nobody holds it (or renews it if this Lease
// does) and reports whether it is held now.
func (l *Lease) Acquire(ctx context.Context) (bool, error) {
	sent := time.Now()
	e, err := leaseAcquireScript.Run(ctx, l.rdb, []string{l.ks.queueLease(l.queue), l.ks.queueEpoch(l.queue)},
		l.token, l.ttl.Milliseconds()).Int64()
	if err != nil {
		return false, redisFailure("lease: acquire", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e == 0 {
		l.epoch = 0
		return false, nil
	}
	l.epoch, l.until = e, sent.Add(l.ttl*4/5)
	return true, nil
}

// Renew extends a held lease by its TTL (compare-and-pexpire). false: the
// lease was lost (expired, taken over); the holder must stop matching.
func (l *Lease) Renew(ctx context.Context) (bool, error) {
	l.mu.Lock()
	epoch := l.epoch
	l.mu.Unlock()
	if epoch == 0 {
		return false, nil
	}
	sent := time.Now()
	n, err := leaseRenewScript.Run(ctx, l.rdb, []string{l.ks.queueLease(l.queue)}, l.value(epoch), l.ttl.Milliseconds()).Int64()
	if err != nil {
		return false, redisFailure("lease: renew", err) // the hold runs out by itself (Epoch)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.epoch != epoch {
		return l.epoch != 0, nil
	}
	if n != 1 {
		l.epoch = 0
		return false, nil
	}
	l.until = sent.Add(l.ttl * 4 / 5)
	return true, nil
}

// Release gives the lease up (compare-and-delete) so that another shard
// takes over at its next try instead of after the TTL: on drain.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	epoch := l.epoch
	l.epoch = 0
	l.mu.Unlock()
	if epoch == 0 {
		return nil
	}
	return redisFailure("lease: release",
		compareDeleteScript.Run(ctx, l.rdb, []string{l.ks.queueLease(l.queue)}, l.value(epoch)).Err())
}

// Leases keeps one shard's bids for the matcher leases of every queue: each
// Renew interval it renews the leases it holds and tries to acquire the
// others. Fence is the TicketStore's fence; Held tells the matcher which
// queues to run.
type Leases struct {
	leases map[string]*Lease
	order  []*Lease
	renew  time.Duration
	log    *slog.Logger
}

// LeaseOptions tune Leases. Zero values: the defaults above.
type LeaseOptions struct {
	TTL    time.Duration // lease TTL; 0: DefaultLeaseTTL
	Renew  time.Duration // renew/try interval; 0: DefaultLeaseRenew (keep it at most TTL/3)
	Logger *slog.Logger  // nil: slog.Default()
}

// NewLeases returns the bids of one shard for the leases of queues.
func NewLeases(rdb redis.UniversalClient, ks Keyspace, queues []string, opts LeaseOptions) *Leases {
	if opts.Renew <= 0 {
		opts.Renew = DefaultLeaseRenew
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ls := &Leases{leases: make(map[string]*Lease, len(queues)), renew: opts.Renew, log: opts.Logger}
	for _, q := range queues {
		l := NewLease(rdb, ks, q, opts.TTL)
		ls.leases[q] = l
		ls.order = append(ls.order, l)
	}
	return ls
}

// Fence implements TicketOptions.Fence: queue's lease value while this
// shard holds it.
func (ls *Leases) Fence(queue string) (string, bool) {
	if l := ls.leases[queue]; l != nil {
		return l.Fence()
	}
	return "", false
}

// Held reports whether this shard holds queue's lease: whether its matcher
// should run the queue.
func (ls *Leases) Held(queue string) bool {
	_, ok := ls.Fence(queue)
	return ok
}

// Epoch is the fencing epoch of queue's lease while this shard holds it.
func (ls *Leases) Epoch(queue string) (int64, bool) {
	if l := ls.leases[queue]; l != nil {
		return l.Epoch()
	}
	return 0, false
}

// Step renews every held lease and tries to acquire the others, once.
func (ls *Leases) Step(ctx context.Context) {
	for _, l := range ls.order {
		_, held := l.Epoch()
		var ok bool
		var err error
		if held {
			ok, err = l.Renew(ctx)
			if err == nil && !ok {
				ls.log.Warn("cluster: matcher lease lost", "queue", l.queue)
			}
		}
		if !ok && err == nil {
			ok, err = l.Acquire(ctx)
			if ok && !held {
				e, _ := l.Epoch()
				ls.log.Info("cluster: matcher lease acquired", "queue", l.queue, "epoch", e)
			}
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			ls.log.Warn("cluster: matcher lease", "queue", l.queue, "err", err)
		}
	}
}

// Run steps every Renew interval until ctx is done, then releases what it
// holds (a drained or stopped shard hands its queues over at once).
func (ls *Leases) Run(ctx context.Context) {
	t := time.NewTicker(ls.renew)
	defer t.Stop()
	for {
		ls.Step(ctx)
		select {
		case <-ctx.Done():
			ls.Release(context.WithoutCancel(ctx))
			return
		case <-t.C:
		}
	}
}

// Release gives up every held lease, bounded by one second.
func (ls *Leases) Release(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	for _, l := range ls.order {
		if err := l.Release(ctx); err != nil {
			ls.log.Warn("cluster: releasing matcher lease", "queue", l.queue, "err", err)
		}
	}
}
