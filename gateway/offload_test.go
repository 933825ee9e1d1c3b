package gateway

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Workers beyond the resident ones start when work waits and end when it
// is done, so that a burst's grown stacks leave with them; every job runs.
func TestOffloaderWorkersFollowTheWork(t *testing.T) {
	o := newOffloader(64, 8, time.Minute)
	var running, peak, done atomic.Int32
	release := make(chan struct{})
	o.start(1, 4, 20*time.Millisecond, func(cs *connState, j *job) {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		<-release
		running.Add(-1)
		done.Add(1)
	})
	defer o.close()
	eventually := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal(what)
			}
		}
	}
	conns := make([]*connState, 6)
	for i := range conns {
		conns[i] = &connState{}
		if !o.add(conns[i], jobRequest, nil) {
			t.Fatalf("job %d refused", i)
		}
	}
	eventually("4 workers at once", func() bool { return running.Load() == 4 })
	if n := o.workers.Load(); n != 4 {
		t.Fatalf("%d workers, want the 4 at most", n)
	}
	close(release)
	eventually("every job run", func() bool { return done.Load() == 6 })
	eventually("back to the resident worker", func() bool { return o.workers.Load() == 1 })
	if p := peak.Load(); p != 4 {
		t.Fatalf("at most %d jobs ran at once, want 4", p)
	}
	// The resident worker still takes work.
	if !o.add(conns[0], jobRequest, nil) {
		t.Fatal("job refused")
	}
	eventually("a job after the burst", func() bool { return done.Load() == 7 })
}

// A connection keeps no offload state once its jobs have run, takes jobs
// again after, and they run in the order added.
func TestOffloaderLetsGoOfAnEmptiedQueue(t *testing.T) {
	o := newOffloader(64, 64, time.Minute)
	var mu sync.Mutex
	var ran []byte
	o.start(1, 2, time.Second, func(cs *connState, j *job) {
		mu.Lock()
		ran = append(ran, j.msg...)
		mu.Unlock()
	})
	defer o.close()
	cs := &connState{}
	eventually := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal(what)
			}
		}
	}
	var want []byte
	for round := range 50 {
		for i := range 3 {
			b := byte(round*3 + i)
			want = append(want, b)
			if !o.add(cs, jobRequest, []byte{b}) {
				t.Fatalf("job %d refused", b)
			}
		}
		eventually("the queue let go", func() bool { return cs.jobs.Load() == nil })
		if o.pending(cs) {
			t.Fatal("pending with no job")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if string(ran) != string(want) {
		t.Fatalf("ran %v, want %v", ran, want)
	}
}
