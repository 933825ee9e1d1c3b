package cluster

import (
	"context"
	"net"
	"sync/atomic"
	"syscall"
	"time"
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
		return &checkedConn{Conn: c, raw: raw}, nil
	}
}

// checkedConn is a Redis connection whose health check runs at most once
// per healthCheckEvery.
type checkedConn struct {
	net.Conn
	raw     syscall.RawConn
	checked atomic.Int64 // unix ns of the last peek
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
