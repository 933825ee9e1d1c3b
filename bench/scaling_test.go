package main

import (
	"bytes"
	"image/png"
	"strings"
	"testing"
	"time"
)

func TestLinearity(t *testing.T) {
	sizes := []int{1000, 10000, 100000}
	for _, tc := range []struct {
		per  []float64
		want string
	}{
		{[]float64{100, 110, 120}, "linear: per unit within 20% from 1000 to 100000"},
		{[]float64{10, 11, 40}, "faster than linear: per unit ×4.00 from 1000 to 100000; bends between 10000 and 100000 (×3.64)"},
		{[]float64{4000, 2000, 1900}, "slower than linear (a fixed cost spread over more units): per unit ×0.47 from 1000 to 100000; bends between 1000 and 10000 (×2.00)"},
		{[]float64{0, 1, 2}, "not measurable"},
	} {
		if got := linearity(sizes, tc.per); !strings.HasPrefix(got, tc.want) {
			t.Errorf("linearity(%v) = %q, want %q", tc.per, got, tc.want)
		}
	}
	if got := linearity([]int{5}, []float64{1}); got != "one size only" {
		t.Errorf("one size: %q", got)
	}
}

func TestParsePasses(t *testing.T) {
	out := []byte("goos: linux\nBenchmarkMatchDuelScaling/10000-2         \t       1\t  84896186 ns/op\t 1365448 B/op\t      22 allocs/op\n" +
		"BenchmarkMatchDuelScaling/1000000         \t       3\t32626396201 ns/op\nPASS\n")
	ps, err := parsePasses(out)
	if err != nil || len(ps) != 2 || ps[0].Tickets != 10000 || ps[0].Pass != 84896186*time.Nanosecond || ps[1].Tickets != 1000000 {
		t.Fatalf("parsePasses: %+v, %v", ps, err)
	}
	if _, err := parsePasses([]byte("FAIL\n")); err == nil {
		t.Error("no results accepted")
	}
}

func TestParseNs(t *testing.T) {
	if ns, err := parseNs("", 19000); err != nil || len(ns) != 4 || ns[3] != 19000 {
		t.Errorf("default: %v, %v", ns, err)
	}
	if ns, err := parseNs("", 4000); err != nil || len(ns) != 2 || ns[1] != 4000 {
		t.Errorf("default under a low fd limit: %v, %v", ns, err)
	}
	for _, bad := range []string{"1000,500", "0", "x", "20000"} {
		if _, err := parseNs(bad, 19000); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// The chart is a PNG with a panel per figure.
func TestScalingChart(t *testing.T) {
	players := []playerScale{{N: 1000, BytesPerPlayer: 2500, ConnectCPU: 0.5, IdleCPU: 3}, {N: 10000, BytesPerPlayer: 2400, ConnectCPU: 0.4, IdleCPU: 2}}
	passes := []passScale{{Tickets: 10000, Pass: 80 * time.Millisecond}, {Tickets: 100000, Pass: time.Second}}
	var b bytes.Buffer
	if err := scalingChart(&b, players, passes); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&b)
	if err != nil {
		t.Fatal(err)
	}
	if w, h := img.Bounds().Dx(), img.Bounds().Dy(); w <= h {
		t.Errorf("chart %dx%d: want four panels side by side", w, h)
	}
}
