package netcode

// Handler receives a connection's life. All three methods run on the
// connection's loop goroutine, one call at a time for the whole loop: they
// must not block (no network calls, no waiting on other loops).
type Handler interface {
	// OnOpen runs once, before any OnMessage. The 101 answer is already sent.
	OnOpen(c *Conn)
	// OnMessage gets one complete binary message. msg is valid only during
	// the call (it points into the loop's read buffer): copy what you keep.
	OnMessage(c *Conn, msg []byte)
	// OnClose runs exactly once per connection that had OnOpen, never from
	// inside a Write or Close call. code is the close code the server sent
	// (its own, or the echo of the peer's), or 1006 when the transport
	// failed without a close handshake.
	OnClose(c *Conn, code uint16)
}

// Acker is an optional interface of a Handler that numbers what it writes
// with WriteHead (the gateway's events) and keeps it until the peer has it
// (the gateway's replay rings): it learns how far the peer has read.
//
// A ping carries the mark PingMark gives, and RFC 6455 has the peer echo
// a ping's payload in its pong; a peer that answers a ping has read every
// frame queued before it. Only a connection whose WriteHead frames have
// been quiet for Config.AckDelay gets a mark, so that what a pong
// acknowledges was written at least that long before (a peer that counts
// what it has handled, not read, has had that long). Besides the
// heartbeat's pings, such a connection is pinged once as its writes go
// quiet, so that what a burst of events left behind is acknowledged about
// AckDelay after it, not a heartbeat later; a connection whose writes never
// pause for that long is never acknowledged.
//
// A pong can be forged, so OnAck may only ever concern the peer itself
// (what it can be sent again), and must bound the mark by what PingMark
// could have said. Both run on the connection's loop goroutine.
type Acker interface {
	// PingMark is the mark a ping to c carries: the position of what has
	// been queued to c so far. false: none (the ping carries nothing).
	PingMark(c *Conn) (mark uint64, ok bool)
	// OnAck runs for a pong that echoes a mark: c's peer has read what
	// was queued before the ping that carried it.
	OnAck(c *Conn, mark uint64)
}
