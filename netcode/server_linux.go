package netcode

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/sys/unix"
)

// maxHandshakeTail bounds the bytes recovered from fasthttp's reader after
// the upgrade request (fasthttp's ReadBufferSize bounds them already).
const maxHandshakeTail = 1 << 20

// Server upgrades connections and runs the epoll loops.
type Server struct {
	cfg   Config
	h     Handler
	log   *slog.Logger
	loops []*loop
	start time.Time // base of the loops' monotonic clock
	tick  int64     // loop timer period, ns
	acker Acker     // h, if it is one; nil: pings carry no mark
	// ackTicks is Config.AckDelay in ticks (1..255: Conn.quiet counts them)
	ackTicks uint8

	n        atomic.Int64 // connections opened by a loop and not yet closed
	slots    atomic.Int64 // open connections and upgrades under way (Config.MaxConnections)
	shutdown atomic.Bool
	once     sync.Once

	// moves is held for reading while a loop hands a connection over
	// (tried, never waited for: a loop must not block) and for writing by
	// Each, so that no connection is in flight between two loops, seen
	// by neither or by both, while Each walks the tables.
	moves sync.RWMutex
}

// NewServer starts cfg.Loops epoll loops that deliver to h.
func NewServer(cfg Config, h Handler) (*Server, error) {
	if h == nil {
		return nil, errors.New("netcode: nil Handler")
	}
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, h: h, log: cfg.Logger, start: time.Now()}
	// The timer period: a quarter of the shortest timeout, kept between
	// 1ms and 250ms (a tick costs one scan of the loop's table).
	t := min(cfg.HeartbeatInterval, cfg.CloseTimeout) / 4
	s.tick = int64(min(max(t, time.Millisecond), 250*time.Millisecond))
	s.acker, _ = h.(Acker)
	s.ackTicks = uint8(min(max((int64(cfg.AckDelay)+s.tick-1)/s.tick, 1), 255))
	for i := range cfg.Loops {
		l, err := newLoop(s, i)
		if err != nil {
			for _, l := range s.loops {
				l.poller.close()
				unix.Close(l.evfd)
			}
			return nil, err
		}
		s.loops = append(s.loops, l)
	}
	for _, l := range s.loops {
		go l.run()
	}
	return s, nil
}

// clock is the loops' monotonic clock in ns.
func (s *Server) clock() int64 { return int64(time.Since(s.start)) }

// Upgrade turns the request into a WebSocket connection. The gateway's
// GET /ws route calls it after its own checks (auth, origin, draining);
// value is returned by Conn.Value.
//
// It first takes one of Config.MaxConnections slots, atomically, and
// returns ErrFull without writing anything when none is free: the limit is
// exact however many handshakes arrive at once. The slot is the
// connection's until it leaves the open state.
//
// It checks the RFC 6455 handshake and answers 400 (426 with
// Sec-WebSocket-Version: 13 for a wrong version) through Config.Refuse when
// it is off, and 503 after Shutdown. Otherwise it returns
// nil and fasthttp hands the socket over once the route returns: the 101 is
// written then, by netcode, and the connection goes to a loop.
//
// Requirements on the app (see ConfigureApp, which sets the first):
// app.Server().KeepHijackedConns = true; a ReadTimeout for the handshake;
// MaxConnsPerIP 0; no TLS on the listener.
func (s *Server) Upgrade(c *fiber.Ctx, value any) error {
	if s.shutdown.Load() {
		return s.cfg.refuse(c, fiber.StatusServiceUnavailable, "server shutting down")
	}
	if !s.takeSlot() {
		return ErrFull
	}
	key, herr := checkHandshake(c)
	if herr != nil {
		s.giveSlot()
		return s.cfg.refuse(c, herr.status, herr.msg)
	}
	ctx := c.Context()
	if ctx.IsTLS() {
		s.giveSlot()
		return s.cfg.refuse(c, fiber.StatusInternalServerError,
			"websocket needs a plain TCP listener (terminate TLS at the load balancer)")
	}
	resp := switchingProtocols(acceptKey(key))
	// We write the 101 ourselves, on the duplicated fd, so fasthttp adds
	// nothing and skips its Connection: close handling.
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(nc net.Conn) { s.adopt(nc, resp, value) })
	c.Status(fiber.StatusSwitchingProtocols) // for access logs; not sent
	return nil
}

