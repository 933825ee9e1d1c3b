package netcode

import (
	"encoding/binary"

	"github.com/gobwas/ws"
)

// Conn is its own parser sink; these run on the loop goroutine. Every
// complete frame counts as traffic for the idle rule.

// active records traffic for the idle rule. Once OnClose has run, clock is
// the close deadline and stays as it is.
func (c *Conn) active() {
	if !c.onClosed {
		c.clock = c.loop.now
	}
}

func (c *Conn) onMessage(msg []byte) bool {
	c.active()
	c.loop.srv.h.OnMessage(c, msg)
	return c.state.Load() == stateOpen
}

func (c *Conn) onPing(payload []byte) bool {
	c.active()
	_ = c.writeControl(ws.OpPong, payload) // a failure closes the conn
	return c.state.Load() == stateOpen
}

// onPong hands a pong's echoed mark to the Acker (ping). Any other
// payload is traffic, nothing more: a pong the peer sent unasked may echo
// nothing.
func (c *Conn) onPong(payload []byte) bool {
	c.active()
	if a := c.loop.srv.acker; a != nil && len(payload) == 8 {
		a.OnAck(c, binary.BigEndian.Uint64(payload))
	}
	return c.state.Load() == stateOpen
}
