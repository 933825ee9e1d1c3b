package report

import (
	"github.com/lobbyd/lobbyd/bench/internal/stats"
)

// metric draws one figure out of a run; ok is false when the run lacks it.
type metric struct {
	Name   string // row label in RESULTS.md
	Unit   string
	Scale  float64 // multiply the raw value by this for display
	Digits int
	Better string // "lower" or "higher"
	// lobbydOnly: the baselines cannot have this figure (matchmaking); the
	// chart leaves them out instead of drawing an empty bar.
	lobbydOnly bool
	get        func(r Run) (float64, bool)
}

var (
	mIdleBytes = metric{Name: "memory per idle connection", Unit: "KiB", Scale: 1.0 / 1024, Digits: 2, Better: "lower",
		get: func(r Run) (float64, bool) {
			if r.Idle == nil {
				return 0, false
			}
			return r.Idle.BytesPerConn, true
		}}
	mThreads = metric{Name: "server threads with N idle", Unit: "", Scale: 1, Digits: 0, Better: "lower",
		get: func(r Run) (float64, bool) {
			if r.Idle == nil {
				return 0, false
			}
			return float64(r.Idle.ThreadsAfter), true
		}}
	mGoroutines = metric{Name: "server goroutines with N idle", Unit: "", Scale: 1, Digits: 0, Better: "lower",
		get: func(r Run) (float64, bool) {
			if r.Idle == nil || r.Idle.Goroutines < 0 {
				return 0, false
			}
			return float64(r.Idle.Goroutines), true
		}}
	mConnect = metric{Name: "time to connect N and fill lobbies", Unit: "s", Scale: 1, Digits: 1, Better: "lower",
		get: func(r Run) (float64, bool) {
			if r.Idle == nil {
				return 0, false
			}
			return r.Idle.ConnectSecs, true
		}}
	mMaxRate = metric{Name: "delivered msgs/s at p99 < 50 ms", Unit: "msgs/s", Scale: 1, Digits: 0, Better: "higher",
		get: func(r Run) (float64, bool) {
			if r.Fanout == nil {
				return 0, false
			}
			return r.Fanout.MaxDelivered, true
		}}
	mCPUPerM = metric{Name: "server CPU per 1M delivered (fixed load, own phases)", Unit: "CPU s", Scale: 1, Digits: 2, Better: "lower",
		get: func(r Run) (float64, bool) {
			if r.Fanout == nil || r.Fanout.Fixed.CPUPerMillion == 0 {
				return 0, false
			}
			return r.Fanout.Fixed.CPUPerMillion, true
		}}
	mCPUPerMInStep = metric{Name: "server CPU per 1M delivered (fixed load, lobby in step)", Unit: "CPU s", Scale: 1, Digits: 2, Better: "lower",
		get: func(r Run) (float64, bool) {
			if r.Fanout == nil || r.Fanout.FixedInStep.CPUPerMillion == 0 {
				return 0, false
			}
			return r.Fanout.FixedInStep.CPUPerMillion, true
		}}
	mP50InStep = metric{Name: "p50 latency (fixed load, lobby in step)", Unit: "ms", Scale: 1e-6, Digits: 2, Better: "lower",
		get: func(r Run) (float64, bool) {
			if r.Fanout == nil || r.Fanout.FixedInStep.Delivered == 0 {
				return 0, false
			}
			return float64(r.Fanout.FixedInStep.P50), true
		}}
	mP99InStep = metric{Name: "p99 latency (fixed load, lobby in step)", Unit: "ms", Scale: 1e-6, Digits: 2, Better: "lower",
		get: func(r Run) (float64, bool) {
			if r.Fanout == nil || r.Fanout.FixedInStep.Delivered == 0 {
				return 0, false
			}
			return float64(r.Fanout.FixedInStep.P99), true
		}}
	mP50 = metric{Name: "p50 latency (fixed load, own phases)", Unit: "ms", Scale: 1e-6, Digits: 2, Better: "lower",
		get: func(r Run) (float64, bool) {
			if r.Fanout == nil {
				return 0, false
			}
			return float64(r.Fanout.Fixed.P50), true
		}}
	mP99 = metric{Name: "p99 latency (fixed load, own phases)", Unit: "ms", Scale: 1e-6, Digits: 2, Better: "lower",
		get: func(r Run) (float64, bool) {
			if r.Fanout == nil {
				return 0, false
			}
			return float64(r.Fanout.Fixed.P99), true
		}}
	mChurn = metric{Name: "churn: create/join/leave ops/s", Unit: "ops/s", Scale: 1, Digits: 0, Better: "higher",
		get: func(r Run) (float64, bool) {
			if r.Churn == nil {
				return 0, false
			}
			return r.Churn.OpsPerSec, true
		}}
	mChurnP99 = metric{Name: "churn: p99 per op", Unit: "ms", Scale: 1e-6, Digits: 1, Better: "lower",
		get: func(r Run) (float64, bool) {
			if r.Churn == nil {
				return 0, false
			}
			return float64(r.Churn.P99), true
		}}
	// Churn and browse are closed loops that share the machine with their
	// load generator: when both are busy, ops/s is the machine's as much
	// as the server's, and the server's CPU per operation says which
	// server does the work more cheaply.
	mChurnCPU = metric{Name: "churn: server CPU per op", Unit: "µs", Scale: 1, Digits: 1, Better: "lower",
		get: func(r Run) (float64, bool) {
			if r.Churn == nil {
				return perOp(0, 0, 0)
			}
			return perOp(r.Churn.CPU.ServerSeconds, r.Churn.OpsPerSec, r.Churn.CPU.Wall)
		}}
	mBrowse = metric{Name: "browse: GET /v1/lobbies req/s", Unit: "req/s", Scale: 1, Digits: 0, Better: "higher",
		get: func(r Run) (float64, bool) {
			if r.Browse == nil {
				return 0, false
			}
			return r.Browse.ReqPerSec, true
		}}
	mBrowseP99 = metric{Name: "browse: p99", Unit: "ms", Scale: 1e-6, Digits: 1, Better: "lower",
		get: func(r Run) (float64, bool) {
			if r.Browse == nil {
				return 0, false
			}
			return float64(r.Browse.P99), true
		}}
	mBrowseCPU = metric{Name: "browse: server CPU per request", Unit: "µs", Scale: 1, Digits: 1, Better: "lower",
		get: func(r Run) (float64, bool) {
			if r.Browse == nil {
				return perOp(0, 0, 0)
			}
			return perOp(r.Browse.CPU.ServerSeconds, r.Browse.ReqPerSec, r.Browse.CPU.Wall)
		}}
)

