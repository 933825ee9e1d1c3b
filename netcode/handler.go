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
