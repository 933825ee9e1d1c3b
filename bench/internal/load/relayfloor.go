package load

import (
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The relay floor: the write floor (WriteFloor) plus what a relay cannot
// skip either, reading each message as it arrives. Players send at the
// fixed load's rate and shape; one locked thread waits on all their
// sockets in one epoll set, reads each message and writes it to the other
// members of its lobby, one write(2) per delivery: no WebSocket framing,
// no parsing, no routing table, no sessions. What a server spends per
// delivered message beyond this is its own work; at own phases, where each
// message arrives alone, the thread wakes for each one, as a server must.

// inFrameBytes is the size of a message as the floor's players send it:
// about a masked WebSocket frame carrying lobbyd's lobby.send envelope
// with a 64-byte payload.
const inFrameBytes = 96

// RelayFloor measures the relay floor (above) with cfg's shape: Conns
// players in lobbies of LobbySize, each sending RatePerPlayer messages/s;
// CPUPerMillion is the relaying thread's CPU (getrusage(RUSAGE_THREAD):
// the players' goroutines are not counted) per million deliveries.
func RelayFloor(ctx context.Context, cfg FloorConfig) (FloorResult, error) {
	cfg.defaults()
	socks, err := openFloorSockets(cfg.Conns)
	if err != nil {
		return FloorResult{}, err
	}
	defer socks.close()
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return FloorResult{}, err
	}
	defer unix.Close(ep)
	for i, fd := range socks.fds {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(i)}
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return FloorResult{}, fmt.Errorf("relay floor: epoll: %w", err)
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	// The players: one pacing goroutine writes each message on the next
	// player's socket in turn, as the write floor's writer takes sockets.
	var senders sync.WaitGroup
	senders.Add(1)
	go func() {
		defer senders.Done()
		msg := make([]byte, inFrameBytes)
		perSec := cfg.RatePerPlayer * float64(cfg.Conns)
		tk := time.NewTicker(paceTick)
		defer tk.Stop()
		start := time.Now()
		sent, next := 0, 0
		for {
			select {
			case <-runCtx.Done():
				return
			case now := <-tk.C:
				for want := int(perSec * now.Sub(start).Seconds()); sent < want; sent++ {
					if _, err := socks.clients[next].Write(msg); err != nil {
						return
					}
					if next++; next == len(socks.clients) {
						next = 0
					}
				}
			}
		}
	}()
	// Deferred in this order, the senders stop before their sockets close.
	defer senders.Wait()
	defer stop()

	return onLockedThread(func() (FloorResult, error) { return relayLoop(runCtx, ep, socks.fds, cfg) })
}

// onLockedThread runs f on a goroutine locked to its own thread (a floor's
// CPU is read per thread) and returns what f returns.
func onLockedThread(f func() (FloorResult, error)) (FloorResult, error) {
	type out struct {
		res FloorResult
		err error
	}
	done := make(chan out, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		res, err := f()
		done <- out{res, err}
	}()
	o := <-done
	return o.res, o.err
}

// relayLoop is the relaying thread of RelayFloor.
func relayLoop(ctx context.Context, ep int, fds []int, cfg FloorConfig) (res FloorResult, err error) {
	frame := make([]byte, cfg.FrameBytes)
	buf := make([]byte, 64<<10)
	pending := make([]int, len(fds)) // bytes of a message not yet whole, per socket
	events := make([]unix.EpollEvent, 128)
	w := newFloorWindow(time.Now(), cfg)
	written := 0
	for {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		if r, over := w.at(time.Now(), written); over {
			return r, nil
		}
		n, err := unix.EpollWait(ep, events, 10)
		if err != nil && err != unix.EINTR {
			return res, fmt.Errorf("relay floor: epoll_wait: %w", err)
		}
		for _, ev := range events[:max(n, 0)] {
			i := int(ev.Fd)
			for {
				r, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(fds[i]), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
				if errno != 0 || r == 0 {
					break
				}
				pending[i] += int(r)
				for ; pending[i] >= inFrameBytes; pending[i] -= inFrameBytes {
					// The other members of i's lobby.
					first := i - i%cfg.LobbySize
					for j := first; j < first+cfg.LobbySize && j < len(fds); j++ {
						if j == i {
							continue
						}
						if _, _, errno := unix.RawSyscall(unix.SYS_WRITE, uintptr(fds[j]), uintptr(unsafe.Pointer(&frame[0])), uintptr(len(frame))); errno == 0 {
							written++
						}
					}
				}
				if int(r) < len(buf) {
					break
				}
			}
		}
	}
}

// floorSockets are the loopback connections of a floor measurement: the
// server ends as raw non-blocking descriptors (written and read with
// syscalls, as lobbyd's loops do), the client ends drained by a goroutine
// each.
type floorSockets struct {
	fds     []int
	clients []net.Conn
	closers []io.Closer
	readers sync.WaitGroup
}

func openFloorSockets(n int) (s *floorSockets, err error) {
	s = &floorSockets{}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return s, err
	}
	defer ln.Close()
	for range n {
		cl, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return s, fmt.Errorf("floor: dial: %w", err)
		}
		s.closers = append(s.closers, cl)
		srv, err := ln.Accept()
		if err != nil {
			return s, fmt.Errorf("floor: accept: %w", err)
		}
		s.closers = append(s.closers, srv)
		// A dup of the server end, used with raw syscalls (net.Conn would
		// add the netpoller's locking).
		f, err := srv.(*net.TCPConn).File()
		if err != nil {
			return s, err
		}
		s.closers = append(s.closers, f)
		fd := int(f.Fd())
		if err := unix.SetNonblock(fd, true); err != nil {
			return s, err
		}
		s.fds = append(s.fds, fd)
		s.clients = append(s.clients, cl)
		s.readers.Add(1)
		go func() {
			defer s.readers.Done()
			_, _ = io.Copy(io.Discard, cl)
		}()
	}
	return s, nil
}

// close closes every socket and waits for the draining goroutines.
func (s *floorSockets) close() {
	for _, c := range s.closers {
		c.Close()
	}
	s.readers.Wait()
}
