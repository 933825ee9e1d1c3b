package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lobbyd/lobbyd/bench/internal/harness"
	"github.com/lobbyd/lobbyd/bench/internal/load"
	"github.com/lobbyd/lobbyd/bench/internal/report"
)

// compareCmd runs every workload against every server, -runs times, and
// writes the report.
func compareCmd(args []string) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "smoke run of about a minute: fewer connections, half-second steps, one run")
	runs := fs.Int("runs", 3, "runs per server (medians and ranges over them; 1..9)")
	servers := fs.String("servers", strings.Join(harness.Kinds, ","), "servers to compare, comma-separated")
	out := fs.String("out", "", "output directory (default <repo>/bench/results)")
	n := fs.Int("n", 10000, "idle connections (and browse lobbies); at most 19000 (fd limit 20000 per process)")
	timeout := fs.Duration("timeout", 15*time.Minute, "bound on the whole comparison")
	cluster := fs.String("cluster", strings.Join(ClusterKinds, ","), "systems for the cluster workload (2 nodes + a private redis-server each), comma-separated; empty: none")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *runs < 1 || *runs > 9 {
		return fmt.Errorf("compare: -runs must be 1..9")
	}
	if *n < 8 || *n > 19000 {
		return fmt.Errorf("compare: -n must be 8..19000")
	}
	runsSet := false
	fs.Visit(func(f *flag.Flag) { runsSet = runsSet || f.Name == "runs" })
	if *quick && !runsSet {
		*runs = 1
	}
	kinds, err := parseServers(*servers)
	if err != nil {
		return err
	}
	root, err := harness.RepoRoot()
	if err != nil {
		return err
	}
	if *out == "" {
		*out = filepath.Join(root, "bench", "results")
	}
	if lim, err := harness.EnsureFDLimit(); err != nil || lim < uint64(*n)+1000 {
		return fmt.Errorf("compare: open-files limit %d too low for -n %d (%v)", lim, *n, err)
	}
	tmp, err := os.MkdirTemp("", "lobbyd-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	ctx, cancel := runContext(*timeout)
	defer cancel()

	logf := stampedLog
	set := settings(*quick, *n)
	res := &report.Results{
		Started:  time.Now(),
		Quick:    *quick,
		Runs:     *runs,
		Command:  "cd bench && go run . " + strings.Join(append([]string{"compare"}, args...), " "),
		Machine:  harness.DescribeMachine(),
		Versions: map[string]string{},
		Skipped:  map[string]string{},
		Settings: set,
	}
	env := &harness.Env{Root: root, Tmp: tmp, Logf: logf, MaxConns: *n + 1000}
	prepared := map[string]*harness.Prepared{}
	for _, k := range kinds {
		p, err := harness.Prepare(ctx, env, k)
		if err != nil {
			logf("%s: not run: %v", k, err)
			res.Skipped[k] = firstLine(err.Error())
			continue
		}
		prepared[k] = p
		res.Versions[k] = p.Version
		res.Servers = append(res.Servers, k)
		if k == harness.Lobbyd {
			res.Lobbyd = p.Config
		}
	}
	if len(prepared) == 0 {
		return fmt.Errorf("compare: no server could be built")
	}
	clusterKinds, err := parseCluster(*cluster)
	if err != nil {
		return err
	}
	for _, k := range clusterKinds {
		if prepared[k] != nil {
			continue
		}
		p, err := harness.Prepare(ctx, env, k)
		if err != nil {
			res.Cluster = append(res.Cluster, report.ClusterRun{System: k, Error: "not built: " + firstLine(err.Error())})
			continue
		}
		prepared[k] = p
	}
	// The client floor is a server of the bench's own, measured per run
	// like the other floors.
	clientFloor, err := harness.Prepare(ctx, env, harness.WSFloor)
	if err != nil {
		logf("client floor: not measured: %v", err)
	}
	// The runs stop early enough to leave the cluster workload, which
	// comes last, its time: a slow server (Colyseus needs minutes to seat
	// and list 10,000 players) must not crowd it out of the bound.
	runsCtx := ctx
	if d, ok := ctx.Deadline(); ok && len(clusterKinds) > 0 && !*quick {
		var cancelRuns context.CancelFunc
		runsCtx, cancelRuns = context.WithDeadline(ctx, d.Add(-clusterReserve))
		defer cancelRuns()
	}
	rounds{runs: *runs, servers: res.Servers, logf: logf,
		floors: func(i int) { measureFloors(runsCtx, env, clientFloor, set.Fanout, i, res, logf) },
		turn: func(i int, k string) {
			res.Data = append(res.Data, runOne(runsCtx, env, prepared[k], i, set, logf))
		},
	}.run(runsCtx)
	if runsCtx.Err() != nil && ctx.Err() == nil {
		logf("runs stopped %v before the bound, to leave the cluster workload its time", clusterReserve)
	}
	if len(clusterKinds) > 0 && ctx.Err() == nil {
		res.Cluster = append(res.Cluster, clusterPeers(ctx, env, prepared, clusterKinds, set.Cluster, logf)...)
	}
	res.Elapsed = time.Since(res.Started)
	res.LoadEnd = harness.LoadAvg()
	if ctx.Err() != nil {
		logf("stopped early: %v (writing what was measured)", context.Cause(ctx))
	}
	if err := report.Write(*out, res); err != nil {
		return err
	}
	logf("wrote %s", filepath.Join(*out, "RESULTS.md"))
	return nil
}

