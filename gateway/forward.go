package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/lobbyd/lobbyd/cluster"
)

// forwardRemote sends an encoded event (matchmaking's: no lobby log
// carries it) to the shards of the recipients that have no session here,
// as the directory names them. A recipient with no session anywhere gets
// nothing, as on one shard.
//
// It does not wait for a shard. Its callers are the matcher, which runs
// the queues this shard holds the lease of (for the whole cluster), and
// requests' handlers: when one shard stopped listening (dead, paused, or
// re-subscribing after Redis came back), waiting for it held every other
// match of the queue too. So each shard gets one publish at once, and a
// recipient it did not reach (its shard's lookup or the publish failed,
// or nobody listened) is tried again in the background, every shard of
// each round once, until cluster.DeliverRetryFor after the event: the 10 s
// within which shards recover from a Redis outage. Nothing else tells a
// player it was matched.
//
// A recipient's later events wait behind one still being retried, so that
// it gets them in the order they were made (mm.queued before mm.matched).
// Every attempt carries the event's one id, and the receiving shard
// delivers one copy (cluster.Bus.DeliverEvent). A player moving between
// shards at that moment may still miss it, and sees the outcome in its
// lobby (docs/cluster.md).
func (g *Gateway) forwardRemote(to []string, event []byte) {
	remote := g.hub.absent(to)
	if len(remote) == 0 {
		return
	}
	id, until := cluster.NewEventID(), time.Now().Add(cluster.DeliverRetryFor)
	free, behind := g.forwards.split(remote)
	var left []string
	if len(free) > 0 {
		ctx, cancel := context.WithTimeout(g.ctx, clusterOpTimeout)
		left, _ = g.forwardTo(ctx, free, id, event)
		cancel()
	}
	if left = append(left, behind...); len(left) > 0 {
		g.forwardLate(left, id, until, event)
	}
}

// forwardLate retries an event for users in the background, after their
// earlier events still being retried.
func (g *Gateway) forwardLate(users []string, id uint64, until time.Time, event []byte) {
	if g.forwardsLate.Add(1) > maxForwardsLate {
		g.forwardsLate.Add(-1)
		g.log.Warn("cluster: too many events waiting to be forwarded; dropping one", "users", len(users))
		return
	}
	event = append([]byte(nil), event...) // the caller's buffer goes back to its pool
	done := make(chan struct{})
	earlier := g.forwards.enqueue(users, done)
	go func() {
		defer g.forwardsLate.Add(-1)
		defer g.forwards.finish(users, done)
		ctx, cancel := context.WithDeadline(g.ctx, until)
		defer cancel()
		for _, e := range earlier {
			select {
			case <-e:
			case <-ctx.Done():
			}
		}
		left := users
		err := cluster.RetryUntil(ctx, func() (bool, error) {
			var err error
			left, err = g.forwardTo(ctx, left, id, event)
			return len(left) > 0, err
		})
		if len(left) > 0 {
			g.log.Warn("cluster: an event never reached its recipients' shards", "users", len(left), "err", err)
		}
	}()
}

// maxForwardsLate bounds the events forwardRemote is still trying in the
// background: each is one goroutine and a copy of a small event, and only
// a Redis outage or a shard that stopped listening makes them, while the
// matcher (which needs Redis too) makes few matches.
const maxForwardsLate = 1024

// forwardTo is one attempt of forwardRemote, one publish per shard: it
// returns the users it could not reach, each one whose shard it could not
// look up or whose shard's publish failed or reached nobody, and the last
// error.
func (g *Gateway) forwardTo(ctx context.Context, users []string, id uint64, event []byte) (left []string, last error) {
	byShard := map[string][]string{}
	for _, uid := range users {
		s, ok, err := g.cl.sessions.Get(ctx, uid)
		if err != nil {
			g.log.Debug("cluster: looking up a recipient's shard", "user_id", uid, "err", err)
			left, last = append(left, uid), err
			continue
		}
		if ok && s.Shard != g.opts.ShardID {
			byShard[s.Shard] = append(byShard[s.Shard], uid)
		}
	}
	for shard, users := range byShard {
		if err := g.cl.bus.TryDeliverEvent(ctx, shard, id, users, event); err != nil {
			g.log.Debug("cluster: forwarding an event", "shard", shard, "users", len(users), "err", err)
			left, last = append(left, users...), err
		}
	}
	return left, last
}

// forwardQueue orders a user's forwarded events while one of them is
// being retried: last[u] is closed when u's latest such event is done
// (delivered or given up).
type forwardQueue struct {
	mu   sync.Mutex
	last map[string]chan struct{}
}

// split parts users into those with no event being retried (free: try at
// once) and the others (behind: wait for theirs).
func (q *forwardQueue) split(users []string) (free, behind []string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, u := range users {
		if _, ok := q.last[u]; ok {
			behind = append(behind, u)
		} else {
			free = append(free, u)
		}
	}
	return free, behind
}

// enqueue makes done the latest retried event of users and returns what
// it must wait for: the latest of each before it, once each.
func (q *forwardQueue) enqueue(users []string, done chan struct{}) (earlier []chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.last == nil {
		q.last = make(map[string]chan struct{})
	}
	seen := map[chan struct{}]bool{}
	for _, u := range users {
		if e, ok := q.last[u]; ok && !seen[e] {
			seen[e] = true
			earlier = append(earlier, e)
		}
		q.last[u] = done
	}
	return earlier
}

// finish marks done's event over: users whose latest it still is are free.
func (q *forwardQueue) finish(users []string, done chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, u := range users {
		if q.last[u] == done {
			delete(q.last, u)
		}
	}
	close(done)
}
