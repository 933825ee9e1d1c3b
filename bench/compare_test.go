package main

import (
	"testing"
	"time"
)

func TestParseServers(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"lobbyd,gorilla,socketio", 3, true},
		{" gorilla , socketio", 2, true},
		{"lobbyd,nginx", 0, false},
		{"", 0, false},
	}
	for _, tc := range tests {
		got, err := parseServers(tc.in)
		if (err == nil) != tc.ok || len(got) != tc.want {
			t.Errorf("parseServers(%q) = %v, %v", tc.in, got, err)
		}
	}
}

// The quick settings must stay a smoke run, the full ones must keep the
// sizes RESULTS.md promises.
func TestSettings(t *testing.T) {
	full, quick := settings(false, 10000), settings(true, 10000)
	if full.Idle.N != 10000 || full.Fanout.Conns != 800 || full.Fanout.LobbySize != 8 || full.Idle.LobbySize != 8 {
		t.Errorf("full settings: %+v", full)
	}
	if quick.Idle.N > 2000 || quick.Fanout.Measure > time.Second || quick.Churn.Measure > 2*time.Second {
		t.Errorf("quick settings too large: %+v", quick)
	}
	for _, s := range []struct {
		rates []float64
		fixed float64
	}{{full.Fanout.Rates, full.Fanout.FixedRate}, {quick.Fanout.Rates, quick.Fanout.FixedRate}} {
		found := false
		for i, r := range s.rates {
			found = found || r == s.fixed
			if i > 0 && r <= s.rates[i-1] {
				t.Errorf("rates not rising: %v", s.rates)
			}
		}
		if !found {
			t.Errorf("fixed rate %g not on the ramp %v", s.fixed, s.rates)
		}
	}
}
