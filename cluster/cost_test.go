package cluster

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
)

// costCounter is a go-redis hook that counts what a client sends: commands
// and round trips (a pipeline is one). Benchmarks report them per op, the
// figures docs/cluster.md's cost table states.
type costCounter struct {
	cmds, trips atomic.Int64
	paused      atomic.Bool // set around a benchmark's setup steps
}

func (c *costCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *costCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !c.paused.Load() {
			c.cmds.Add(1)
			c.trips.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (c *costCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !c.paused.Load() {
			c.cmds.Add(int64(len(cmds)))
			c.trips.Add(1)
		}
		return next(ctx, cmds)
	}
}

// counted adds a costCounter to rdb and returns it.
func counted(rdb *redis.Client) *costCounter {
	c := &costCounter{}
	rdb.AddHook(c)
	return c
}

// report puts the counts since the last reset per op into b's output and
// resets them.
func (c *costCounter) report(b *testing.B) {
	n := float64(b.N)
	b.ReportMetric(float64(c.cmds.Load())/n, "redis-cmds/op")
	b.ReportMetric(float64(c.trips.Load())/n, "round-trips/op")
}

func (c *costCounter) reset() {
	c.cmds.Store(0)
	c.trips.Store(0)
}
