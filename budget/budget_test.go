package budget

import "testing"

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
