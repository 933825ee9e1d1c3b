package netcode

import (
	"errors"
	"net"
)

var (
	// ErrClosed is returned by writes on a connection that is closing or
	// closed. It is net.ErrClosed, so callers may test for either.
	ErrClosed = net.ErrClosed
	// ErrSlowConsumer is returned by the write that overflowed the
	// connection's write queue; the connection is then closing with 1008.
	ErrSlowConsumer = errors.New("netcode: slow consumer: write queue over its bound")
	// ErrFull is returned by Upgrade, before it writes anything, when every
	// one of Config.MaxConnections slots is taken: the caller answers (503).
	ErrFull = errors.New("netcode: at the connection limit")
	// ErrUnsupported is returned by NewServer on platforms without epoll.
	ErrUnsupported = errors.New("netcode: the epoll transport needs Linux")
)
