// Package netcode is lobbyd's WebSocket transport: the RFC 6455 handshake on
// a Fiber route, then frames on a Linux epoll loop. It hands whole binary
// messages to a Handler and takes whole messages to write; it knows nothing
// of lobbies, sessions or MessagePack, and imports no package above it.
// It owns RFC 6455's close codes (closecode.go); the application's codes and
// the body of a refused handshake (Config.Refuse) are its caller's.
//
// Why a hand-rolled loop instead of a goroutine per connection: a lobby server
// holds many connections that are idle nearly all the time. A goroutine per
// connection costs at least 8 KiB of stack plus a read buffer, for nothing.
// Here an idle connection is a Conn struct (a few hundred bytes) and a slot in
// its loop's table; the socket sits in an epoll set, and the bytes are read
// into the loop's one read buffer only when the kernel says they are there.
// A connection owns a buffer only while it has a partial frame, a fragmented
// message or unsent output, and gives it back when that is done.
//
// Lifecycle. Server.Upgrade (called by the gateway's GET /ws route after its
// checks) validates the handshake, hijacks the fasthttp connection, recovers
// the bytes fasthttp had already buffered, duplicates the socket's fd (so it
// leaves Go's poller), writes the 101 answer and hands the Conn to a loop.
// The loop calls Handler.OnOpen, then OnMessage for each binary message, and
// OnClose exactly once.
//
// Concurrency.
//   - Each loop is one goroutine with its own epoll fd, eventfd, read buffer
//     and connection table; the table and every "owned by the loop" field of a
//     Conn are touched only by that goroutine. Handler callbacks run on it, one
//     at a time per loop, so they must not block.
//   - Conn.Write, Conn.WriteParts and Conn.Close may be called from any
//     goroutine. They take the Conn's write lock (near the end of the order
//     in docs/locks.md: callers may hold their own locks) and never call
//     back into the Handler: OnClose always runs later, on the loop.
//   - Heartbeats, idle timeouts and close deadlines are timers of the loops
//     themselves (a read deadline on the parked epoll fd, below), not
//     goroutines: the goroutine count is Config.Loops, whatever the number
//     of connections.
//   - Server.Each and Server.Shutdown post work to the loops and wait for it.
//   - A connection may move to another loop (Conn.MoveTo, move_linux.go):
//     its owner hands it over through the target's inbox, and from then on
//     only the target touches its owned fields. The caller decides where
//     (the gateway keeps a lobby's members on one loop); netcode only
//     moves.
//
// A loop never blocks in a syscall. It polls its epoll set with a zero
// timeout, and when that is empty it parks on the epoll fd itself, which
// is registered with Go's netpoller (an epoll fd is readable while it has
// events): the goroutine sleeps like any net.Conn reader and the runtime's
// own epoll_wait wakes it: a loop blocked in epoll_wait(2) would look to
// the runtime like a goroutine stuck in a syscall (park_linux.go says what
// that costs; docs/architecture.md has the measurement). For the same
// reason the loops read, write and poll their non-blocking fds with
// RawSyscall (sys_linux.go).
//
// Writes are coalesced: a message is copied into the connection's pooled
// queue and the connection goes on its loop's dirty list; at the end of each
// loop turn the loop writes each dirty connection's queue with one syscall
// (a sleeping loop is woken through its eventfd). Under fan-out a
// connection often gets several events per turn (a lobby answering the same
// tick), and one write(2) instead of one per event is most of what a
// delivery costs: a write runs the receiver's TCP processing in the
// writer's context, which costs far more than everything lobbyd does for a
// delivery in user space (docs/architecture.md, "Coalesced writes" and
// "What the relay's CPU per message is made of"). The added latency is at
// most one loop turn.
//
// Epoll is edge-triggered with EPOLLIN|EPOLLOUT|EPOLLRDHUP registered once.
// Edge-triggered EPOLLOUT is "armed" by the kernel whenever a write hits a
// full socket buffer, so a writer on any goroutine that queues output needs
// no epoll_ctl call, and a connection with nothing queued gets no EPOLLOUT
// wake-ups. The price is that the loop must read until EAGAIN (or until its
// fairness budget runs out, after which it comes back to that connection
// itself before sleeping).
//
// TLS: there is no raw fd under a TLS connection; terminate TLS at the load
// balancer. Non-Linux builds compile, but NewServer returns ErrUnsupported.
package netcode