// perOp is server CPU µs per operation from a window's CPU seconds, its
// rate and its length; not known when any is missing (results written
// before the window's CPU was kept).
func perOp(serverSeconds, perSec, wall float64) (float64, bool) {
	if serverSeconds <= 0 || perSec <= 0 || wall <= 0 {
		return 0, false
	}
	return serverSeconds * 1e6 / (perSec * wall), true
}

// Matchmaking figures exist for lobbyd only (the baselines have none).
var (
	mMatchRate = metric{Name: "match: tickets matched/s at p99 < 250 ms", Unit: "tickets/s", Scale: 1, Digits: 0, Better: "higher", lobbydOnly: true,
		get: func(r Run) (float64, bool) {
			if r.Match == nil {
				return 0, false
			}
			return r.Match.MaxMatched, true
		}}
	mMatchP50 = metric{Name: "match: p50 enqueue → matched (fixed rate)", Unit: "ms", Scale: 1e-6, Digits: 1, Better: "lower", lobbydOnly: true,
		get: func(r Run) (float64, bool) {
			if r.Match == nil || r.Match.Fixed.Matched == 0 {
				return 0, false
			}
			return float64(r.Match.Fixed.P50), true
		}}
	mMatchP99 = metric{Name: "match: p99 enqueue → matched (fixed rate)", Unit: "ms", Scale: 1e-6, Digits: 1, Better: "lower", lobbydOnly: true,
		get: func(r Run) (float64, bool) {
			if r.Match == nil || r.Match.Fixed.Matched == 0 {
				return 0, false
			}
			return float64(r.Match.Fixed.P99), true
		}}
	mSpreadMean = metric{Name: "match: mean skill spread (fixed rate)", Unit: "skill points", Scale: 1, Digits: 1, Better: "lower", lobbydOnly: true,
		get: func(r Run) (float64, bool) {
			if r.Match == nil || r.Match.Fixed.Matches == 0 {
				return 0, false
			}
			return r.Match.Fixed.SpreadMean, true
		}}
	mSpreadMax = metric{Name: "match: max skill spread (fixed rate)", Unit: "skill points", Scale: 1, Digits: 1, Better: "lower", lobbydOnly: true,
		get: func(r Run) (float64, bool) {
			if r.Match == nil || r.Match.Fixed.Matches == 0 {
				return 0, false
			}
			return r.Match.Fixed.SpreadMax, true
		}}
	mSpreadMeanAll = metric{Name: "match: mean skill spread (every match of the run)", Unit: "skill points", Scale: 1, Digits: 1, Better: "lower", lobbydOnly: true,
		get: func(r Run) (float64, bool) {
			if r.Match == nil || r.Match.Matches == 0 {
				return 0, false
			}
			return r.Match.SpreadMean, true
		}}
	mSpreadMaxAll = metric{Name: "match: max skill spread (every match of the run)", Unit: "skill points", Scale: 1, Digits: 1, Better: "lower", lobbydOnly: true,
		get: func(r Run) (float64, bool) {
			if r.Match == nil || r.Match.Matches == 0 {
				return 0, false
			}
			return r.Match.SpreadMax, true
		}}
)

