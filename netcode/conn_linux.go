package netcode

import (
	"sync"
	"sync/atomic"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"
)

// Connection states, stored in Conn.state. Transitions happen under Conn.mu:
// open → closing (close frame queued, or transport failed) → closed (fd
// closed). Reads without the lock are allowed for "is it still open?".
const (
	stateOpen uint32 = iota
	stateClosing
	stateClosed
)

// Conn is one upgraded WebSocket connection. Write, WriteParts and Close may
// be called from any goroutine; Value is read-only.
//
// There is one per player: its fields are ordered to fit Go's 240-byte size
// class (docs/architecture.md, "Memory per idle player").
type Conn struct {
	// Set before the loop sees the Conn, read-only after.
	fd    int
	srv   *Server
	value any

	// The loop that owns the connection. It changes only when the owner
	// hands the connection to another loop (MoveTo), under mu: other
	// goroutines read it under mu, the owning loop reads it freely.
	loop *loop

	// Owned by the loop goroutine.
	idx int32  // slot in the loop's table, and the epoll event's data
	gen uint32 // tells this Conn from a later one in the same slot
	// p also keeps the bytes that came with the handshake until the loop
	// feeds them (parser.setPending).
	p parser
	// clock is, until OnClose (onClosed), the loop clock (ns) of the last
	// complete frame (the idle rule); from then on, when the closing
	// connection is closed anyway. One field for both, and the parser's
	// buffers out of line: a Conn per player, in the 128-byte size class
	// (docs/architecture.md, "Memory per idle player").
	clock     int64
	onClosed  bool // OnClose has run (or never will: no OnOpen)
	finalized bool // fd closed and out of the table
	peerGone  bool // read EOF: the peer closed its side
	inClosing bool // counted in loop.nClosing
	moreInput bool // left its loop's again list to move: the next loop reads on
	// quiet counts the ticks since WriteHead frames were last flushed,
	// from 1; the loop pings at Server.ackTicks (Acker). 0: no ping owed.
	quiet uint8

	state atomic.Uint32 // stateOpen, stateClosing, stateClosed; written under mu
	// want is the index of the loop MoveTo asked for; written under mu.
	// Next to state and mu: a caller that asks on every delivery finds
	// it in the cache line the write itself uses.
	want atomic.Int32

	// Guarded by mu.
	mu     sync.Mutex
	out    outQueue // unsent output
	code   uint16   // close code for OnClose, set when leaving stateOpen
	broken bool     // the transport failed: close without handshake
	shutWr bool     // FIN sent (shutdown SHUT_WR) after the close frame
	dirty  bool     // on the loop's dirty list: out holds output not yet tried
	slot   bool     // holds one of Server.slots (until it leaves stateOpen)
	moving bool     // a move request is on loop's inbox
	acks   bool     // a WriteHead frame was queued since the loop last flushed (Acker)
}

// Value returns what Upgrade was given.
func (c *Conn) Value() any { return c.value }

// Write sends msg as one binary message. Safe from any goroutine; see
// WriteParts.
func (c *Conn) Write(msg []byte) error { return c.writeFrame(ws.OpBinary, nil, msg) }

// WriteParts sends head||body as one binary message, from any goroutine.
// The frame (header built on the stack, head and body) is copied into the
// connection's pooled write queue, and the connection's loop writes all it
// gathered in one turn with one syscall (see flushDirty); what the socket
// does not take stays queued until it drains. The caller may reuse head and
// body when it returns.
//
// It returns ErrClosed once the connection is closing, ErrSlowConsumer when
// the queue would exceed Config.WriteQueueBytes (the connection is then
// closing with 1008), or the socket's error.
func (c *Conn) WriteParts(head, body []byte) error {
	return c.writeFrame(ws.OpBinary, head, body)
}

// WriteHead is WriteParts for a head of n ≤ MaxHead bytes given by value:
// a caller that stamps a head per message (the gateway's seq) keeps it on
// its stack, even behind an interface, where a slice would escape and
// need a scratch buffer kept per connection or session.
//
// Its frames are the ones an Acker learns the peer has read: once they go
// quiet for Config.AckDelay, the loop pings the connection with a mark.
func (c *Conn) WriteHead(head [MaxHead]byte, n int, body []byte) error {
	return c.writeFrameAck(ws.OpBinary, head[:n], body, true)
}

