package load

import (
	"context"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The write floor: what one write(2) per delivered message costs on this
// machine, with nothing else around it. A relay that sends each delivery
// with its own write can never spend less CPU per message than this; on
// loopback the kernel also charges the receiver's TCP processing and its
// wake-up to the writer, so the floor is much higher than on a real NIC.
// The report sets the servers' CPU per message against it.

// FloorConfig shapes the floor measurement like the fanout fixed load.
type FloorConfig struct {
	Conns         int           // receiving sockets (default 800)
	LobbySize     int           // one message is written to LobbySize-1 sockets (default 8)
	RatePerPlayer float64       // messages/s per socket (default 5)
	FrameBytes    int           // bytes per write (default 128: about lobbyd's lobby.data frame for a 64-byte payload)
	Warm          time.Duration // not measured (default 500ms)
	Measure       time.Duration // default 2s
}

func (c *FloorConfig) defaults() {
	if c.Conns <= 0 {
		c.Conns = 800
	}
	if c.LobbySize < 2 {
		c.LobbySize = 8
	}
	if c.RatePerPlayer <= 0 {
		c.RatePerPlayer = 5
	}
	if c.FrameBytes <= 0 {
		c.FrameBytes = 128
	}
	if c.Warm <= 0 {
		c.Warm = 500 * time.Millisecond
	}
	if c.Measure <= 0 {
		c.Measure = 2 * time.Second
	}
}

// FloorResult is the writer thread's CPU per million writes.
type FloorResult struct {
	Writes        float64 // writes/s during the window
	CPUPerMillion float64 // writer thread CPU seconds per 1M writes
	// Run is the compare run it was measured in (1-based), so that a
	// server's figure is set against the floor of its own run; 0 in
	// results written before it was recorded.
	Run int `json:",omitempty"`
}

// WriteFloor opens cfg.Conns loopback TCP connections, drains their far
// ends with one goroutine each (as the load generator's clients do), and
// from one locked thread writes a frame per delivery at the fixed load's
// rate and burst shape: every message goes to LobbySize-1 sockets in a row.
// The writer's CPU comes from getrusage(RUSAGE_THREAD), so the readers and
// the pacing ticker are not counted.
func WriteFloor(ctx context.Context, cfg FloorConfig) (FloorResult, error) {
	cfg.defaults()
	socks, err := openFloorSockets(cfg.Conns)
	if err != nil {
		return FloorResult{}, err
	}
	defer socks.close()
	fds := socks.fds

	frame := make([]byte, cfg.FrameBytes)
	fan := cfg.LobbySize - 1
	// Messages/s: as in fanout, every socket's player sends RatePerPlayer
	// and each message is written to fan sockets.
	perSec := cfg.RatePerPlayer * float64(cfg.Conns)
	return onLockedThread(func() (FloorResult, error) {
		tk := time.NewTicker(paceTick)
		defer tk.Stop()
		start := time.Now()
		w := newFloorWindow(start, cfg)
		var sent, next, written int
		for now := range tk.C {
			if ctx.Err() != nil {
				return FloorResult{}, ctx.Err()
			}
			if res, over := w.at(now, written); over {
				return res, nil
			}
			want := int(perSec * now.Sub(start).Seconds())
			for ; sent < want; sent++ {
				for range fan {
					if _, _, errno := unix.RawSyscall(unix.SYS_WRITE, uintptr(fds[next]), uintptr(unsafe.Pointer(&frame[0])), uintptr(len(frame))); errno == 0 {
						written++
					}
					if next++; next == len(fds) {
						next = 0
					}
				}
			}
		}
		return FloorResult{}, ctx.Err()
	})
}

// floorWindow is the measured window of a floor's thread: cfg.Warm after
// start it reads the thread's CPU (getrusage RUSAGE_THREAD) and the writes
// so far, cfg.Measure later it reads them again.
type floorWindow struct {
	warmEnd, end time.Time
	measuring    bool
	t0           time.Time
	w0           int
	ru0          unix.Rusage
}

func newFloorWindow(start time.Time, cfg FloorConfig) *floorWindow {
	return &floorWindow{warmEnd: start.Add(cfg.Warm), end: start.Add(cfg.Warm + cfg.Measure)}
}

// at is called on the floor's thread with the writes made so far; once
// the window is over it reports the result and true.
func (w *floorWindow) at(now time.Time, written int) (FloorResult, bool) {
	if !w.measuring && !now.Before(w.warmEnd) {
		w.measuring, w.t0, w.w0 = true, time.Now(), written
		_ = unix.Getrusage(unix.RUSAGE_THREAD, &w.ru0)
	}
	if now.Before(w.end) {
		return FloorResult{}, false
	}
	var ru1 unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_THREAD, &ru1)
	var res FloorResult
	wall := time.Since(w.t0).Seconds()
	cpu := tv(ru1.Utime) + tv(ru1.Stime) - tv(w.ru0.Utime) - tv(w.ru0.Stime)
	n := float64(written - w.w0)
	res.Writes = n / wall
	if n > 0 {
		res.CPUPerMillion = cpu / n * 1e6
	}
	return res, true
}

func tv(t unix.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
