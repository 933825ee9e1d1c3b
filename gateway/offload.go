package gateway

import (
	"sync"
	"sync/atomic"
	"time"
)

// offloader runs the requests that may wait on a remote store (Redis) away
// from the epoll loops, so that a slow Redis delays those requests and never
// the pings, heartbeats and relays of other sockets on the same loop.
//
// Each connection's jobs run one at a time and in arrival order (a join
// must finish before the chat sent after it), on a bounded pool of workers:
// no goroutine per connection. A few workers are resident; the others are
// started when work waits for a worker and end after a second without any,
// so the stacks a burst grew (the Redis client's calls are deep: 16 KiB a
// worker after 10,000 connects, 4 MiB a shard) do not stay with an idle
// shard (docs/architecture.md, "Memory per idle player"). A connection with jobs is queued on work once;
// the worker that takes it runs its jobs until none are left. Everything is
// bounded: jobs per connection (over it: unavailable), connections waiting
// for a worker (over it: unavailable), and the time a job may wait before it
// runs (past it: unavailable, without running it, so a refused request has
// no effect).
//
// With the in-memory store there is no offloader: every request is
// microseconds of work and runs on its loop.
type offloader struct {
	work       chan *connState
	maxJobs    int           // per connection
	maxWait    time.Duration // queued longer than this: unavailable
	stop       chan struct{}
	wg         sync.WaitGroup
	jobBufPool sync.Pool // *job

	// Set by start, read-only after.
	run  func(cs *connState, j *job)
	max  int32         // workers at most
	idle time.Duration // a worker beyond the resident ones ends after this without work

	workers atomic.Int32 // running

	spawnMu sync.Mutex
	closed  bool // guarded by spawnMu: no worker starts after close
}

// job is one unit of a connection's serial work: a request (msg), or the
// connection's open or close.
type job struct {
	kind jobKind
	msg  []byte // a copy of the request; the loop's buffer is reused
	at   time.Time
}

type jobKind uint8

const (
	jobRequest jobKind = iota
	jobOpen
	jobClose
	// jobConfirm has the directory forget the resume token the session's
	// last resume spent (Session.confirmResumeLocked); msg is the current
	// token.
	jobConfirm
)

// connJobs is the offload state of one connection (in connState), there
// only while the connection has jobs: the worker that runs the last of
// them lets it go (done), and the loop's next add makes a new one. Every
// connection of a cluster has a job at its open, and an idle player kept
// its emptied connJobs, 48 bytes (docs/architecture.md, "Memory per idle
// player").
type connJobs struct {
	mu      sync.Mutex
	queue   []*job // guarded by mu
	running bool   // guarded by mu: on work or being run by a worker
	done    bool   // guarded by mu: let go (no longer cs.jobs); add makes another
}

func newOffloader(queued, maxJobs int, maxWait time.Duration) *offloader {
	o := &offloader{
		work:    make(chan *connState, queued),
		maxJobs: maxJobs,
		maxWait: maxWait,
		stop:    make(chan struct{}),
	}
	o.jobBufPool.New = func() any { return new(job) }
	return o
}

// start runs the resident workers and lets up to max run when work
// waits; run handles one job of one connection.
func (o *offloader) start(resident, max int, idle time.Duration, run func(cs *connState, j *job)) {
	o.run, o.max, o.idle = run, int32(max), idle
	for range min(resident, max) {
		o.workers.Add(1)
		o.spawn(true)
	}
}

// spawn starts a worker counted in o.workers already (and uncounts it if
// the offloader is closed).
func (o *offloader) spawn(resident bool) {
	o.spawnMu.Lock()
	if o.closed {
		o.spawnMu.Unlock()
		o.workers.Add(-1)
		return
	}
	o.wg.Add(1)
	o.spawnMu.Unlock()
	go o.worker(resident)
}

