package netcode

import (
	"github.com/gobwas/ws"
	"github.com/lobbyd/lobbyd/protocol"
)

// The loop's timers: one tick per Server.tick, driven by the epoll_wait
// timeout, not by a goroutine or a timer per connection.

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
