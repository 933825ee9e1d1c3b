package cluster

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// commitPipe pipelines a shard's lobby commits across lobbies. Under load a
// split lobby's relay is one commit script per send (sendGroup batches a
// lobby's own sends, not different lobbies'), and each run is a round trip
// of its own: a write to Redis, which on loopback also runs Redis's side of
// TCP in the writer's time, a read, a park and a wake-up of the worker, and
// on Redis's side a read and a reply for each. The machine is then busy
// with round trips more than with commits.
//
// So at most one flight of commits is in the air from a shard at a time.
// A commit that finds none flies at once, alone (as it would without the
// pipe: nothing waits for a timer). Commits that arrive meanwhile queue;
// when the flight lands, the first of them leads the next, which carries
// all that queued in one pipeline, and its replies are handed to their
// callers. Under load each flight carries more, and the round trips per
// commit fall; a lone commit costs what it did.
//
// Each commit keeps its own deadline in its script (runGuarded's), so a
// commit that waited too long in the queue is refused by Redis or before it
// is sent, as before, never run late.
type commitPipe struct {
	rdb redis.UniversalClient
	sc  *redis.Script

	mu      sync.Mutex
	flying  bool         // a flight is in the air (or its leader is being woken)
	waiting []*pipedCall // queued for the next flight, in arrival order
}

// pipedCall is one commit waiting for, or carried by, a flight.
type pipedCall struct {
	ctx  context.Context
	call scriptCall
	cmd  *redis.Cmd
	// wake is closed when cmd is set by another's flight, or when this
	// call leads the next flight (lead).
	wake chan struct{}
	lead bool
}

func newCommitPipe(rdb redis.UniversalClient, sc *redis.Script) *commitPipe {
	return &commitPipe{rdb: rdb, sc: sc}
}

// maxFlight bounds the commits of one flight (the rest wait for the next):
// a flight's replies are all read before any is handed out.
const maxFlight = 64

// run runs the pipe's guarded script with keys and args, as runGuarded
// would, in the shard's next flight.
func (p *commitPipe) run(ctx context.Context, keys []string, args ...any) *redis.Cmd {
	d := deadlineMS(ctx)
	if d > 0 && time.Now().UnixMilli() >= d {
		cmd := redis.NewCmd(ctx)
		cmd.SetErr(ErrLate)
		return cmd
	}
	args = append(args, d)
	p.mu.Lock()
	if !p.flying {
		p.flying = true
		p.mu.Unlock()
		cmd := p.sc.Run(ctx, p.rdb, keys, args...)
		p.land()
		return cmd
	}
	c := &pipedCall{ctx: ctx, call: scriptCall{keys: keys, args: args}, wake: make(chan struct{})}
	p.waiting = append(p.waiting, c)
	p.mu.Unlock()
	<-c.wake
	if !c.lead {
		return c.cmd
	}
	p.mu.Lock()
	n := min(len(p.waiting), maxFlight)
	flight := make([]*pipedCall, n)
	copy(flight, p.waiting)
	p.waiting = append(p.waiting[:0], p.waiting[n:]...)
	p.mu.Unlock()
	p.fly(flight) // flight[0] is c: land woke the first in line
	return c.cmd
}

// fly sends flight, whose first call is its leader, as one pipeline, hands
// the others their replies and lands.
//
// Time: a request that needs Redis is answered within its deadline
// (docs/protocol.md §5a). A call that waited for earlier flights past its
// deadline is refused here, unsent (ErrLate); the flight is bounded by the
// earliest deadline among the rest. Calls queue in arrival order, and the
// flights ahead of a call are bounded by deadlines no later than its own
// (for requests of one timeout), so it is answered within its deadline
// plus a moment, however long Redis takes.
func (p *commitPipe) fly(flight []*pipedCall) {
	now := time.Now().UnixMilli()
	calls := make([]scriptCall, 0, len(flight))
	sent := make([]*pipedCall, 0, len(flight))
	var ctx context.Context
	for _, c := range flight {
		if d := c.call.args[len(c.call.args)-1].(int64); d > 0 && now >= d {
			c.cmd = redis.NewCmd(c.ctx)
			c.cmd.SetErr(ErrLate)
			continue
		}
		calls, sent = append(calls, c.call), append(sent, c)
		if ctx == nil {
			ctx = c.ctx
		} else {
			ctx = earlierContext(ctx, c.ctx)
		}
	}
	switch len(sent) {
	case 0:
	case 1:
		c := sent[0]
		c.cmd = p.sc.Run(c.ctx, p.rdb, c.call.keys, c.call.args...)
	default:
		for i, cmd := range runPipelined(ctx, p.rdb, p.sc, calls) {
			sent[i].cmd = cmd
		}
	}
	for _, c := range flight[1:] {
		close(c.wake)
	}
	p.land()
}

// land ends a flight: the first queued call leads the next, or the pipe
// is idle.
func (p *commitPipe) land() {
	p.mu.Lock()
	if len(p.waiting) == 0 {
		p.flying = false
		p.mu.Unlock()
		return
	}
	next := p.waiting[0]
	p.mu.Unlock()
	next.lead = true
	close(next.wake)
}

// earlierContext returns whichever of a and b ends first (no deadline is
// last).
func earlierContext(a, b context.Context) context.Context {
	da, oka := a.Deadline()
	db, okb := b.Deadline()
	if !okb || (oka && !db.Before(da)) {
		return a
	}
	return b
}