func (o *offloader) worker(resident bool) {
	defer o.wg.Done()
	var t *time.Timer
	var idle <-chan time.Time // a resident worker's never fires
	if !resident {
		t = time.NewTimer(o.idle)
		defer t.Stop()
		idle = t.C
	}
	for {
		select {
		case <-o.stop:
			return
		case cs := <-o.work:
			o.drain(cs, o.run)
			if t != nil {
				t.Reset(o.idle)
			}
		case <-idle:
			o.workers.Add(-1)
			o.more() // what came in meanwhile must not wait for nobody
			return
		}
	}
}

// more starts a worker if work waits for one and fewer than max run.
func (o *offloader) more() {
	for len(o.work) > 0 {
		n := o.workers.Load()
		if n >= o.max {
			return
		}
		if o.workers.CompareAndSwap(n, n+1) {
			o.spawn(false)
			return
		}
	}
}

// close stops the workers after the jobs they are running.
func (o *offloader) close() {
	o.spawnMu.Lock()
	o.closed = true
	o.spawnMu.Unlock()
	close(o.stop)
	o.wg.Wait()
}

// pending reports whether cs has jobs queued or running: then a request
// that could run on the loop must queue behind them to keep its order.
func (o *offloader) pending(cs *connState) bool {
	q := cs.jobs.Load()
	if q == nil {
		return false // no job since the last ones ran
	}
	q.mu.Lock()
	p := q.running
	q.mu.Unlock()
	return p
}

// add queues a job for cs. It reports false when the connection already has
// maxJobs queued or no worker queue slot is free: the caller refuses the
// request with unavailable. Open and close jobs are always taken (they are
// one per connection).
func (o *offloader) add(cs *connState, kind jobKind, msg []byte) bool {
	j := o.jobBufPool.Get().(*job)
	j.kind, j.at = kind, time.Now()
	j.msg = append(j.msg[:0], msg...)

	// Only the loop adds jobs and makes a connJobs; a worker only lets
	// one go, under its lock, once it has run its last job. A connJobs
	// found done is no longer cs.jobs (nil since): make another.
	q := cs.jobs.Load()
	for {
		if q == nil {
			q = new(connJobs)
			cs.jobs.Store(q)
		}
		q.mu.Lock()
		if !q.done {
			break
		}
		q.mu.Unlock()
		q = nil
	}
	if kind == jobRequest && len(q.queue) >= o.maxJobs {
		q.mu.Unlock()
		o.jobBufPool.Put(j)
		return false
	}
	q.queue = append(q.queue, j)
	if q.running {
		q.mu.Unlock()
		return true
	}
	q.running = true
	q.mu.Unlock()

	select {
	case o.work <- cs:
		o.more()
		return true
	default:
	}
	if kind != jobRequest {
		// Open and close must run; wait for a slot rather than lose them.
		// The bound on connections keeps this wait short in practice.
		select {
		case o.work <- cs:
			o.more()
			return true
		case <-o.stop:
		}
	}
	// running was false before our append, so ours is the only job: take
	// it back and refuse.
	q.mu.Lock()
	q.queue = q.queue[:0]
	q.running = false
	q.mu.Unlock()
	o.jobBufPool.Put(j)
	return false
}

// drain runs cs's jobs in order until none is left.
func (o *offloader) drain(cs *connState, run func(cs *connState, j *job)) {
	q := cs.jobs.Load() // running: cs.jobs until this lets it go
	for {
		q.mu.Lock()
		if len(q.queue) == 0 {
			// An idle connection keeps neither the emptied queue's
			// array nor the connJobs: the loop's next add makes one.
			q.queue, q.running, q.done = nil, false, true
			cs.jobs.CompareAndSwap(q, nil)
			q.mu.Unlock()
			return
		}
		j := q.queue[0]
		q.queue[0] = nil
		q.queue = q.queue[1:]
		q.mu.Unlock()
		run(cs, j)
		j.msg = j.msg[:0]
		o.jobBufPool.Put(j)
	}
}

// late reports whether j waited too long to be run at all.
func (o *offloader) late(j *job, now time.Time) bool {
	return j.kind == jobRequest && now.Sub(j.at) > o.maxWait
}