// MatchTarget is the matchmaking goal, in tickets matched per
// second with p99 time to match under load.MatchP99Limit.
const MatchTarget = 10000

// summary gives a metric's median and range over one server's runs, scaled
// for display.
func (r *Results) summary(m metric, server string) (stats.Summary, bool) {
	var xs []float64
	for _, run := range r.runsOf(server) {
		if v, ok := m.get(run); ok {
			xs = append(xs, v*m.Scale)
		}
	}
	if len(xs) == 0 {
		return stats.Summary{}, false
	}
	return stats.Summarize(xs), true
}

// anyFlag reports whether some run of server has flag set.
func (r *Results) anyFlag(server string, flag func(Run) bool) bool {
	for _, run := range r.runsOf(server) {
		if flag(run) {
			return true
		}
	}
	return false
}

// target is one of the goals: lobbyd's figure against a baseline's.
type target struct {
	Metric   metric
	Baseline string
	// Factor: for "lower" metrics lobbyd must be ≤ baseline/Factor; for
	// "higher" ones ≥ baseline×Factor.
	Factor float64
}

var targets = []target{
	{mIdleBytes, "socketio", 6},
	{mIdleBytes, "gorilla", 4},
	{mCPUPerM, "socketio", 10},
	{mCPUPerM, "gorilla", 2},
	{mCPUPerMInStep, "socketio", 10},
	{mCPUPerMInStep, "gorilla", 2},
	{mMaxRate, "socketio", 5},
	{mMaxRate, "gorilla", 1.5},
	// Ahead on the shared workloads the targets above do not cover.
	{mChurn, "gorilla", 1},
	{mBrowse, "gorilla", 1},
	{mChurn, "socketio", 1},
	{mBrowse, "socketio", 1},
	// The strong peers (issue 16): lobbyd ahead on every shared workload.
	{mIdleBytes, "colyseus", 1},
	{mCPUPerM, "colyseus", 1},
	{mCPUPerMInStep, "colyseus", 1},
	{mMaxRate, "colyseus", 1},
	{mChurn, "colyseus", 1},
	{mBrowse, "colyseus", 1},
	{mIdleBytes, "centrifuge", 1},
	{mCPUPerM, "centrifuge", 1},
	{mCPUPerMInStep, "centrifuge", 1},
	{mMaxRate, "centrifuge", 1},
	{mChurn, "centrifuge", 1},
	{mBrowse, "centrifuge", 1},
}

// verdict is a target checked against the results.
type verdict struct {
	Target   target
	Ratio    float64 // baseline/lobbyd for "lower", lobbyd/baseline for "higher"
	RunRatio stats.Summary
	Known    bool
	Met      bool
}

// check evaluates a target: the ratio of medians, and the ratio within each
// run (the servers of one run ran back to back) for its range.
func (r *Results) check(t target) verdict {
	v := verdict{Target: t}
	lb, ok1 := r.summary(t.Metric, "lobbyd")
	bl, ok2 := r.summary(t.Metric, t.Baseline)
	if !ok1 || !ok2 || lb.Median <= 0 || bl.Median <= 0 {
		return v
	}
	ratio := func(l, b float64) float64 {
		if t.Metric.Better == "lower" {
			return b / l
		}
		return l / b
	}
	v.Known = true
	v.Ratio = ratio(lb.Median, bl.Median)
	v.Met = v.Ratio >= t.Factor
	var per []float64
	lr, br := r.runsOf("lobbyd"), r.runsOf(t.Baseline)
	for _, a := range lr {
		for _, b := range br {
			if a.Index != b.Index {
				continue
			}
			x, ok1 := t.Metric.get(a)
			y, ok2 := t.Metric.get(b)
			if ok1 && ok2 && x > 0 && y > 0 {
				per = append(per, ratio(x, y))
			}
		}
	}
	v.RunRatio = stats.Summarize(per)
	return v
}
