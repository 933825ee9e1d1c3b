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
		switch {
		case int64(i)%slots == slot: // the heartbeat's ping acknowledges too
			l.ping(c)
		case c.quiet == 0:
		case c.quiet >= l.srv.ackTicks:
			l.ping(c)
		default:
			c.quiet++
		}
	}
}

// ping queues a ping carrying the Acker's mark for c (flushDirty writes it
// this turn). The mark goes as 8 bytes, big-endian, which the pong echoes.
func (l *loop) ping(c *Conn) {
	c.quiet = 0
	var mark [8]byte
	n := 0
	if a := l.srv.acker; a != nil {
		if m, ok := a.PingMark(c); ok {
			binary.BigEndian.PutUint64(mark[:], m)
			n = len(mark)
		}
	}
	_ = c.writeFrame(ws.OpPing, nil, mark[:n])
}
