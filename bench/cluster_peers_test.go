package main

import (
	"context"
	"testing"
	"time"

	"github.com/lobbyd/lobbyd/bench/internal/harness"
	"github.com/lobbyd/lobbyd/bench/internal/load"
)

// TestClusterPeers runs the cluster workload at a tiny size against every
// system with a cluster mode: two nodes of each on a private redis-server
// (which must be installed: .ci/run installs it), every lobby split over
// the nodes, so every delivery crosses Redis.
func TestClusterPeers(t *testing.T) {
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	env := &harness.Env{Root: root, Tmp: t.TempDir(), Logf: t.Logf, MaxConns: 1000}
	// Three builds (go build twice, npm ci) and six starts: generous on a
	// loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	prepared := map[string]*harness.Prepared{}
	for _, k := range ClusterKinds {
		p, err := harness.Prepare(ctx, env, k)
		if err != nil {
			t.Fatal(err)
		}
		prepared[k] = p
	}
	fan := load.FanoutConfig{Conns: 16, LobbySize: 8, Rates: []float64{10}, FixedRate: 10,
		Warm: 100 * time.Millisecond, Measure: 500 * time.Millisecond, NoInStep: true}
	rows := clusterPeers(ctx, env, prepared, ClusterKinds, fan, t.Logf)
	if len(rows) != len(ClusterKinds) {
		t.Fatalf("%d rows for %d systems", len(rows), len(ClusterKinds))
	}
	for _, r := range rows {
		if r.Fanout == nil {
			t.Errorf("%s: %s", r.System, r.Error)
			continue
		}
		// 16 players × 10 msgs/s × 7 recipients = 1120 deliveries/s
		// offered, most of them to the other node, through Redis (how
		// many arrive in the window depends on the machine).
		if f := r.Fanout.Fixed; f.Offered != 1120 || f.Delivered <= 0 || f.P99 <= 0 || f.CPU.BackendCommands == 0 {
			t.Errorf("%s: %+v", r.System, f)
		}
	}
}

// The same-shard comparison's headline is the median of the pairs' ratios,
// each pair read as cluster over memory.
func TestMedianRatio(t *testing.T) {
	pairs := []cpuPair{{mem: 10, cluster: 12}, {mem: 10, cluster: 9}, {mem: 20, cluster: 21}}
	if got := medianRatio(pairs); got < 4.99 || got > 5.01 {
		t.Fatalf("median %v, want +5 (of +20, -10, +5)", got)
	}
	if got := medianRatio(pairs[:2]); got < 4.99 || got > 5.01 {
		t.Fatalf("median of two %v, want +5 (the mean of +20 and -10)", got)
	}
	if got := describePairs(pairs[:1]); got != "10.00 → 12.00 s (+20%)" {
		t.Fatalf("describePairs: %q", got)
	}
}
