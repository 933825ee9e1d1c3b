package load

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lobbyd/lobbyd/bench/internal/stats"
)

// ChurnConfig bounds the churn workload.
type ChurnConfig struct {
	Groups    int           // concurrent groups (default 64)
	GroupSize int           // players per group (default 4)
	Warm      time.Duration // not measured (default 500ms)
	Measure   time.Duration // default 4s
}

func (c *ChurnConfig) defaults() {
	if c.Groups <= 0 {
		c.Groups = 64
	}
	if c.GroupSize < 2 {
		c.GroupSize = 4
	}
	if c.Warm <= 0 {
		c.Warm = 500 * time.Millisecond
	}
	if c.Measure <= 0 {
		c.Measure = 4 * time.Second
	}
}

// ChurnResult is the rate of lobby membership operations.
type ChurnResult struct {
	OpsPerSec     float64 // create + join + leave replies per second
	LobbiesPerSec float64 // complete create → join… → leave… cycles per second
	P50, P99      time.Duration
	CPU           CPU
	ClientLimited bool
}

// Churn runs closed-loop groups: one player creates a lobby, the others join
// it, then all leave (the last leave deletes it), again and again.
func Churn(ctx context.Context, t *Target, cfg ChurnConfig) (ChurnResult, error) {
	cfg.defaults()
	var res ChurnResult
	setupCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	n := cfg.Groups * cfg.GroupSize
	t.logf("churn: connecting %d players", n)
	conns, err := dialAll(setupCtx, t, n, "churn", nil)
	if err != nil {
		return res, fmt.Errorf("churn: %w", err)
	}
	defer closeAll(conns)

	var hist stats.Hist
	var ops, cycles atomic.Uint64
	runCtx, stop := context.WithTimeout(ctx, cfg.Warm+cfg.Measure+30*time.Second)
	defer stop()
	var wg sync.WaitGroup
	var firstErr atomic.Value
	timed := func(f func() error) error {
		t0 := time.Now()
		err := f()
		if err == nil {
			hist.Record(time.Since(t0))
			ops.Add(1)
		}
		return err
	}
	for g := range cfg.Groups {
		members := conns[g*cfg.GroupSize : (g+1)*cfg.GroupSize]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; runCtx.Err() == nil; i++ {
				var id string
				err := timed(func() (err error) {
					id, err = members[0].Create(runCtx, fmt.Sprintf("churn %d", i), cfg.GroupSize)
					return err
				})
				for _, m := range members[1:] {
					if err == nil {
						err = timed(func() error { return m.Join(runCtx, id) })
					}
				}
				for k := len(members) - 1; k >= 0 && err == nil; k-- {
					err = timed(func() error { return members[k].Leave(runCtx) })
				}
				if err != nil {
					if runCtx.Err() == nil {
						firstErr.CompareAndSwap(nil, fmt.Errorf("churn: %w", err))
						stop()
					}
					return
				}
				cycles.Add(1)
			}
		}()
	}
	time.Sleep(cfg.Warm)
	hist.Reset()
	o0, c0, u0 := ops.Load(), cycles.Load(), t.usageNow()
	select {
	case <-time.After(cfg.Measure):
	case <-runCtx.Done():
	}
	o1, c1, u1 := ops.Load(), cycles.Load(), t.usageNow()
	res.P50, res.P99 = hist.Quantile(0.5), hist.Quantile(0.99)
	stop()
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return res, err
	}
	wall := u1.at.Sub(u0.at).Seconds()
	res.OpsPerSec = float64(o1-o0) / wall
	res.LobbiesPerSec = float64(c1-c0) / wall
	res.CPU = cpuSince(u0, u1)
	res.ClientLimited = res.CPU.MachineBound()
	t.logf("churn: %.0f ops/s, %.0f lobbies/s, p99 %s, server %.2f cores, client %.2f cores",
		res.OpsPerSec, res.LobbiesPerSec, res.P99, res.CPU.Server, res.CPU.Client)
	return res, nil
}
