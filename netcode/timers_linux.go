package netcode

import (
	"encoding/binary"

	"github.com/gobwas/ws"
)

// The loop's timers: one tick per Server.tick, driven by the read deadline
// of the parked epoll fd (park_linux.go), not by a goroutine or a timer per
// connection.

// onTick runs the loop's timers: close deadlines, idle connections, pings.
func (l *loop) onTick() {
	l.nextTick = l.now + l.srv.tick
	kept := l.closing[:0]
	for _, c := range l.closing {
		switch {
		case c.finalized:
		case l.now >= c.clock: // the close deadline (onClosed)
			l.finalize(c)
		default:
			kept = append(kept, c)
		}
	}
	clear(l.closing[len(kept):])
	l.closing = kept

	// Pings are spread over the heartbeat interval: each tick pings the
	// connections of one slot of the table, so 10,000 connections never get
	// their pings (and writes) in one loop turn, which would stall every
	// other connection of the loop for that turn.
	slots := max(int64(l.srv.cfg.HeartbeatInterval)/l.srv.tick, 1)
	slot := l.tickCount % slots
	l.tickCount++
	idle := 3 * int64(l.srv.cfg.HeartbeatInterval)
	for i, c := range l.conns {
		if c == nil || c.state.Load() != stateOpen {
			continue
		}
		if l.now-c.clock > idle { // the last frame: OnClose has not run
			l.closeConn(c, CloseGoingAway, "idle timeout")
			continue
		}
		if c.quiet > 0 && c.quiet < l.srv.ackTicks {
			c.quiet++
		}
		switch {
		case c.quiet >= l.srv.ackTicks: // acknowledged writes quiet for AckDelay
			c.quiet = 0
			l.ping(c, true)
		case int64(i)%slots == slot: // the heartbeat's
			l.ping(c, c.quiet == 0)
		}
	}
}

// ping sends a ping (writeControl); with mark, one that
// carries the Acker's mark for c, as 8 bytes, big-endian, which the pong
// echoes. Only a connection whose acknowledged writes have been quiet for
// AckDelay gets a mark, so that what a pong acknowledges was written at
// least that long before: a client that hands what it reads to a queue
// and counts an event when it has handled it has had that long to handle
// it (docs/protocol.md, "Resume").
func (l *loop) ping(c *Conn, mark bool) {
	var payload [8]byte
	n := 0
	if a := l.srv.acker; a != nil && mark {
		c.mu.Lock()
		fresh := c.acks // queued since the last flush: not quiet at all
		c.mu.Unlock()
		if !fresh {
			if m, ok := a.PingMark(c); ok {
				binary.BigEndian.PutUint64(payload[:], m)
				n = len(payload)
			}
		}
	}
	_ = c.writeControl(ws.OpPing, payload[:n])
}