// Close starts the close handshake: data already queued goes first, then
// the close frame with code and reason (cut to 123 bytes), then FIN. The
// socket is closed when the peer closes its side or after
// Config.CloseTimeout. OnClose runs later on the loop, never inside Close.
// Closing a closing connection does nothing.
func (c *Conn) Close(code uint16, reason string) { c.close(code, reason, false) }

// CloseDiscard is Close for a peer that is not keeping up (a slow consumer
// shed for memory): the queued data it has not begun to receive is dropped,
// so the close frame goes right after the frame it is in the middle of.
func (c *Conn) CloseDiscard(code uint16, reason string) { c.close(code, reason, true) }

func (c *Conn) close(code uint16, reason string, discard bool) {
	c.mu.Lock()
	if discard && c.state.Load() == stateOpen {
		c.out.dropUnstarted(c.srv.cfg.Budget)
	}
	started := c.startCloseLocked(code, reason)
	l := c.loop
	c.mu.Unlock()
	if started {
		l.notifyClose(c)
	}
}

// Queued is the number of bytes owed to the peer and not yet taken by its
// socket: how far behind the reader is.
func (c *Conn) Queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.pending()
}

// writeFrame sends one final frame. The header is built on the stack.
func (c *Conn) writeFrame(op ws.OpCode, head, body []byte) error {
	return c.writeFrameAck(op, head, body, false)
}

// writeFrameAck is writeFrame that, when ack is set, has the loop ping the
// connection once its acknowledged frames go quiet (Acker).
func (c *Conn) writeFrameAck(op ws.OpCode, head, body []byte, ack bool) error {
	var hdr [maxServerHeader]byte
	hn := putHeader(&hdr, op, len(head)+len(body))
	c.mu.Lock()
	if c.state.Load() != stateOpen {
		c.mu.Unlock()
		return ErrClosed
	}
	err := c.sendLocked(hdr[:hn], head, body)
	if ack && err == nil {
		c.acks = true
	}
	notify := false
	if err != nil && c.state.Load() == stateOpen {
		if err == ErrSlowConsumer {
			// What it is owed it would not read before CloseTimeout:
			// the close frame goes first (after the frame in flight).
			c.out.dropUnstarted(c.srv.cfg.Budget)
			c.startCloseLocked(ClosePolicyViolation, "slow consumer")
		} else {
			c.failLocked()
		}
		notify = true
	}
	l := c.loop
	c.mu.Unlock()
	if notify {
		l.notifyClose(c)
	}
	return err
}

// writeControl sends a ping or a pong the loop makes. When nothing is
// queued it goes to the socket at once, as a close frame does, and takes
// no write ring: an ack ping goes to every connection whose events went
// quiet in the same tick (after a connect burst, thousands), and through
// the queue each held a 4 KiB pooled ring until the turn's flush, which
// left ~450 bytes of RSS a player on an idle shard (docs/architecture.md,
// "Memory per idle player"). Loop goroutine only.
func (c *Conn) writeControl(op ws.OpCode, payload []byte) error {
	c.mu.Lock()
	if c.state.Load() != stateOpen || c.out.pending() > 0 || c.broken {
		c.mu.Unlock()
		return c.writeFrame(op, nil, payload)
	}
	var hdr [maxServerHeader]byte
	hn := putHeader(&hdr, op, len(payload))
	queued, err := c.sendNowLocked(hdr[:hn], payload)
	if err != nil {
		c.failLocked()
		l := c.loop
		c.mu.Unlock()
		l.notifyClose(c)
		return err
	}
	if queued {
		c.markDirtyLocked()
	}
	c.mu.Unlock()
	return nil
}

