package budget

import (
	"context"
	"math"
	"runtime/debug"
	"testing"
	"time"
)

func TestMarks(t *testing.T) {
	b := New(16 << 20)
	if b.High() != 14<<20 || b.Low() != 12<<20 {
		t.Fatalf("high %d low %d", b.High(), b.Low())
	}
	if !b.TryCharge(15 << 20) {
		t.Fatal("refused a charge up to 15/16")
	}
	select {
	case <-b.Pressure():
	default:
		t.Fatal("no pressure above High")
	}
	if b.TryCharge(1) {
		t.Fatal("TryCharge passed 15/16 of the limit")
	}
	b.Charge(2 << 20) // forced: may pass even the limit
	if b.Used() != 17<<20 || b.Peak() != 17<<20 {
		t.Fatalf("used %d peak %d", b.Used(), b.Peak())
	}
	b.Release(17 << 20)
	if b.Used() != 0 || b.Peak() != 17<<20 {
		t.Fatalf("after release: used %d peak %d", b.Used(), b.Peak())
	}
	var none *Budget
	if !none.TryCharge(1<<40) || none.Used() != 0 || none.Pressure() != nil {
		t.Fatal("a nil budget is not unlimited")
	}
}

func TestMachineDefault(t *testing.T) {
	d := MachineDefault()
	if d < MinLimit {
		t.Fatalf("default %d under MinLimit", d)
	}
	if ram, ok := physicalRAM(); ok && d > ram/4 {
		t.Fatalf("default %d over a quarter of RAM (%d)", d, ram)
	}
	if lim, ok := cgroupLimit(); ok && d > max(lim/4, MinLimit) {
		t.Fatalf("default %d over a quarter of the cgroup limit (%d)", d, lim)
	}
}

// TestGoLimitFollowsTheBudget: the soft memory limit is the budget plus
// the live heap outside it plus GoLimitBase, so charged bytes do not count
// twice and a nil budget sets no limit.
func TestGoLimitFollowsTheBudget(t *testing.T) {
	b := New(32 << 20)
	if got, want := b.GoLimit(10<<20), int64(32<<20+10<<20+GoLimitBase); got != want {
		t.Fatalf("GoLimit(10 MiB live, 0 charged) = %d, want %d", got, want)
	}
	b.Charge(8 << 20)
	if got, want := b.GoLimit(10<<20), int64(32<<20+2<<20+GoLimitBase); got != want {
		t.Fatalf("GoLimit(10 MiB live, 8 MiB charged) = %d, want %d", got, want)
	}
	if got, want := b.GoLimit(1<<20), int64(32<<20+GoLimitBase); got != want {
		t.Fatalf("GoLimit(live under charged) = %d, want %d", got, want)
	}
	var nilBudget *Budget
	if nilBudget.GoLimit(1<<30) != math.MaxInt64 {
		t.Fatal("a nil budget limits the heap")
	}
}

// TestFollowGoLimitSetsAndRestores: while it runs the runtime's limit is
// the budget's; after, the limit found before is back.
func TestFollowGoLimitSetsAndRestores(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	b := New(32 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.FollowGoLimit(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for debug.SetMemoryLimit(-1) == before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := debug.SetMemoryLimit(-1); got < 32<<20 || got > 32<<20+GoLimitBase+1<<30 {
		t.Fatalf("limit while following: %d", got)
	}
	cancel()
	<-done
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Fatalf("limit after: %d, want %d restored", got, before)
	}
}