// rounds runs every server's turn once per run, in rounds.
//
// Runs interleave the servers, so a drift of the machine over time spreads
// over all of them instead of favouring one. Each round starts with
// lobbyd, which every target is about, and after the first round the peers
// go fastest first. A server whose last turn would not fit in the time
// left is not started: when the bound ends the runs early, the runs it
// leaves out are the slowest servers' (Colyseus needs minutes to seat and
// list 10,000 players), and none is cut halfway.
//
// The floors are measured next to lobbyd's turn, which is set against
// them: the host's speed drifts over minutes (the write floor read 5.40
// and 7.78 s per 1M in two runs of one compare). Without lobbyd in the
// run, at its start.
type rounds struct {
	runs    int
	servers []string
	floors  func(run int)
	turn    func(run int, server string)
	logf    func(string, ...any)
	now     func() time.Time // nil: time.Now
}

func (r rounds) run(ctx context.Context) {
	if r.now == nil {
		r.now = time.Now
	}
	order, took := roundOrder(r.servers, nil), map[string]time.Duration{}
	for i := 1; i <= r.runs && ctx.Err() == nil; i++ {
		if !slices.Contains(order, harness.Lobbyd) {
			r.floors(i)
		}
		for _, k := range order {
			if ctx.Err() != nil {
				break
			}
			if d, ok := ctx.Deadline(); ok {
				if left := d.Sub(r.now()); took[k] > left {
					r.logf("run %d/%d: %s not started: its last turn took %v, %v left", i, r.runs, k, took[k].Round(time.Second), left.Round(time.Second))
					continue
				}
			}
			t0 := r.now() // lobbyd's turn counts its floors
			if k == harness.Lobbyd {
				r.floors(i)
			}
			r.logf("run %d/%d: %s", i, r.runs, k)
			r.turn(i, k)
			took[k] = r.now().Sub(t0)
		}
		order = roundOrder(order, took)
	}
}

// measureFloors measures the write, relay and client floors once for run
// i, at the fixed load of fo, into res.
func measureFloors(ctx context.Context, env *harness.Env, clientFloor *harness.Prepared, fo load.FanoutConfig, i int, res *report.Results, logf func(string, ...any)) {
	floorCfg := load.FloorConfig{Conns: fo.Conns, LobbySize: fo.LobbySize, RatePerPlayer: fo.FixedRate, Measure: fo.Measure}
	for _, f := range []struct {
		name    string
		measure func(context.Context, load.FloorConfig) (load.FloorResult, error)
		into    *[]load.FloorResult
	}{
		{"write floor", load.WriteFloor, &res.Floor},
		{"relay floor", load.RelayFloor, &res.RelayFloor},
		{"client floor", func(ctx context.Context, _ load.FloorConfig) (load.FloorResult, error) {
			return measureClientFloor(ctx, env, clientFloor, fo, logf)
		}, &res.ClientFloor},
	} {
		r, err := f.measure(ctx, floorCfg)
		if err != nil {
			logf("run %d: %s: %v", i, f.name, err)
			continue
		}
		r.Run = i
		logf("run %d: %s: %.2f CPU s per 1M writes", i, f.name, r.CPUPerMillion)
		*f.into = append(*f.into, r)
	}
}