// sendNowLocked writes the frame a||b to the socket of a connection with
// nothing queued; what the socket does not take (EAGAIN, short write) is
// queued as one unit, and queued reports it. Caller holds c.mu.
func (c *Conn) sendNowLocked(a, b []byte) (queued bool, err error) {
	n, err := writev(c.fd, a, b, nil)
	if err != nil {
		return false, err
	}
	if n == len(a)+len(b) {
		return false, nil
	}
	a, b, _ = skip3(a, b, nil, n)
	c.out.pushUnit(a, b, c.srv.cfg.Budget)
	return true, nil
}

// sendLocked queues a||b||d and puts the connection on its loop's dirty
// list; the loop writes everything a connection gathered in one turn with
// one syscall (flushDirty). It does not check the state. ErrSlowConsumer:
// over Config.WriteQueueBytes, or over the shard's budget.
func (c *Conn) sendLocked(a, b, d []byte) error {
	cfg := &c.srv.cfg
	if err := c.out.push(a, b, d, cfg.WriteQueueBytes, cfg.Budget, false); err != nil {
		return err
	}
	c.markDirtyLocked()
	return nil
}

func (c *Conn) markDirtyLocked() {
	if !c.dirty {
		c.dirty = true
		c.loop.markDirty(c)
	}
}

// flushLocked writes queued output until it is gone or the socket is full.
func (c *Conn) flushLocked() error {
	for c.out.pending() > 0 {
		a, b := c.out.segments()
		n, err := writev(c.fd, a, b, nil)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil // EAGAIN
		}
		c.out.advance(n, c.srv.cfg.Budget)
	}
	return nil
}

// startCloseLocked moves an open connection to closing and queues the close
// frame after any queued data. It reports whether it did (false when the
// connection was no longer open).
func (c *Conn) startCloseLocked(code uint16, reason string) bool {
	if c.state.Load() != stateOpen {
		return false
	}
	c.state.Store(stateClosing)
	c.giveSlotLocked()
	c.code = code
	var payload [maxControlPayload]byte
	pn := putClosePayload(&payload, code, reason)
	var hdr [maxServerHeader]byte
	hn := putHeader(&hdr, ws.OpClose, pn)
	bud := c.srv.cfg.Budget
	if c.out.pending() == 0 {
		if _, err := c.sendNowLocked(hdr[:hn], payload[:pn]); err != nil {
			c.broken = true
		}
		return true
	}
	// The close frame may take the queue up to 127 bytes over its bound,
	// and the shard over its budget: it must get out.
	_ = c.out.push(hdr[:hn], payload[:pn], nil, 0, bud, true)
	return true
}

// giveSlotLocked returns the connection's slot (once): it left the open
// state, so it no longer counts toward Config.MaxConnections.
func (c *Conn) giveSlotLocked() {
	if c.slot {
		c.slot = false
		c.srv.giveSlot()
	}
}

// failLocked marks the transport as failed: no close frame can be sent.
func (c *Conn) failLocked() {
	if c.state.Load() == stateOpen {
		c.state.Store(stateClosing)
		c.code = CloseAbnormal
	}
	c.giveSlotLocked()
	c.broken = true
	c.out.release(c.srv.cfg.Budget)
}

// writev writes a||b||d with one writev(2); EAGAIN is 0 bytes and no
// error. We build the iovecs on the stack and call the syscall ourselves
// because unix.Writev may grow its iovec slice on the heap, which makes
// every buffer it is given escape (one allocation per Write for the frame
// header).
func writev(fd int, a, b, d []byte) (int, error) {
	var vecs [3]unix.Iovec
	n := 0
	for _, p := range [3][]byte{a, b, d} {
		if len(p) > 0 {
			vecs[n].Base = &p[0]
			vecs[n].SetLen(len(p))
			n++
		}
	}
	if n == 0 {
		return 0, nil
	}
	r, err := sysWritev(fd, &vecs, n)
	if err == unix.EAGAIN {
		return 0, nil
	}
	return r, err
}

// skip3 drops the first n bytes of a||b||d.
func skip3(a, b, d []byte, n int) ([]byte, []byte, []byte) {
	k := min(n, len(a))
	a, n = a[k:], n-k
	k = min(n, len(b))
	b, n = b[k:], n-k
	k = min(n, len(d))
	return a, b, d[k:]
}