// takeSlot reserves a connection slot; false at the limit.
func (s *Server) takeSlot() bool {
	limit := int64(s.cfg.MaxConnections)
	for {
		n := s.slots.Load()
		if limit > 0 && n >= limit {
			return false
		}
		if s.slots.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// giveSlot returns a slot taken by takeSlot.
func (s *Server) giveSlot() { s.slots.Add(-1) }

// adopt runs on fasthttp's hijack goroutine: it recovers buffered bytes,
// takes the socket out of Go's poller, sends the 101 and hands the Conn to
// its loop. Nothing here may touch the fiber.Ctx (already released).
func (s *Server) adopt(nc net.Conn, resp []byte, value any) {
	raw := nc
	if u, ok := nc.(interface{ UnsafeConn() net.Conn }); ok {
		raw = u.UnsafeConn()
	}
	sc, ok := raw.(syscall.Conn)
	if !ok {
		s.log.Error("netcode: hijacked conn has no raw socket (TLS or MaxConnsPerIP?)",
			"type", fmt.Sprintf("%T", raw))
		_ = raw.Close()
		s.giveSlot()
		return
	}
	initial, err := handshakeTail(nc, raw)
	if err != nil {
		s.log.Warn("netcode: reading bytes after the handshake", "err", err)
		_ = raw.Close()
		s.giveSlot()
		return
	}
	fd, err := dupFD(sc)
	_ = raw.Close() // our dup keeps the socket; Go's poller lets go of it
	if err != nil {
		s.log.Error("netcode: duplicating the socket", "err", err)
		s.giveSlot()
		return
	}
	l := s.loops[fd%len(s.loops)]
	c := &Conn{fd: fd, srv: s, loop: l, value: value, slot: true}
	c.want.Store(int32(l.index))
	c.p.max = s.cfg.MaxMessageBytes
	c.p.setPending(initial)
	c.mu.Lock()
	c.out.pushUnit(resp, nil, s.cfg.Budget) // not a frame: one unit for the frame walk
	c.markDirtyLocked()
	c.mu.Unlock()
	if !l.handOver(c) {
		c.dropUnopened()
	}
}

// tailBufs are handshakeTail's read buffers.
var tailBufs = sync.Pool{New: func() any { return new([4096]byte) }}

// handshakeTail returns the bytes the client sent after its upgrade request
// that fasthttp's buffered reader already holds (a client may pipeline its
// first frames with the handshake). An expired read deadline makes the
// reader give its buffered bytes and then fail without touching the socket,
// so what is still in the kernel stays there for epoll.
func handshakeTail(nc, raw net.Conn) ([]byte, error) {
	if nc == raw {
		return nil, nil
	}
	if err := raw.SetReadDeadline(time.Unix(1, 0)); err != nil {
		return nil, err
	}
	var out []byte
	bp := tailBufs.Get().(*[4096]byte) // through the interface a stack buffer escapes: 4 KiB of garbage a handshake
	defer tailBufs.Put(bp)
	buf := bp[:]
	for {
		n, err := nc.Read(buf)
		out = append(out, buf[:n]...)
		if len(out) > maxHandshakeTail {
			return nil, errors.New("too many bytes after the handshake")
		}
		if err != nil {
			return out, nil
		}
		if n == 0 {
			return out, nil
		}
	}
}

// dupFD duplicates the socket's fd with F_DUPFD_CLOEXEC (dup and CLOEXEC in
// one step, so no exec can inherit it in between) and makes it
// non-blocking. Closing the Go conn afterwards removes the original fd from
// Go's poller, as nbio does; the socket lives on in the duplicate.
func dupFD(sc syscall.Conn) (int, error) {
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd, derr := -1, error(nil)
	if err := rc.Control(func(s uintptr) {
		fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, derr
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		_ = unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// Len is the number of open or closing connections (from just before
// OnOpen until their socket is closed).
func (s *Server) Len() int { return int(s.n.Load()) }

// Slots is the number of connection slots taken: open connections and
// upgrades under way, the count Config.MaxConnections bounds.
func (s *Server) Slots() int { return int(s.slots.Load()) }

// Loops is the number of epoll loops, the bound of MoveTo's k.
func (s *Server) Loops() int { return len(s.loops) }

// Each calls fn for every open connection (closing ones are skipped), on
// the connection's loop goroutine, and returns when all loops are done.
// fn must not block; it may call Write and Close. The gateway drains with
// it: a message to each connection now, Close(4010) later. Each must not
// be called from a Handler callback (it waits for the loops). No
// connection moves between loops while it runs, so each is seen once.
func (s *Server) Each(fn func(*Conn)) {
	s.moves.Lock() // moves started before are on their target's inbox, ahead of fn
	defer s.moves.Unlock()
	var wg sync.WaitGroup
	for _, l := range s.loops {
		wg.Add(1)
		posted := l.post(func() {
			defer wg.Done()
			for _, c := range l.conns {
				if c != nil && c.state.Load() == stateOpen {
					fn(c)
				}
			}
		})
		if !posted {
			wg.Done()
		}
	}
	wg.Wait()
}

// Shutdown refuses new upgrades, closes every connection with 1001, waits
// for the close handshakes (at most Config.CloseTimeout) and stops the
// loops. OnClose runs for every connection before it returns. Safe to call
// more than once.
func (s *Server) Shutdown() {
	s.once.Do(func() {
		s.shutdown.Store(true)
		for _, l := range s.loops {
			l.stop()
		}
		for _, l := range s.loops {
			<-l.done
		}
	})
}
