package netcode

import (
	"slices"

	"golang.org/x/sys/unix"
)

// Moving a connection to another loop.
//
// A lobby's members send to each other: served by one loop, a member's
// message is read, delivered to the others and written in the same loop
// turn, with no wake-up of another loop (an eventfd write, and that loop's
// own trip through the netpoller and the scheduler) and with the writes
// of one turn coalesced per connection. netcode knows nothing of lobbies;
// the caller says where a connection should be (MoveTo) and the loops do
// the rest:
//
//  1. MoveTo records the target and puts the connection on its owner's
//     inbox (at most once at a time: Conn.moving).
//  2. The owner, on its goroutine (moveOut): takes the socket out of its
//     epoll set and its table and, holding Conn.mu and the target's
//     inbox lock, points Conn.loop at the target and queues the
//     connection there, with its dirty mark if it had one. From then on
//     writers mark it dirty on the target and closes are sent there,
//     behind the adoption.
//  3. The target (adopt) gives it a slot and adds the socket to its epoll
//     set. Adding a socket that has input or room reports it at once, so
//     bytes that arrived while it was in neither set are not lost.
//
// The parser, the partial frame and the timers' fields travel with the
// Conn: they are owned by whichever loop holds it, and the hand-over goes
// through the target's inbox lock. Only open connections move; a closing
// one stays where it is until it is closed. OnOpen and OnClose run once,
// on whichever loop holds the connection at the time.

// MoveTo asks for c to be served by loop k (0 ≤ k < Server.Loops()) from
// its owner's next turn on. It returns at once and may be called from any
// goroutine, Handler callbacks included; a later call overrides an earlier
// one that has not been carried out. A closing connection, an index out of
// range or a loop that is shutting down leaves c where it is. A call for
// the loop c is on (or already asked for) costs one atomic load: callers
// may ask on every delivery.
func (c *Conn) MoveTo(k int) {
	if k < 0 || k >= len(c.srv.loops) || c.want.Load() == int32(k) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.want.Store(int32(k))
	l := c.loop
	if c.moving || l.index == k || c.state.Load() != stateOpen {
		return
	}
	c.moving = l.requestMove(c)
}

// Loop returns the index of the loop serving c now.
func (c *Conn) Loop() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loop.index
}

// requestMove puts c on the loop's inbox to be handed over; false when the
// loop is stopping. Caller holds c.mu.
func (l *loop) requestMove(c *Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopping || l.stopped {
		return false
	}
	l.moves = append(l.moves, c)
	l.wakeLocked()
	return true
}

// moveOut hands c to the loop it asked for, if it still wants to go and
// can (step 2 above). On l's goroutine.
func (l *loop) moveOut(c *Conn) {
	if !l.srv.moves.TryRLock() {
		// Server.Each is walking the tables: ask again on the next turn.
		c.mu.Lock()
		c.moving = l.requestMove(c)
		c.mu.Unlock()
		return
	}
	defer l.srv.moves.RUnlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.moving = false
	k := int(c.want.Load())
	if c.loop != l || c.finalized || c.state.Load() != stateOpen || k == l.index {
		return
	}
	to := l.srv.loops[k]
	to.mu.Lock()
	defer to.mu.Unlock()
	if to.stopping || to.stopped {
		c.want.Store(int32(l.index)) // staying: a later MoveTo(k) tries again
		return
	}
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	l.unslot(c)
	if i := slices.Index(l.again, c); i >= 0 {
		l.again = slices.Delete(l.again, i, i+1)
		c.moreInput = true
	}
	c.loop = to
	if c.dirty { // l's dirty list skips it now (flushDirty)
		to.dirty = append(to.dirty, c)
	}
	to.adopts = append(to.adopts, c)
	to.wakeLocked()
}

// adopt takes over a connection another loop handed over (step 3 above).
func (l *loop) adopt(c *Conn) {
	l.slot(c)
	if c.moreInput {
		c.moreInput = false
		l.again = append(l.again, c)
	}
	l.watch(c)
}
