package netcode

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/gobwas/ws"
	"github.com/lobbyd/lobbyd/protocol"
	"golang.org/x/sys/unix"
)

const (
	// readBufSize is the loop's one read buffer; a frame larger than what is
	// left of it is carried in the connection's partial buffer.
	readBufSize = 64 << 10
	// maxEvents is how many readiness events one epoll_wait returns.
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
	srv  *Server
	epfd int
	evfd int // eventfd: wakes the loop when its inbox has work

	// Owned by the loop goroutine.
	buf          []byte  // read buffer; OnMessage's msg points into it
	conns        []*Conn // indexed by fd / len(srv.loops)
	count        int     // live connections in conns
	gen          uint32  // last generation handed out
	now          int64   // loop clock (ns since srv.start), set on each wake
	nextTick     int64
	nextPing     int64
	again        []*Conn // ran out of read budget with input left
	closing      []*Conn // closing conns, for their deadlines
	stopDeadline int64   // set when Shutdown reaches the loop
	events       [maxEvents]unix.EpollEvent

	woken atomic.Bool // an eventfd wake is pending

	// Inbox, guarded by mu. The eventfd is written and closed under mu too,
	// so no wake ever writes to a closed (or reused) fd number.
	mu       sync.Mutex
	opens    []*Conn
	closes   []*Conn
	tasks    []func()
	stopping bool
	stopped  bool

	done chan struct{} // closed when run returns
}

func newLoop(s *Server) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	evfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(evfd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, err
	}
	return &loop{
		srv:  s,
		epfd: epfd,
		evfd: evfd,
		buf:  make([]byte, readBufSize),
		done: make(chan struct{}),
	}, nil
}

