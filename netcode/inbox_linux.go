package netcode

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// The inbox: how other goroutines hand work to a loop (new connections,
// closes started elsewhere, tasks, shutdown), and how the loop ends.

// inbox takes what other goroutines handed to the loop.
func (l *loop) inbox() {
	// Drain the eventfd before clearing woken: a notifier that finds
	// woken set relies on this call still taking its item below, and one
	// that finds it clear writes the eventfd again.
	var b [8]byte
	_, _ = sysRead(l.evfd, b[:])
	l.woken.Store(false)
	l.mu.Lock()
	opens, adopts, moves := l.opens, l.adopts, l.moves
	closes, tasks, stopping := l.closes, l.tasks, l.stopping
	l.opens, l.adopts, l.moves, l.closes, l.tasks = nil, nil, nil, nil, nil
	l.mu.Unlock()
	for _, c := range opens {
		l.open(c)
	}
	// Adopted before the closes: a close started after a connection was
	// handed over is on this inbox, behind its adoption (moveOut).
	for _, c := range adopts {
		l.adopt(c)
	}
	for _, c := range moves {
		l.moveOut(c)
	}
	for _, c := range closes {
		l.progressClose(c)
	}
	for _, t := range tasks {
		t()
	}
	if stopping && l.stopDeadline == 0 {
		l.stopDeadline = l.now + int64(l.srv.cfg.CloseTimeout)
		for _, c := range l.conns {
			if c != nil {
				l.closeConn(c, CloseGoingAway, "server shutdown")
			}
		}
	}
}

// exit closes what is left and the loop's own fds.
func (l *loop) exit() {
	l.mu.Lock()
	l.stopped = true // from here on no other loop hands a connection over
	opens, adopts, tasks := l.opens, l.adopts, l.tasks
	l.opens, l.adopts, l.moves, l.closes, l.tasks = nil, nil, nil, nil, nil
	_ = unix.Close(l.evfd)
	l.mu.Unlock()
	for _, c := range adopts { // handed over already: ours to close
		l.slot(c)
	}
	for _, c := range l.conns {
		if c != nil {
			l.finalize(c)
		}
	}
	for _, c := range opens { // never opened: no OnOpen, so no OnClose
		c.dropUnopened()
	}
	for _, t := range tasks {
		t()
	}
	_ = l.poller.close()
}

// handOver gives a new connection to the loop; false when it is stopping.
func (l *loop) handOver(c *Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopping || l.stopped {
		return false
	}
	l.opens = append(l.opens, c)
	l.wakeLocked()
	return true
}

// notifyClose tells the loop that c started closing on another goroutine
// (or inside a Handler call), so OnClose runs on the loop, never inside
// Write or Close.
func (l *loop) notifyClose(c *Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return
	}
	l.closes = append(l.closes, c)
	l.wakeLocked()
}

// post runs t on the loop goroutine; false when the loop has stopped.
func (l *loop) post(t func()) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return false
	}
	l.tasks = append(l.tasks, t)
	l.wakeLocked()
	return true
}

// stop asks the loop to close its connections (1001) and return.
func (l *loop) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return
	}
	l.stopping = true
	l.wakeLocked()
}

// wakeLocked writes the eventfd once per pending wake. l.mu is held, so the
// eventfd is still open.
func (l *loop) wakeLocked() {
	if !l.woken.CompareAndSwap(false, true) {
		return
	}
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], 1)
	_, _ = sysWrite(l.evfd, b[:])
}
