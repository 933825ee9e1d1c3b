package netcode

import "github.com/gobwas/ws"

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
	_ = c.writeFrame(ws.OpPong, nil, payload) // a failure closes the conn
	return c.state.Load() == stateOpen
}

func (c *Conn) onPong([]byte) bool {
	c.active()
	return true
}
