package netcode

import "github.com/gobwas/ws"

// Conn is its own parser sink; these run on the loop goroutine. Every
// complete frame counts as traffic for the idle rule.

func (c *Conn) onMessage(msg []byte) bool {
	c.lastActive = c.loop.now
	c.loop.srv.h.OnMessage(c, msg)
	return c.state.Load() == stateOpen
}

func (c *Conn) onPing(payload []byte) bool {
	c.lastActive = c.loop.now
	_ = c.writeFrame(ws.OpPong, nil, payload) // a failure closes the conn
	return c.state.Load() == stateOpen
}

func (c *Conn) onPong([]byte) bool {
	c.lastActive = c.loop.now
	return true
}
