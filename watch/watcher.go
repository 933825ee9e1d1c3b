package watch

import (
	"bufio"
	"sync"
	"time"
)

// Watcher states.
const (
	stateLive     = iota
	stateOverflow // ends with event: overflow
	stateEnded    // ends without a word (drain, close, rebuild)
)

// Watcher is one live lobby list stream.
type Watcher struct {
	h *Hub
	g *group

	// Guarded by h.mu: the lobbies this watcher was sent and still shows,
	// and those that matched, unsent, when its page was read while a
	// change of theirs waited for a round (value: the round number then).
	sent map[string]struct{}
	skip map[string]uint64

	// Guarded by mu (a leaf).
	mu     sync.Mutex
	queue  [][]byte // frames to write, shared with other watchers: never modified
	queued int      // bytes in queue
	state  int

	wake  chan struct{} // capacity 1: something to write, or the end
	spare [][]byte      // owned by Stream: the queue's other buffer
}

func (w *Watcher) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// End ends the stream without a word (its client went away); Stream
// returns soon after. Idempotent.
func (w *Watcher) End() { w.end() }

// end ends the stream without a word (drain).
func (w *Watcher) end() {
	w.h.mu.Lock()
	w.h.endLocked(w, stateEnded)
	w.h.mu.Unlock()
}

// Close ends a watcher whose Stream will not run.
func (w *Watcher) Close() {
	w.end()
	w.h.open.Add(-1)
}

// Frames written outside the queue.
var (
	keepAliveFrame = []byte(": keep-alive\n\n")
	overflowFrame  = []byte("event: overflow\ndata: {}\n\n")
)

// Stream writes the watcher's events to bw until the stream ends: drain,
// overflow, the hub's Close, or a write error (the client went away).
// setDeadline bounds each round of writes to the client's connection
// (Options.WriteStall); nil: no bound. Stream runs on the goroutine of
// the HTTP server's stream writer and holds no lock while it writes.
func (w *Watcher) Stream(bw *bufio.Writer, setDeadline func(time.Time) error) {
	h := w.h
	defer func() {
		h.mu.Lock()
		h.detachLocked(w)
		h.mu.Unlock()
		h.open.Add(-1)
	}()
	flush := func() bool {
		if setDeadline != nil {
			_ = setDeadline(time.Now().Add(h.opts.WriteStall))
		}
		return bw.Flush() == nil
	}
	keep := time.NewTimer(h.opts.KeepAlive)
	defer keep.Stop()
	for {
		w.mu.Lock()
		q, state := w.queue, w.state
		w.queue, w.queued = w.spare[:0], 0
		w.mu.Unlock()
		if setDeadline != nil && len(q) > 0 {
			// bw writes through once its buffer is full.
			_ = setDeadline(time.Now().Add(h.opts.WriteStall))
		}
		var err error
		for _, f := range q {
			if _, err = bw.Write(f); err != nil {
				break
			}
		}
		clear(q) // keep no frame alive
		w.spare = q
		if err != nil {
			return
		}
		switch state {
		case stateOverflow:
			bw.Write(overflowFrame)
			flush()
			return
		case stateEnded:
			flush()
			return
		}
		if len(q) > 0 && !flush() {
			return
		}
		select {
		case <-w.wake:
		case <-keep.C:
			bw.Write(keepAliveFrame)
			if !flush() {
				return
			}
			keep.Reset(h.opts.KeepAlive)
		}
	}
}
