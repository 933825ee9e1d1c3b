package cluster

import (
	"context"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lobbyd/lobbyd/internal/rawio"
)

// go-redis checks a pooled connection before every command it takes from
// the pool: it peeks at the socket (recvfrom with MSG_PEEK) to find a
// connection Redis closed, such as every idle one after a Redis restart.
// That is a system call per command; in a profile of the cross-shard
// relay it was 18% of what a commit cost the shard, on a virtual machine
// whose system calls are dear. The check is kept, at most once per
// healthCheckEvery per connection: a connection used more recently than
// that is taken as it is, as go-redis takes any connection between its
// check and its write. A restart of Redis closes connections idle longer,
// and those are still found and replaced before a command goes out on one.
//
// go-redis reaches the socket through syscall.Conn (internal/pool's
// connCheck), so checkedConn offers it one whose Read skips the peek when
// the last one was recent. TLS connections are left alone: go-redis does
// not check those (a *tls.Conn is no syscall.Conn).
const healthCheckEvery = 100 * time.Millisecond

// checkedDial is dial with each plain TCP connection wrapped in a
// checkedConn.
func checkedDial(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		sc, ok := c.(syscall.Conn)
		if !ok {
			return c, nil
		}
		raw, err := sc.SyscallConn()
		if err != nil {
			return c, nil
		}
		return &checkedConn{Conn: c, raw: raw, rd: newRawOp(rawio.Read), wr: newRawOp(rawio.Write)}, nil
	}
}

// checkedConn is a Redis connection whose health check runs at most once
// per healthCheckEvery.
type checkedConn struct {
	net.Conn
	raw     syscall.RawConn
	checked atomic.Int64 // unix ns of the last peek
	rd, wr  *rawOp       // Read's and Write's system calls
}

// SyscallConn is what go-redis's health check reaches the socket by.
func (c *checkedConn) SyscallConn() (syscall.RawConn, error) { return throttledRaw{c}, nil }

// throttledRaw is the socket's RawConn, whose Read (the health check's
// peek) does nothing when the last one was less than healthCheckEvery ago.
type throttledRaw struct{ c *checkedConn }

func (r throttledRaw) Control(f func(fd uintptr)) error    { return r.c.raw.Control(f) }
func (r throttledRaw) Write(f func(fd uintptr) bool) error { return r.c.raw.Write(f) }

func (r throttledRaw) Read(f func(fd uintptr) bool) error {
	now := time.Now().UnixNano()
	if last := r.c.checked.Load(); now-last < int64(healthCheckEvery) && now >= last {
		return nil
	}
	r.c.checked.Store(now)
	return r.c.raw.Read(f)
}

// Read and Write make their read(2) and write(2) with RawSyscall
// (internal/rawio, which says why), inside the socket's RawConn (which
// keeps the descriptor open and honours the deadlines go-redis sets,
// waiting in the netpoller when the socket is not ready). net.Conn makes
// them with syscall.Syscall, and a shard that idles between commits (every
// few hundred µs under a steady relay) paid a sysmon wake-up for it, on a
// machine where a context switch costs ~9 µs. Neither call can block: the
// socket is non-blocking, and EAGAIN returns to the netpoller.
func (c *checkedConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, err, waitErr := c.rd.do(c.raw.Read, p)
	switch {
	case waitErr != nil:
		return 0, c.opError("read", waitErr)
	case err != nil:
		return 0, c.opError("read", os.NewSyscallError("read", err))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (c *checkedConn) Write(p []byte) (int, error) {
	written := 0
	for written < len(p) {
		n, err, waitErr := c.wr.do(c.raw.Write, p[written:])
		switch {
		case waitErr != nil:
			return written, c.opError("write", waitErr)
		case err != nil:
			return written, c.opError("write", os.NewSyscallError("write", err))
		case n == 0:
			return written, c.opError("write", io.ErrShortWrite)
		}
		written += n
	}
	return written, nil
}

// rawOp is a checkedConn's read or write: its RawConn callback is bound
// once, at the dial (a closure per call would escape to the heap: an
// allocation per command). A connection is read by one goroutine at a
// time and written by one at a time (go-redis's pool; a PubSub's reader),
// so one of each suffices.
type rawOp struct {
	sys func(fd int, p []byte) (int, error) // rawio.Read or rawio.Write
	p   []byte
	n   int
	err error
	try func(fd uintptr) bool
}

func newRawOp(sys func(fd int, p []byte) (int, error)) *rawOp {
	op := &rawOp{sys: sys}
	op.try = op.run
	return op
}

// run is the RawConn callback: false (wait until the socket is ready, then
// call again) on EAGAIN.
func (op *rawOp) run(fd uintptr) bool {
	op.n, op.err = op.sys(int(fd), op.p)
	return op.err != syscall.EAGAIN
}

// do runs one read or write of p through wait (the RawConn's Read or
// Write): the bytes moved, the system call's error, and the wait's (a
// deadline, a closed connection).
func (op *rawOp) do(wait func(func(fd uintptr) bool) error, p []byte) (n int, err, waitErr error) {
	op.p, op.n, op.err = p, 0, nil
	waitErr = wait(op.try)
	op.p = nil
	return op.n, op.err, waitErr
}

// opError wraps err as net.Conn's methods do, so that go-redis tells a
// timeout (a deadline) from a broken connection as before.
func (c *checkedConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