// runOne starts a fresh server and runs the workloads against it.
func runOne(ctx context.Context, env *harness.Env, p *harness.Prepared, idx int, set report.Settings, logf func(string, ...any)) report.Run {
	r := report.Run{Server: p.Kind, Index: idx}
	fail := func(what string, err error) {
		logf("%s run %d: %s: %v", p.Kind, idx, what, err)
		r.Errors = append(r.Errors, what+": "+firstLine(err.Error()))
	}
	srv, err := harness.Start(ctx, env, p, logf)
	if err != nil {
		fail("start", err)
		return r
	}
	defer srv.Stop()
	t := srv.Target

	idle, held, err := load.Idle(ctx, t, set.Idle)
	if err != nil {
		fail("idle", err)
	} else {
		r.Idle = &idle
		b, err := load.Browse(ctx, t, held, set.Browse)
		held.Close()
		if err != nil {
			fail("browse", err)
		} else {
			r.Browse = &b
		}
	}
	if srv.Exited() {
		fail("server", fmt.Errorf("exited during the run"))
		return r
	}
	if f, err := load.Fanout(ctx, t, set.Fanout); err != nil {
		fail("fanout", err)
	} else {
		r.Fanout = &f
	}
	if c, err := load.Churn(ctx, t, set.Churn); err != nil {
		fail("churn", err)
	} else {
		r.Churn = &c
	}
	// Only lobbyd has matchmaking; the report says the baselines have none.
	if p.Kind == harness.Lobbyd {
		if m, err := load.Match(ctx, t, set.Match); err != nil {
			fail("match", err)
		} else {
			r.Match = &m
		}
	}
	if srv.Exited() {
		fail("server", fmt.Errorf("exited during the run"))
	}
	return r
}

// clusterReserve is the part of compare's bound kept for the cluster
// workload (three systems, relay and chat ramps: about a minute on the
// 2-core machine, at most 3 with slow steps).
const clusterReserve = 3 * time.Minute

// settings are the workload sizes of a full or a quick run.
func settings(quick bool, n int) report.Settings {
	s := report.Settings{
		// Three goroutine reads, at 3, 4 and 5 s after the last handshake:
		// lobbyd's HTTP server reaps its idle workers (MaxIdleWorkerDuration
		// 2 s, checked every 2 s) within 4 s of it; the others keep none.
		Idle:   load.IdleConfig{N: n, LobbySize: 8, Settle: 3 * time.Second, GoroutineReads: 3},
		Fanout: load.FanoutConfig{Conns: 800, LobbySize: 8, Rates: []float64{2, 5, 10, 15, 20, 30, 40, 80, 160}, FixedRate: 5, Measure: 2 * time.Second, ReadLateTwice: true},
		Churn:  load.ChurnConfig{Groups: 64, GroupSize: 4, Measure: 4 * time.Second},
		Browse: load.BrowseConfig{Clients: 16, Limit: 20, Measure: 4 * time.Second},
		// 3,000 players: at 10,000 tickets/s each must be back in the queue
		// within 300 ms, so the p99 bound (250 ms), not the population,
		// ends the ramp. At most about 22 s per run (7 steps of 2.5 s,
		// connecting, draining): a minute of the 15-minute budget.
		Match: load.MatchConfig{Players: 3000, Queue: "duel", Seed: 1, Rates: []float64{2000, 5000, 8000, 9000, 10000, 12000, 15000, 20000},
			FixedRate: 2000, Warm: 500 * time.Millisecond, Measure: 2 * time.Second},
	}
	// The cluster workload: the relay with every lobby split over 2 nodes;
	// no in-step phase (the single-node rows have it).
	// Steps of 2 msgs/s per player from 10 to 20 and of 4 to 32, where two
	// cores carry the three systems' ceilings: with 10 then 20 all three
	// passed the one and failed the other, and their capacities read level
	// whatever they were.
	s.Cluster = load.FanoutConfig{Conns: 800, LobbySize: 8, Rates: []float64{2, 5, 10, 12, 14, 16, 18, 20, 24, 28, 32, 40, 80, 160}, FixedRate: 5,
		Measure: 2 * time.Second, NoInStep: true, ReadLateTwice: true}
	if quick {
		// Five servers and three clusters in about a minute: half-second
		// windows after a quarter second of warm-up, two ramp steps, the
		// cluster at its fixed rate only, one read of the goroutines.
		const warm, window = 250 * time.Millisecond, 500 * time.Millisecond
		s.Cluster = load.FanoutConfig{Conns: 400, LobbySize: 8, Rates: []float64{5}, FixedRate: 5, Warm: warm, Measure: window, NoInStep: true, ReadLateTwice: true}
		s.Idle = load.IdleConfig{N: min(n, 500), LobbySize: 8, Settle: window, WarmRest: warm, GoroutineReads: 1}
		s.Fanout = load.FanoutConfig{Conns: 400, LobbySize: 8, Rates: []float64{5, 40}, FixedRate: 5, Warm: warm, Measure: window, ReadLateTwice: true}
		s.Churn.Warm, s.Churn.Measure = warm, window
		s.Browse.Warm, s.Browse.Measure = warm, window
		s.Match = load.MatchConfig{Players: 2000, Queue: "duel", Seed: 1, Rates: []float64{2000, 5000, 10000},
			FixedRate: 2000, Warm: warm, Measure: window, Drain: window}
	}
	return s
}

