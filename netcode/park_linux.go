package netcode

import (
	"errors"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Parking a loop in Go's netpoller.
//
// A loop could sleep in its own blocking epoll_wait, but Go's runtime sees
// a goroutine in a long syscall: sysmon takes its P away after 20 µs and
// hands it to another thread, and as long as it keeps finding such Ps it
// polls every 20 µs instead of backing off to 10 ms: under relay load,
// thousands of context switches a second and a large share of lobbyd's CPU
// in sysmon alone (docs/architecture.md, "Loops park in Go's netpoller",
// has the measurement). So the loop never blocks in a syscall: it polls its epoll
// set with a zero timeout, and when that is empty it parks on the epoll fd
// itself, registered with the runtime's netpoller (an epoll fd is readable
// while it has events). The runtime then sleeps in its own epoll_wait
// without a P, as it does for any net.Conn.

// poller is a loop's epoll set as seen by the runtime. The loop keeps
// using the fd number itself for epoll_ctl and epoll_wait; file.Fd() is never
// called, because it would put the fd back into blocking mode and turn the
// deadlines off.
type poller struct {
	file     *os.File        // owns the epoll fd
	raw      syscall.RawConn // parks on file's readiness
	deadline int64           // loop clock of the read deadline set on file; 0: none
	start    time.Time       // base of the loop clock
}

// newPoller hands epfd to the runtime's netpoller; epfd then belongs to the
// poller (closed by close).
func newPoller(epfd int, start time.Time) (*poller, error) {
	if err := unix.SetNonblock(epfd, true); err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(epfd), "epoll")
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &poller{file: f, raw: raw, start: start}, nil
}

// wait fills l.events: at once when events are pending, else after parking
// until there are some or the loop clock reaches until (0: no bound).
func (l *loop) wait(park bool, until int64) (int, error) {
	if !park {
		return l.pollNow()
	}
	// No zero-timeout poll of our own first: RawConn.Read calls pollFn
	// (that very poll) before it parks, and one epoll_wait per wake-up
	// is saved.
	p := l.poller
	if until != p.deadline {
		// Set only when the tick moves on: a deadline is a runtime
		// timer, and most wake-ups come before it.
		var t time.Time
		if until != 0 {
			t = p.start.Add(time.Duration(until))
		}
		if err := p.file.SetReadDeadline(t); err != nil {
			return 0, err
		}
		p.deadline = until
	}
	l.polled, l.pollErr = 0, nil
	if err := p.raw.Read(l.pollFn); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return l.pollNow()
		}
		return 0, err
	}
	return l.polled, l.pollErr
}

// pollNow is epoll_wait with a zero timeout (so never a blocking syscall).
func (l *loop) pollNow() (int, error) { return sysPoll(l.epfd, l.events[:]) }

// pollOnce is the RawConn.Read callback (kept as l.pollFn, so parking does
// not allocate a closure): done when epoll returned events or failed.
func (l *loop) pollOnce(uintptr) bool {
	l.polled, l.pollErr = l.pollNow()
	return l.polled != 0 || l.pollErr != nil
}

func (p *poller) close() error { return p.file.Close() }
