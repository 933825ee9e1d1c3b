package load

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

func TestPool(t *testing.T) {
	var n atomic.Int64
	if err := pool(context.Background(), 100, 8, func(_ context.Context, i int) error { n.Add(int64(i)); return nil }); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 4950 {
		t.Fatalf("sum %d, want 4950", n.Load())
	}
	boom := errors.New("boom")
	var ran atomic.Int64
	err := pool(context.Background(), 10000, 4, func(_ context.Context, i int) error {
		ran.Add(1)
		if i == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || ran.Load() >= 10000 {
		t.Fatalf("err %v after %d items; want boom and an early stop", err, ran.Load())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := pool(ctx, 10, 2, func(context.Context, int) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled pool = %v", err)
	}
}

func TestMachineBound(t *testing.T) {
	n := float64(runtime.NumCPU())
	tests := []struct {
		name string
		cpu  CPU
		want bool
	}{
		{"idle machine", CPU{Server: 0.2, Client: 0.1}, false},
		{"server saturates half the machine itself", CPU{Server: n / 2, Client: n / 2}, false},
		{"client takes most of a busy machine", CPU{Server: 0.2 * n, Client: 0.8 * n}, true},
		{"other processes take a busy machine", CPU{Server: 0.1 * n, Client: 0.1 * n, Other: 0.8 * n}, true},
	}
	for _, tc := range tests {
		if got := tc.cpu.MachineBound(); got != tc.want {
			t.Errorf("%s: MachineBound(%+v) = %v", tc.name, tc.cpu, got)
		}
	}
}

func TestRelayFloorReadsAndWritesEachMessage(t *testing.T) {
	cfg := FloorConfig{Conns: 16, RatePerPlayer: 50, Measure: 300 * time.Millisecond, Warm: 50 * time.Millisecond}
	r, err := RelayFloor(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// 16 players at 50 msgs/s, each message written to the 7 others of its
	// lobby: 5,600 writes/s when every message read was relayed. A loaded
	// machine may stall the players for part of the short window (the
	// bound below allows 225 ms of 300), but writes far beyond the offered
	// rate would mean the relay invents messages, and one write in 7 or
	// fewer that it drops them.
	want := cfg.RatePerPlayer * float64(cfg.Conns) * 7
	if r.Writes < want/4 || r.Writes > want*1.5 || r.CPUPerMillion <= 0 {
		t.Fatalf("relay floor %+v: want about %.0f writes/s and the relay's CPU for them", r, want)
	}
}

func TestWriteFloorMeasuresTheWriter(t *testing.T) {
	r, err := WriteFloor(context.Background(), FloorConfig{Conns: 16, Measure: 300 * time.Millisecond, Warm: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// The rate and the CPU per write depend on the machine; what must hold
	// anywhere is that the paced writer wrote to the sockets during the
	// window (a failed write is not counted) and its thread was charged
	// for it.
	if r.Writes <= 0 || r.CPUPerMillion <= 0 {
		t.Fatalf("floor %+v: want writes in the window and the writer's CPU for them", r)
	}
}

// awaitQuiet waits while deliveries still arrive and returns once they stop.
func TestAwaitQuietWaitsForTheBacklog(t *testing.T) {
	var received atomic.Uint64
	stopped := make(chan uint64)
	go func() {
		for range 20 { // a backlog delivered over about 400 ms
			received.Add(1)
			time.Sleep(20 * time.Millisecond)
		}
		stopped <- received.Load()
	}()
	awaitQuiet(context.Background(), &received, 2*time.Second) // 100 times the backlog's gaps
	select {
	case n := <-stopped:
		if got := received.Load(); got != n {
			t.Fatalf("%d received after the backlog's end", got-n)
		}
	default:
		t.Fatalf("returned while deliveries still arrived (%d of 20)", received.Load())
	}
}

// Only a step that failed narrowly on latency alone, every message
// delivered and p99 under twice the bound, is read a second time.
func TestNarrowlyLate(t *testing.T) {
	late := FanoutStep{Sent: 1000, Delivered: 7000, P99: P99Limit + time.Millisecond}
	saturated := late
	saturated.P99 = 5 * P99Limit
	lost := late
	lost.Delivered = 5000
	ok := FanoutStep{Sent: 1000, Delivered: 7000, P99: time.Millisecond, OK: true}
	for _, c := range []struct {
		name string
		st   FanoutStep
		want bool
	}{{"just late, nothing lost", late, true}, {"a saturated server's backlog", saturated, false}, {"late and lost", lost, false},
		{"passed", ok, false}, {"nothing delivered", FanoutStep{Sent: 1000, P99: P99Limit}, false}} {
		if got := narrowlyLate(c.st, 7); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
