package gateway

import (
	"container/heap"
	"context"
	"slices"

	"github.com/lobbyd/lobbyd/netcode"
)

// Shedding: what the shard does when its memory budget for buffered output
// and replay (Options.MemoryBudget) runs short. The rule, in order, run
// whenever the total goes above 7/8 of the budget and until it is back
// under 3/4:
//
//  1. Replay goes first, oldest first across the whole shard: the events
//     published longest ago leave every replay ring that holds them. A
//     session that loses replay it would need can still resume, as a new
//     session (docs/protocol.md), while a connection's queue is
//     output a live player is owed.
//  2. Then the slowest consumers: the connections that are owed the most
//     bytes are closed with 1008 "slow consumer". What they are owed and
//     have not begun to receive is dropped at once, so the close frame is
//     the next thing they read.
//
// The pass runs before an event that finds the shard over 7/8 is delivered
// (so replay makes room before queues need it), and on the shedder's
// goroutine when a write queue's growth crossed 7/8. Independently, a
// write queue may never grow past 15/16 of the budget: the connection that
// asks is closed as a slow consumer then (netcode), so the total stays
// bounded even between passes.

// sheddable is what shedding needs of a connection; *netcode.Conn has it.
type sheddable interface {
	Queued() int
	CloseDiscard(code uint16, reason string)
}

// shedLoop runs the rule each time the budget signals pressure.
func (g *Gateway) shedLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.budget.Pressure():
			g.shed()
		}
	}
}

// shed applies the rule once. It runs on the shedder's goroutine and,
// before an event is delivered, on the goroutine that publishes it (hub.
// fanOut); a pass already under way elsewhere is enough.
func (g *Gateway) shed() {
	b := g.budget
	if b.Used() <= b.High() || !g.shedMu.TryLock() {
		return
	}
	defer g.shedMu.Unlock()
	if n := g.shedReplay(b.Low()); n > 0 {
		g.metrics.shed.WithLabelValues("replay_events").Add(float64(n))
	}
	if b.Used() > b.Low() {
		if n := g.shedSlowest(b.Low()); n > 0 {
			g.metrics.shed.WithLabelValues("slow_consumers").Add(float64(n))
		}
	}
}

// ringHead is one session's oldest replay entry, for the heap.
type ringHead struct {
	stamp uint64
	s     *Session
}

type ringHeads []ringHead

func (h ringHeads) Len() int           { return len(h) }
func (h ringHeads) Less(i, j int) bool { return h[i].stamp < h[j].stamp }
func (h ringHeads) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *ringHeads) Push(x any)        { *h = append(*h, x.(ringHead)) }
func (h *ringHeads) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// shedReplay drops replay entries, oldest publication first across every
// session, until the budget is down to target or no replay is left. An
// event's bytes come back when the last ring holding it lets go, which the
// shard-wide order makes happen together. It returns the entries dropped.
func (g *Gateway) shedReplay(target int64) int {
	var heads ringHeads
	g.hub.each(func(s *Session) {
		s.mu.Lock()
		if s.ring.n > 0 {
			heads = append(heads, ringHead{s.ring.oldestStamp(), s})
		}
		s.mu.Unlock()
	})
	heap.Init(&heads)
	dropped := 0
	for heads.Len() > 0 && g.budget.Used() > target {
		top := heads[0]
		s := top.s
		s.mu.Lock()
		if s.ring.n > 0 && s.ring.oldestStamp() == top.stamp {
			s.ring.dropOldest(&g.hub.pool)
			dropped++
		}
		if s.ring.n == 0 {
			s.ring.reset(&g.hub.pool) // the slots go back too
			heap.Pop(&heads)
		} else {
			heads[0].stamp = s.ring.oldestStamp()
			heap.Fix(&heads, 0)
		}
		s.mu.Unlock()
	}
	return dropped
}

// shedSlowest closes the connections owed the most, largest first, until
// the budget is down to target. It returns how many it closed.
func (g *Gateway) shedSlowest(target int64) int {
	type owed struct {
		n int
		c sheddable
	}
	var conns []owed
	g.hub.each(func(s *Session) {
		s.mu.Lock()
		if c, ok := s.conn.(sheddable); ok {
			if n := c.Queued(); n > 0 {
				conns = append(conns, owed{n, c})
			}
		}
		s.mu.Unlock()
	})
	slices.SortFunc(conns, func(a, b owed) int { return b.n - a.n })
	closed := 0
	for _, o := range conns {
		if g.budget.Used() <= target {
			break
		}
		o.c.CloseDiscard(netcode.ClosePolicyViolation, "slow consumer")
		closed++
	}
	return closed
}
