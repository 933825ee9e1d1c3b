package soak

import (
	"context"
	"fmt"
	"time"

	"github.com/lobbyd/lobbyd/bench/internal/proc"
)

// Sample is the server's state at one moment of the run.
type Sample struct {
	At         time.Duration `json:"at_ns"`
	RSSBytes   int64         `json:"rss_bytes"`
	HeapBytes  int64         `json:"heap_inuse_bytes"`
	Goroutines int           `json:"goroutines"`
	FDs        int           `json:"fds"`
	EventsPerS float64       `json:"events_per_s"` // numbered events received by the soak's clients since the last sample
	Errors     int64         `json:"errors"`       // so far
	// PerShard, in a cluster, is each shard's own figures; the four above
	// are their sums (what the cluster holds in all).
	PerShard []ShardSample `json:"per_shard,omitempty"`
}

// ShardSample is one shard process's figures in a Sample.
type ShardSample struct {
	Shard      string `json:"shard"`
	RSSBytes   int64  `json:"rss_bytes"`
	HeapBytes  int64  `json:"heap_inuse_bytes"`
	Goroutines int    `json:"goroutines"`
	FDs        int    `json:"fds"`
}

// sampleShard reads one shard's /proc and /metrics.
func (r *runner) sampleShard(sh Shard) ShardSample {
	out := ShardSample{Shard: sh.Name}
	if st, err := proc.ReadStatus(sh.PID); err == nil {
		out.RSSBytes = st.RSSBytes
	}
	out.FDs, _ = proc.FDs(sh.PID)
	if sh.MetricsURL != "" {
		mctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if v, err := proc.Gauges(mctx, r.hc, sh.MetricsURL, sh.MetricsToken, "go_goroutines", "go_memstats_heap_inuse_bytes"); err == nil {
			out.Goroutines, out.HeapBytes = int(v[0]), int64(v[1])
		} else {
			r.c.fail("metrics", fmt.Errorf("shard %s: %w", sh.Name, err))
		}
	}
	return out
}

// sampleLoop samples at start and every cfg.Sample until ctx ends, then
// once more.
func (r *runner) sampleLoop(ctx context.Context) []Sample {
	start := time.Now()
	var out []Sample
	lastEvents, lastAt := int64(0), start
	take := func() {
		now := time.Now()
		s := Sample{At: now.Sub(start), Errors: r.c.errors.Load()}
		ev := r.c.events.Load()
		if dt := now.Sub(lastAt).Seconds(); dt > 0 && len(out) > 0 {
			s.EventsPerS = float64(ev-lastEvents) / dt
		}
		lastEvents, lastAt = ev, now
		for _, sh := range r.cfg.Shards {
			x := r.sampleShard(sh)
			s.RSSBytes += x.RSSBytes
			s.HeapBytes += x.HeapBytes
			s.Goroutines += x.Goroutines
			s.FDs += x.FDs
			if len(r.cfg.Shards) > 1 {
				s.PerShard = append(s.PerShard, x)
			}
		}
		out = append(out, s)
		r.cfg.Logf("soak %5.0fs: rss %.1f MiB, heap %.1f MiB, goroutines %d, fds %d, %.0f events/s, %d errors",
			s.At.Seconds(), mib(s.RSSBytes), mib(s.HeapBytes), s.Goroutines, s.FDs, s.EventsPerS, s.Errors)
	}
	take()
	t := time.NewTicker(r.cfg.Sample)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			take()
			return out
		case <-t.C:
			take()
		}
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
