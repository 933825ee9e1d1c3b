package netcode

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

const (
	// readBufSize is the loop's one read buffer; a frame larger than what is
	// left of it is carried in the connection's partial buffer.
	readBufSize = 64 << 10
	// maxEvents is how many readiness events one poll returns.
	maxEvents = 256
	// readBudget is how many full reads one connection gets per wake-up
	// before the others get a turn; it is then served again before the loop
	// sleeps (edge-triggered epoll will not remind us).
	readBudget = 8
	// epollConnEvents: edge-triggered, registered once (see doc.go).
	epollConnEvents = unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET
)

// loop is one epoll goroutine and the connections it owns.
type loop struct {
	srv    *Server
	index  int     // in srv.loops
	epfd   int     // the epoll set; owned by poller
	poller *poller // parks the loop in the runtime's netpoller
	evfd   int     // eventfd: wakes the loop when its inbox has work

	// Owned by the loop goroutine.
	pollFn       func(uintptr) bool // l.pollOnce, made once (park_linux.go)
	polled       int                // pollFn's result
	pollErr      error
	buf          []byte  // read buffer; OnMessage's msg points into it
	conns        []*Conn // indexed by Conn.idx
	free         []int32 // unused indexes of conns
	count        int     // live connections in conns
	gen          uint32  // last generation handed out
	now          int64   // loop clock (ns since srv.start), set on each wake
	nextTick     int64
	tickCount    int64   // ticks so far: picks the slot of connections to ping
	again        []*Conn // ran out of read budget with input left
	closing      []*Conn // closing conns, for their deadlines, oldest first
	nClosing     int     // conns in closing not yet finalized (Config.MaxClosing)
	stopDeadline int64   // set when Shutdown reaches the loop
	events       [maxEvents]unix.EpollEvent

	woken atomic.Bool // an eventfd wake is pending

	// Inbox, guarded by mu. The eventfd is written and closed under mu too,
	// so no wake ever writes to a closed (or reused) fd number.
	mu       sync.Mutex
	opens    []*Conn
	adopts   []*Conn // handed over by another loop (Conn.MoveTo)
	moves    []*Conn // to hand over to the loop they asked for
	closes   []*Conn
	tasks    []func()
	stopping bool
	stopped  bool
	// Write coalescing: connections with output written since the loop
	// last flushed (each once, see Conn.dirty), and whether the loop is
	// about to park (then a writer must wake it).
	dirty    []*Conn
	sleeping bool

	// Owned by the loop goroutine.
	flushing []*Conn // the dirty list being flushed (swapped with dirty)

	done chan struct{} // closed when run returns
}

func newLoop(s *Server, index int) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	evfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	// A connection's event carries its table index, never negative.
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: evfdData}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, err
	}
	p, err := newPoller(epfd, s.start)
	if err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, err
	}
	l := &loop{
		srv:    s,
		index:  index,
		epfd:   epfd,
		poller: p,
		evfd:   evfd,
		buf:    make([]byte, readBufSize),
		done:   make(chan struct{}),
	}
	l.pollFn = l.pollOnce
	return l, nil
}

// run is the loop goroutine.
func (l *loop) run() {
	defer close(l.done)
	l.now = l.srv.clock()
	l.nextTick = l.now + l.srv.tick
	for {
		park := len(l.again) == 0 && l.srv.clock() < l.nextTick
		l.mu.Lock()
		if len(l.dirty) > 0 {
			park = false
		} else if park {
			l.sleeping = true
		}
		l.mu.Unlock()
		n, err := l.wait(park, l.nextTick)
		if park {
			l.mu.Lock()
			l.sleeping = false
			l.mu.Unlock()
		}
		if err != nil {
			l.srv.log.Error("netcode: polling the epoll set failed; closing the loop", "err", err)
			l.exit()
			return
		}
		l.now = l.srv.clock()
		for i := 0; i < n; i++ {
			ev := l.events[i]
			if ev.Fd == evfdData {
				l.inbox()
				continue
			}
			if c := l.lookup(int(ev.Fd), uint32(ev.Pad)); c != nil {
				l.handle(c, ev.Events)
			}
		}
		l.serveAgain()
		if l.now >= l.nextTick {
			l.onTick()
		}
		l.flushDirty()
		if l.stopDeadline != 0 && (l.count == 0 || l.now >= l.stopDeadline) {
			l.exit()
			return
		}
	}
}

// evfdData is the epoll event data of the loop's eventfd.
const evfdData = -1

// lookup finds the connection of an event by its table index. The
// generation stored with the event guards against a stale event for a
// slot that was freed and given to a newer connection.
func (l *loop) lookup(idx int, gen uint32) *Conn {
	if idx < 0 || idx >= len(l.conns) {
		return nil
	}
	c := l.conns[idx]
	if c == nil || c.gen != gen {
		return nil
	}
	return c
}

// slot gives c a free index of the table and a new generation.
func (l *loop) slot(c *Conn) {
	var i int32
	if n := len(l.free); n > 0 {
		i = l.free[n-1]
		l.free = l.free[:n-1]
	} else {
		i = int32(len(l.conns))
		l.conns = append(l.conns, nil)
	}
	l.gen++
	c.idx, c.gen = i, l.gen
	l.conns[i] = c
	l.count++
}

// unslot takes c out of the table (if it is in it).
func (l *loop) unslot(c *Conn) {
	if i := c.idx; int(i) < len(l.conns) && l.conns[i] == c {
		l.conns[i] = nil
		l.free = append(l.free, i)
		l.count--
	}
}

