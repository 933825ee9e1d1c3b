package netcode

import "golang.org/x/sys/unix"

// Closing a connection, all on its loop goroutine.

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
		c.clock = l.now + int64(l.srv.cfg.CloseTimeout) // the deadline from now on
		l.closing = append(l.closing, c)
		c.inClosing = true
		l.nClosing++
		c.mu.Lock()
		code := c.code
		c.mu.Unlock()
		l.srv.h.OnClose(c, code)
	}
	c.mu.Lock()
	if !c.broken && !c.shutWr && c.out.pending() == 0 {
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
	l.boundClosing()
}

// boundClosing closes this loop's oldest closing sockets at once while the
// loop holds more than its share of Config.MaxClosing. They no longer
// count toward MaxConnections, so without this a peer that ignores closes
// could hold sockets (and their memory) as fast as it can handshake.
func (l *loop) boundClosing() {
	limit := l.srv.cfg.MaxClosing
	if limit <= 0 {
		return
	}
	share := max(limit/len(l.srv.loops), 1)
	for i := 0; l.nClosing > share && i < len(l.closing); i++ {
		if c := l.closing[i]; !c.finalized {
			l.finalize(c)
		}
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
	if c.inClosing {
		c.inClosing = false
		l.nClosing--
	}
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	l.unslot(c)
	c.mu.Lock()
	if c.state.Load() == stateOpen {
		c.code = CloseAbnormal
	}
	c.giveSlotLocked()
	c.state.Store(stateClosed)
	c.out.release(l.srv.cfg.Budget)
	_ = unix.Close(c.fd)
	code := c.code
	c.mu.Unlock()
	c.p.release()
	l.srv.n.Add(-1)
	if !c.onClosed {
		c.onClosed = true
		l.srv.h.OnClose(c, code)
	}
}

// dropUnopened closes a connection that never reached its loop (no OnOpen,
// so no OnClose) and gives back what it held.
func (c *Conn) dropUnopened() {
	c.mu.Lock()
	c.state.Store(stateClosed)
	c.giveSlotLocked()
	c.out.release(c.srv.cfg.Budget)
	_ = unix.Close(c.fd)
	c.mu.Unlock()
}
