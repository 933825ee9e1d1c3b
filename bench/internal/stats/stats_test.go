package stats

import (
	"math"
	"testing"
	"time"
)

func TestBucketsRoundTrip(t *testing.T) {
	for _, us := range []uint64{0, 1, 63, 64, 65, 127, 128, 1000, 4095, 50_000, 1 << 30, 1 << 35} {
		i := bucketOf(us)
		lo := lowOf(i)
		hi := lowOf(i+1) - 1
		if us < lo || us > hi {
			t.Errorf("us %d: bucket %d is [%d,%d]", us, i, lo, hi)
		}
		if us >= subBuckets && float64(hi-lo)/float64(lo) > 1.0/32 {
			t.Errorf("us %d: bucket [%d,%d] too wide", us, lo, hi)
		}
	}
}

func TestQuantile(t *testing.T) {
	var h Hist
	if h.Quantile(0.5) != 0 {
		t.Fatal("empty histogram has a quantile")
	}
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	h.Record(-time.Second) // counts as zero
	tests := []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, 1000 * time.Millisecond}}
	for _, tc := range tests {
		got := h.Quantile(tc.q)
		if math.Abs(float64(got-tc.want))/float64(tc.want) > 0.02 {
			t.Errorf("q%.2f = %s, want about %s", tc.q, got, tc.want)
		}
	}
	if h.Count() != 1001 {
		t.Fatalf("count %d", h.Count())
	}
	h.Reset()
	if h.Count() != 0 || h.Quantile(0.99) != 0 {
		t.Fatal("reset left values")
	}
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		in   []float64
		want Summary
	}{
		{nil, Summary{}},
		{[]float64{3}, Summary{3, 3, 3, 1}},
		{[]float64{5, 1, 3}, Summary{3, 1, 5, 3}},
		{[]float64{4, 1, 3, 2}, Summary{2.5, 1, 4, 4}},
	}
	for _, tc := range tests {
		if got := Summarize(tc.in); got != tc.want {
			t.Errorf("Summarize(%v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func BenchmarkRecord(b *testing.B) {
	var h Hist
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.Record(1234 * time.Microsecond)
		}
	})
}
