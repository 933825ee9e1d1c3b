package cluster

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Guarded scripts: every script that changes what other shards or players
// rely on (a lobby commit, a session, a ticket) carries a deadline, checked
// by Redis against its own clock before the script does anything, so that
//
//   - a request answered `unavailable` has no effect (docs/protocol.md §5a):
//     a command written to a Redis that was paused (SIGSTOP), or stuck in a
//     network, is executed when Redis reads it — after the shard gave up on
//     it. Its deadline, lateMargin before the caller's, has passed by then,
//     and the script refuses;
//   - a shard cut off from Redis cannot write stale state back when the link
//     returns (docs/failures.md): its writes also carry the end of its
//     liveness (Liveness), the last point at which the other shards cannot
//     yet have declared it dead. Every write it sent is refused after that,
//     whatever the network did with it; it rejoins as a new incarnation with
//     a new liveness. This is the shard's fence; it needs no key (a key would
//     sit in another hash slot than the lobby, session or queue the script
//     touches, which Redis Cluster refuses).
//
// Clocks: the deadline is the shard's clock, the check Redis's. Shards and
// Redis must agree within lateMargin (NTP does, by far).

// lateMargin is how much earlier than the caller's deadline a guarded
// script must run: the time its reply has to reach the caller, plus the
// clock difference allowed between a shard and Redis.
const lateMargin = 500 * time.Millisecond

// ErrLate is a guarded script's refusal: it would have run after its
// deadline (or the shard's liveness) had passed. It reads as unavailable.
var ErrLate = errors.New("cluster: the command would reach Redis after its deadline")

// lateReply is the error a guarded script returns when Redis's clock is
// past its deadline.
const lateReply = "LATE command reached Redis after its deadline"

// lateLua is prepended to a guarded script: the last ARGV is the deadline
// (unix ms, 0: none), removed before the script proper reads ARGV.
const lateLua = `local __dl = tonumber(table.remove(ARGV))
if __dl and __dl > 0 then
  local __t = redis.call('TIME')
  if tonumber(__t[1]) * 1000 + math.floor(tonumber(__t[2]) / 1000) > __dl then
    return redis.error_reply('` + lateReply + `')
  end
end
`

// newGuardedScript is redis.NewScript for a script run with runGuarded (or
// runPipelinedGuarded): its source is checked against the deadline first.
func newGuardedScript(src string) *redis.Script { return redis.NewScript(lateLua + src) }

// runGuarded runs a guarded script with ctx's deadline appended to args.
// A deadline already past fails at once, without a round trip.
func runGuarded(ctx context.Context, rdb redis.Scripter, sc *redis.Script, keys []string, args ...any) *redis.Cmd {
	d := deadlineMS(ctx)
	if d > 0 && time.Now().UnixMilli() >= d {
		cmd := redis.NewCmd(ctx)
		cmd.SetErr(ErrLate)
		return cmd
	}
	return sc.Run(ctx, rdb, keys, append(args, d)...)
}

// deadlineMS is the deadline of a guarded script run under ctx: the
// earlier of ctx's deadline less lateMargin and the end of the shard's
// liveness carried by ctx (WithLiveness); 0 when neither bounds it.
func deadlineMS(ctx context.Context) int64 {
	var d int64
	if t, ok := ctx.Deadline(); ok {
		d = t.Add(-lateMargin).UnixMilli()
	}
	if l, _ := ctx.Value(livenessKey{}).(*Liveness); l != nil {
		if u := l.until.Load(); u != 0 && (d == 0 || u < d) {
			d = u
		}
	}
	return d
}

// isLate reports whether err is a guarded script's refusal, local or
// Redis's.
func isLate(err error) bool {
	return err != nil && (errors.Is(err, ErrLate) || err.Error() == lateReply)
}

// Liveness is how long this shard may still write: until the earliest
// moment the other shards may declare it dead (the registry keeps it:
// its last answered heartbeat, sent at t, keeps the shard alive in Redis
// until t + TTL by Redis's clock; the shard counts on t + TTL - clockSkew).
// A context carrying it (WithLiveness) bounds every guarded script run
// under it. Safe for concurrent use.
type Liveness struct {
	until atomic.Int64 // unix ms; 0: not bounded (not registered yet)
}

// Until is the end of the shard's liveness (zero time: not bounded).
func (l *Liveness) Until() time.Time {
	u := l.until.Load()
	if u == 0 {
		return time.Time{}
	}
	return time.UnixMilli(u)
}

// Live reports whether the shard may write now.
func (l *Liveness) Live() bool {
	u := l.until.Load()
	return u == 0 || time.Now().UnixMilli() < u
}

// extend moves the end of the liveness to t if that is later.
func (l *Liveness) extend(t time.Time) {
	ms := t.UnixMilli()
	for {
		cur := l.until.Load()
		if cur >= ms || l.until.CompareAndSwap(cur, ms) {
			return
		}
	}
}

// end makes the shard not live from now on, until extended again.
func (l *Liveness) end() { l.until.Store(time.Now().UnixMilli() - 1) }

type livenessKey struct{}

// WithLiveness returns ctx carrying the shard's liveness: guarded scripts
// run under it refuse to act after the liveness has ended. nil removes it
// (the registry's heartbeat, which must reach Redis to extend it).
func WithLiveness(ctx context.Context, l *Liveness) context.Context {
	return context.WithValue(ctx, livenessKey{}, l)
}

// runPipelinedGuarded is runPipelined for a guarded script: one deadline,
// ctx's, appended to every call.
func runPipelinedGuarded(ctx context.Context, rdb redis.UniversalClient, sc *redis.Script, calls []scriptCall) []*redis.Cmd {
	d := deadlineMS(ctx)
	if d > 0 && time.Now().UnixMilli() >= d {
		cmds := make([]*redis.Cmd, len(calls))
		for i := range cmds {
			cmds[i] = redis.NewCmd(ctx)
			cmds[i].SetErr(ErrLate)
		}
		return cmds
	}
	for i := range calls {
		calls[i].args = append(calls[i].args, d)
	}
	return runPipelined(ctx, rdb, sc, calls)
}