// roundOrder is the order of a round's servers: lobbyd first, then the
// others by the time their last turn took, shortest first (a server with
// no time yet goes first among them).
func roundOrder(servers []string, took map[string]time.Duration) []string {
	out := slices.Clone(servers)
	rank := func(k string) time.Duration {
		if k == harness.Lobbyd {
			return -1
		}
		return took[k]
	}
	slices.SortStableFunc(out, func(a, b string) int { return cmp.Compare(rank(a), rank(b)) })
	return out
}

func parseServers(s string) ([]string, error) {
	var out []string
	for _, k := range strings.Split(s, ",") {
		k = strings.TrimSpace(k)
		ok := false
		for _, known := range harness.Kinds {
			ok = ok || k == known
		}
		if !ok {
			return nil, fmt.Errorf("compare: unknown server %q (known: %s)", k, strings.Join(harness.Kinds, ","))
		}
		out = append(out, k)
	}
	return out, nil
}

// parseCluster reads -cluster: systems with a cluster mode.
func parseCluster(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []string
	for _, k := range strings.Split(s, ",") {
		k = strings.TrimSpace(k)
		ok := false
		for _, known := range ClusterKinds {
			ok = ok || k == known
		}
		if !ok {
			return nil, fmt.Errorf("compare: %q has no cluster mode (known: %s)", k, strings.Join(ClusterKinds, ","))
		}
		out = append(out, k)
	}
	return out, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// measureClientFloor starts the client floor (bench/baselines/wsfloor) and
// drives it with the relay workload's fixed load at own phases: its
// process's CPU per 1M deliveries is the least a server spends per
// delivery with the load generator's clients.
func measureClientFloor(ctx context.Context, env *harness.Env, p *harness.Prepared, fo load.FanoutConfig, logf func(string, ...any)) (load.FloorResult, error) {
	if p == nil {
		return load.FloorResult{}, errors.New("not built")
	}
	srv, err := harness.Start(ctx, env, p, logf)
	if err != nil {
		return load.FloorResult{}, err
	}
	defer srv.Stop()
	cfg := load.FanoutConfig{Conns: fo.Conns, LobbySize: fo.LobbySize, Rates: []float64{fo.FixedRate}, FixedRate: fo.FixedRate,
		Warm: fo.Warm, Measure: fo.Measure, NoInStep: true}
	r, err := load.Fanout(ctx, srv.Target, cfg)
	if err != nil {
		return load.FloorResult{}, err
	}
	return load.FloorResult{Writes: r.Fixed.Delivered, CPUPerMillion: r.Fixed.CPUPerMillion}, nil
}
