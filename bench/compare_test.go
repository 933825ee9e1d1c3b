package main

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/lobbyd/lobbyd/bench/internal/load"
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
	// The match ramp must reach the 10,000 tickets/s target, with enough
	// players that one can be back in the queue within the p99 bound.
	if m := full.Match; m.Queue != "duel" || m.Rates[len(m.Rates)-1] < 10000 ||
		float64(m.Players)/10000 < load.MatchP99Limit.Seconds() {
		t.Errorf("full match settings: %+v", m)
	}
	if quick.Match.Measure > time.Second || len(quick.Match.Rates) > 3 {
		t.Errorf("quick match settings too large: %+v", quick.Match)
	}
	if quick.Idle.N > 2000 || quick.Fanout.Measure > time.Second || quick.Churn.Measure > 2*time.Second {
		t.Errorf("quick settings too large: %+v", quick)
	}
	for _, s := range []struct {
		rates []float64
		fixed float64
	}{{full.Fanout.Rates, full.Fanout.FixedRate}, {quick.Fanout.Rates, quick.Fanout.FixedRate},
		{full.Match.Rates, full.Match.FixedRate}, {quick.Match.Rates, quick.Match.FixedRate}} {
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

func TestParseCluster(t *testing.T) {
	if got, err := parseCluster(""); err != nil || got != nil {
		t.Errorf("empty: %v, %v", got, err)
	}
	if got, err := parseCluster("lobbyd, socketio,centrifuge"); err != nil || len(got) != 3 {
		t.Errorf("all: %v, %v", got, err)
	}
	// gorilla and Colyseus have no Redis scale-out in the bench.
	for _, bad := range []string{"gorilla", "lobbyd,colyseus"} {
		if _, err := parseCluster(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// The cluster workload's ramp must rise through its fixed rate, and stay
// small in a quick run.
func TestClusterSettings(t *testing.T) {
	full, quick := settings(false, 10000), settings(true, 10000)
	for _, c := range []load.FanoutConfig{full.Cluster, quick.Cluster} {
		found := false
		for i, r := range c.Rates {
			found = found || r == c.FixedRate
			if i > 0 && r <= c.Rates[i-1] {
				t.Errorf("cluster rates not rising: %v", c.Rates)
			}
		}
		if !found || c.LobbySize != 8 || !c.NoInStep || c.Conns%16 != 0 {
			t.Errorf("cluster settings: %+v", c)
		}
	}
	if len(quick.Cluster.Rates) > 1 || quick.Cluster.Measure > time.Second {
		t.Errorf("quick cluster settings too large: %+v", quick.Cluster)
	}
}

// After a round the fastest servers go first, so that a bound that ends
// the runs early cuts the slowest server's run; one not yet run leads.
func TestRoundOrder(t *testing.T) {
	took := map[string]time.Duration{"lobbyd": 60 * time.Second, "colyseus": 210 * time.Second, "gorilla": 30 * time.Second, "socketio": 40 * time.Second}
	got := roundOrder([]string{"gorilla", "socketio", "colyseus", "lobbyd", "centrifuge"}, took)
	want := []string{"lobbyd", "centrifuge", "gorilla", "socketio", "colyseus"}
	if !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	if got := roundOrder([]string{"gorilla", "lobbyd", "socketio"}, nil); !slices.Equal(got, []string{"lobbyd", "gorilla", "socketio"}) {
		t.Fatalf("first round: %v", got)
	}
}

// The rounds: lobbyd first, its floors just before it (at the round's
// start without lobbyd), the peers fastest first from the second round,
// and a turn that would not fit in the time left not started. Turns take
// minutes of a clock of the test's own.
func TestRounds(t *testing.T) {
	start := time.Now()
	clock := start
	var got []string
	cost := map[string]time.Duration{"lobbyd": 20 * time.Minute, "gorilla": 10 * time.Minute, "colyseus": 150 * time.Minute, "socketio": 5 * time.Minute}
	r := rounds{runs: 3, servers: []string{"gorilla", "colyseus", "lobbyd", "socketio"}, logf: t.Logf,
		floors: func(i int) { got = append(got, fmt.Sprint("floors", i)) },
		turn: func(i int, k string) {
			got = append(got, fmt.Sprint(k, i))
			clock = clock.Add(cost[k])
		},
		now: func() time.Time { return clock },
	}
	// Rounds 1 and 2 take 185 minutes each: round 3 has 130 left, enough
	// for all but colyseus (150).
	ctx, cancel := context.WithDeadline(context.Background(), start.Add(500*time.Minute))
	defer cancel()
	r.run(ctx)
	want := []string{
		"floors1", "lobbyd1", "gorilla1", "colyseus1", "socketio1",
		"floors2", "lobbyd2", "socketio2", "gorilla2", "colyseus2",
		"floors3", "lobbyd3", "socketio3", "gorilla3",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("turns\n%v\nwant\n%v", got, want)
	}

	got = nil
	r.servers, r.runs = []string{"gorilla"}, 2
	r.run(context.Background())
	if want := []string{"floors1", "gorilla1", "floors2", "gorilla2"}; !slices.Equal(got, want) {
		t.Fatalf("without lobbyd: %v, want %v", got, want)
	}
}