// handle serves one readiness event.
func (l *loop) handle(c *Conn, events uint32) {
	if events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		l.read(c, events&(unix.EPOLLRDHUP|unix.EPOLLHUP) != 0)
		if c.finalized {
			return
		}
	}
	if events&unix.EPOLLOUT != 0 {
		l.flush(c)
	}
}

// read reads until EAGAIN (a short read is as good: edge-triggered epoll
// reports any later arrival again), unless the peer's FIN is already known
// (rdhup), in which case it reads on to the EOF.
func (l *loop) read(c *Conn, rdhup bool) {
	for range readBudget {
		n, err := sysRead(c.fd, l.buf)
		switch {
		case err == unix.EAGAIN:
			return
		case err != nil:
			l.abort(c)
			return
		case n == 0:
			c.peerGone = true
			if c.state.Load() == stateOpen {
				l.abort(c)
			} else {
				l.finalize(c)
			}
			return
		}
		if c.state.Load() == stateOpen {
			l.input(c, l.buf[:n])
		} else {
			l.inputClosing(c, l.buf[:n])
		}
		if c.finalized {
			return
		}
		if n < len(l.buf) && !rdhup {
			return
		}
	}
	l.again = append(l.again, c)
}

// serveAgain gives the connections that ran out of budget another turn.
func (l *loop) serveAgain() {
	if len(l.again) == 0 {
		return
	}
	again := l.again
	l.again = nil
	for _, c := range again {
		if !c.finalized {
			l.read(c, true)
		}
	}
}

// input parses bytes from the peer and acts on a close request.
func (l *loop) input(c *Conn, b []byte) {
	if cr := c.p.feed(b, c); cr.code != 0 {
		l.closeConn(c, cr.code, cr.reason)
	}
}

// inputClosing parses what a peer sends after our close frame: data is
// dropped, and the peer's close frame completes the handshake, after which
// the server closes the TCP connection (RFC 6455 §7.1.1) instead of waiting
// for the client's FIN until CloseTimeout.
func (l *loop) inputClosing(c *Conn, b []byte) {
	cr := c.p.feed(b, discardSink{})
	if cr.code == 0 {
		return
	}
	c.peerGone = true // a close frame, or garbage: either way we are done reading
	l.progressClose(c)
}

// discardSink drops the frames of a closing connection.
type discardSink struct{}

func (discardSink) onMessage([]byte) bool { return true }
func (discardSink) onPing([]byte) bool    { return true }
func (discardSink) onPong([]byte) bool    { return true }

// markDirty puts c on the loop's list of connections to flush, waking the
// loop if it sleeps. Caller holds c.mu (docs/locks.md).
func (l *loop) markDirty(c *Conn) {
	l.mu.Lock()
	if !l.stopped {
		l.dirty = append(l.dirty, c)
		if l.sleeping {
			l.wakeLocked()
		}
	}
	l.mu.Unlock()
}

// flushDirty writes the output gathered since the last flush, one writev
// per connection however many messages it holds: under fan-out load a
// connection often receives several events in one loop turn, and the
// syscall, not the copy, is what costs.
func (l *loop) flushDirty() {
	l.mu.Lock()
	l.flushing, l.dirty = l.dirty, l.flushing[:0]
	l.mu.Unlock()
	for i, c := range l.flushing {
		l.flushing[i] = nil
		c.mu.Lock()
		if c.loop != l { // moved: its new loop's dirty list has it
			c.mu.Unlock()
			continue
		}
		c.dirty = false
		if c.acks { // the quiet period before an ack's ping starts again
			c.acks = false
			if l.srv.acker != nil { // nobody to ask for a mark: no ping owed
				c.quiet = 1
			}
		}
		failed := false
		if c.state.Load() != stateClosed && c.out.pending() > 0 && !c.broken {
			if err := c.flushLocked(); err != nil {
				c.failLocked()
				failed = true
			}
		}
		closing := c.state.Load() == stateClosing
		c.mu.Unlock()
		if (failed || closing) && !c.finalized {
			l.progressClose(c)
		}
	}
}

// flush sends queued output on EPOLLOUT. A dirty connection is left to
// flushDirty at the end of the turn: epoll reports EPOLLOUT with nearly
// every EPOLLIN (the socket is writable), and writing here would send a
// connection's output before the rest of the turn could add to it.
func (l *loop) flush(c *Conn) {
	c.mu.Lock()
	if !c.dirty && c.state.Load() != stateClosed && c.out.pending() > 0 {
		if err := c.flushLocked(); err != nil {
			c.failLocked()
		}
	}
	closing := c.state.Load() == stateClosing
	c.mu.Unlock()
	if closing {
		l.progressClose(c)
	}
}

// open registers a handed-over connection: table, OnOpen, the bytes that
// came with the handshake, then epoll.
func (l *loop) open(c *Conn) {
	l.slot(c)
	l.srv.n.Add(1)
	c.clock = l.now
	l.srv.h.OnOpen(c)
	if b := c.p.takePending(); len(b) > 0 && c.state.Load() == stateOpen {
		l.input(c, b)
	}
	if c.finalized {
		return
	}
	l.watch(c)
}

// watch adds c to the loop's epoll set.
func (l *loop) watch(c *Conn) {
	ev := unix.EpollEvent{Events: epollConnEvents, Fd: c.idx, Pad: int32(c.gen)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
		l.srv.log.Error("netcode: epoll_ctl add failed", "err", err)
		l.abort(c)
	}
}