// run is the loop goroutine.
func (l *loop) run() {
	defer close(l.done)
	l.now = l.srv.clock()
	l.nextTick = l.now + l.srv.tick
	l.nextPing = l.now + int64(l.srv.cfg.HeartbeatInterval)
	for {
		n, err := unix.EpollWait(l.epfd, l.events[:], l.timeoutMs())
		if err != nil && err != unix.EINTR {
			l.srv.log.Error("netcode: epoll_wait failed; closing the loop", "err", err)
			l.exit()
			return
		}
		l.now = l.srv.clock()
		for i := 0; i < n; i++ {
			ev := l.events[i]
			if int(ev.Fd) == l.evfd {
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
		if l.stopDeadline != 0 && (l.count == 0 || l.now >= l.stopDeadline) {
			l.exit()
			return
		}
	}
}

// timeoutMs is how long epoll_wait may sleep: until the next tick, or not
// at all when a connection still has unread input.
func (l *loop) timeoutMs() int {
	if len(l.again) > 0 {
		return 0
	}
	d := l.nextTick - l.srv.clock()
	if d <= 0 {
		return 0
	}
	return int((d + 999_999) / 1_000_000)
}

// lookup finds the connection of an event. The generation stored with the
// event guards against a stale event for an fd number that was closed and
// reused by a newer connection.
func (l *loop) lookup(fd int, gen uint32) *Conn {
	i := fd / len(l.srv.loops)
	if i < 0 || i >= len(l.conns) {
		return nil
	}
	c := l.conns[i]
	if c == nil || c.fd != fd || c.gen != gen {
		return nil
	}
	return c
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
		n, err := unix.Read(c.fd, l.buf)
		switch {
		case err == unix.EINTR:
			continue
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
			if c.finalized {
				return
			}
		} // else: closing, input is discarded until the peer's EOF
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

// flush sends queued output on EPOLLOUT.
func (l *loop) flush(c *Conn) {
	c.mu.Lock()
	if c.state.Load() != stateClosed && c.wqOff < len(c.wq) {
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

// closeConn starts closing c from the loop goroutine.
func (l *loop) closeConn(c *Conn, code uint16, reason string) {
	c.mu.Lock()
	c.startCloseLocked(code, reason)
	closing := c.state.Load() == stateClosing
	c.mu.Unlock()
	if closing {
		l.progressClose(c)
	}
}

// progressClose moves a closing connection along: OnClose (once), FIN once
// its queue and close frame are out, and the final close once the peer has
// closed its side (or the transport broke). The deadline covers the rest.
func (l *loop) progressClose(c *Conn) {
	if c.finalized {
		return
	}
	if !c.onClosed {
		c.onClosed = true
		c.deadline = l.now + int64(l.srv.cfg.CloseTimeout)
		l.closing = append(l.closing, c)
		c.p.release() // no more input is parsed
		c.mu.Lock()
		code := c.code
		c.mu.Unlock()
		l.srv.h.OnClose(c, code)
	}
	c.mu.Lock()
	if !c.broken && !c.shutWr && c.wqOff == len(c.wq) {
		c.shutWr = true
		if err := unix.Shutdown(c.fd, unix.SHUT_WR); err != nil {
			c.broken = true
		}
	}
	done := c.broken || (c.shutWr && c.peerGone)
	c.mu.Unlock()
	if done {
		l.finalize(c)
	}
}

// abort ends a connection whose transport failed or whose peer left
// without a close handshake (OnClose gets 1006 if it was open).
func (l *loop) abort(c *Conn) {
	c.mu.Lock()
	c.failLocked()
	c.mu.Unlock()
	l.finalize(c)
}

// finalize closes the fd, exactly once, after taking c out of epoll and the
// table, and runs OnClose if it has not run.
func (l *loop) finalize(c *Conn) {
	if c.finalized {
		return
	}
	c.finalized = true
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	if i := c.fd / len(l.srv.loops); i < len(l.conns) && l.conns[i] == c {
		l.conns[i] = nil
	}
	c.mu.Lock()
	if c.state.Load() == stateOpen {
		c.code = closeStatusAbnormal
	}
	c.state.Store(stateClosed)
	c.wq, c.wqOff = nil, 0
	_ = unix.Close(c.fd)
	code := c.code
	c.mu.Unlock()
	c.p.release()
	c.initial = nil
	l.count--
	l.srv.n.Add(-1)
	if !c.onClosed {
		c.onClosed = true
		l.srv.h.OnClose(c, code)
	}
}

// open registers a handed-over connection: table, OnOpen, the bytes that
// came with the handshake, then epoll.
func (l *loop) open(c *Conn) {
	i := c.fd / len(l.srv.loops)
	if i >= len(l.conns) {
		l.conns = append(l.conns, make([]*Conn, i+1-len(l.conns)+len(l.conns)/2)...)
	}
	l.gen++
	c.gen = l.gen
	l.conns[i] = c
	l.count++
	c.lastActive = l.now
	l.srv.h.OnOpen(c)
	if b := c.initial; len(b) > 0 && c.state.Load() == stateOpen {
		c.initial = nil
		l.input(c, b)
	}
	c.initial = nil
	if c.finalized {
		return
	}
	ev := unix.EpollEvent{Events: epollConnEvents, Fd: int32(c.fd), Pad: int32(c.gen)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
		l.srv.log.Error("netcode: epoll_ctl add failed", "err", err)
		l.abort(c)
	}
}

// inbox takes what other goroutines handed to the loop.
func (l *loop) inbox() {
	l.woken.Store(false)
	var b [8]byte
	_, _ = unix.Read(l.evfd, b[:])
	l.mu.Lock()
	opens, closes, tasks, stopping := l.opens, l.closes, l.tasks, l.stopping
	l.opens, l.closes, l.tasks = nil, nil, nil
	l.mu.Unlock()
	for _, c := range opens {
		l.open(c)
	}
	for _, c := range closes {
		l.progressClose(c)
	}
	for _, t := range tasks {
		t()
	}
	if stopping && l.stopDeadline == 0 {
		l.stopDeadline = l.now + int64(l.srv.cfg.CloseTimeout)
		for _, c := range l.conns {
			if c != nil {
				l.closeConn(c, protocol.CloseGoingAway, "server shutdown")
			}
		}
	}
}

// onTick runs the loop's timers: close deadlines, idle connections, pings.
func (l *loop) onTick() {
	l.nextTick = l.now + l.srv.tick
	kept := l.closing[:0]
	for _, c := range l.closing {
		switch {
		case c.finalized:
		case l.now >= c.deadline:
			l.finalize(c)
		default:
			kept = append(kept, c)
		}
	}
	clear(l.closing[len(kept):])
	l.closing = kept

	ping := l.now >= l.nextPing
	if ping {
		l.nextPing = l.now + int64(l.srv.cfg.HeartbeatInterval)
	}
	idle := 3 * int64(l.srv.cfg.HeartbeatInterval)
	for _, c := range l.conns {
		if c == nil || c.state.Load() != stateOpen {
			continue
		}
		if l.now-c.lastActive > idle {
			l.closeConn(c, protocol.CloseIdleTimeout, "idle timeout")
			continue
		}
		if ping {
			l.ping(c)
		}
	}
}

// ping sends a heartbeat ping, and flushes a queue that waits (a safety
// net: edge-triggered EPOLLOUT should already have done it).
func (l *loop) ping(c *Conn) {
	if err := c.writeFrame(ws.OpPing, nil, nil); err != nil {
		return // writeFrame has started the close
	}
	c.mu.Lock()
	if c.state.Load() == stateOpen && c.wqOff < len(c.wq) {
		if err := c.flushLocked(); err != nil {
			c.failLocked()
		}
	}
	failed := c.state.Load() != stateOpen
	c.mu.Unlock()
	if failed {
		l.progressClose(c)
	}
}

// exit closes what is left and the loop's own fds.
func (l *loop) exit() {
	for _, c := range l.conns {
		if c != nil {
			l.finalize(c)
		}
	}
	l.mu.Lock()
	l.stopped = true
	opens, tasks := l.opens, l.tasks
	l.opens, l.closes, l.tasks = nil, nil, nil
	_ = unix.Close(l.evfd)
	l.mu.Unlock()
	for _, c := range opens { // never opened: no OnOpen, so no OnClose
		_ = unix.Close(c.fd)
		l.srv.n.Add(-1)
	}
	for _, t := range tasks {
		t()
	}
	_ = unix.Close(l.epfd)
}

// handOver gives a new connection to the loop; false when it is stopping.
func (l *loop) handOver(c *Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopping || l.stopped {
		return false
	}
	l.opens = append(l.opens, c)
	l.wakeLocked()
	return true
}

// notifyClose tells the loop that c started closing on another goroutine
// (or inside a Handler call), so OnClose runs on the loop, never inside
// Write or Close.
func (l *loop) notifyClose(c *Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return
	}
	l.closes = append(l.closes, c)
	l.wakeLocked()
}

// post runs t on the loop goroutine; false when the loop has stopped.
func (l *loop) post(t func()) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return false
	}
	l.tasks = append(l.tasks, t)
	l.wakeLocked()
	return true
}

// stop asks the loop to close its connections (1001) and return.
func (l *loop) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return
	}
	l.stopping = true
	l.wakeLocked()
}

// wakeLocked writes the eventfd once per pending wake. l.mu is held, so the
// eventfd is still open.
func (l *loop) wakeLocked() {
	if !l.woken.CompareAndSwap(false, true) {
		return
	}
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], 1)
	for {
		if _, err := unix.Write(l.evfd, b[:]); err != unix.EINTR {
			return
		}
	}
}
