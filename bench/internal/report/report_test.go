package report

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lobbyd/lobbyd/bench/internal/load"
)

// fake builds results where lobbyd costs 1/8 of gorilla and 1/10 of
// Socket.IO per idle connection, and so on, over three runs.
func fake() *Results {
	r := &Results{Started: time.Unix(1700000000, 0), Elapsed: time.Minute, Runs: 3, Command: "cd bench && go run . compare",
		Versions: map[string]string{}, Skipped: map[string]string{}, Servers: []string{"lobbyd", "gorilla", "socketio"},
		Lobbyd:   "rate_limit: {per_second: 100000, burst: 100000}\n",
		Settings: Settings{Match: load.MatchConfig{Players: 3000, Queue: "duel", Seed: 1, Rates: []float64{2000, 8000, 10000}, FixedRate: 2000}}}
	base := map[string]struct{ bytes, cpu, rate float64 }{
		"lobbyd":   {3000, 1, 600000},
		"gorilla":  {24000, 3, 300000},
		"socketio": {30000, 12, 50000},
	}
	for i := 1; i <= 3; i++ {
		for _, k := range r.Servers {
			b := base[k]
			j := float64(i) / 100 // a little spread between runs
			step := load.FanoutStep{RatePerPlayer: 5, Delivered: b.rate * (1 + j), P50: time.Millisecond, P99: 5 * time.Millisecond, OK: true,
				CPUPerMillion: b.cpu * (1 + j), CPU: load.CPU{Server: 0.5, Client: 0.3}}
			inStep := step
			if k == "lobbyd" {
				inStep.CPUPerMillion /= 2 // gathering a burst into one write
			}
			var match *load.MatchResult
			if k == "lobbyd" {
				fixed := load.MatchStep{Offered: 2000, Enqueued: 2000, Matched: 2000, Matches: 2000, P50: 6 * time.Millisecond,
					P99: 40 * time.Millisecond, SpreadMean: 30, SpreadMax: 120, OK: true, CPU: load.CPU{Server: 0.4, Client: 0.25}}
				top := fixed
				top.Offered, top.Enqueued, top.Matched = 8000, 8000, 7000*(1+j)
				failed := top
				failed.Offered, failed.P99, failed.OK, failed.Starved = 10000, 400*time.Millisecond, false, true
				match = &load.MatchResult{Players: 3000, Queue: "duel", Seed: 1, Fixed: fixed, Steps: []load.MatchStep{fixed, top, failed},
					MaxMatched: top.Matched, Saturated: true, Matches: 50000, SpreadMean: 20, SpreadMax: 130}
			}
			r.Data = append(r.Data, Run{Server: k, Index: i, Match: match,
				Idle:   &load.IdleResult{N: 10000, BytesPerConn: b.bytes * (1 + j), ThreadsAfter: 8, Goroutines: 20},
				Fanout: &load.FanoutResult{Fixed: step, FixedInStep: inStep, Steps: []load.FanoutStep{step}, MaxDelivered: step.Delivered, Saturated: true},
				Churn:  &load.ChurnResult{OpsPerSec: 1000, P99: time.Millisecond},
				Browse: &load.BrowseResult{Lobbies: 10000, ReqPerSec: 5000, P99: time.Millisecond, PageBytes: 8033},
			})
		}
	}
	r.Floor = []load.FloorResult{{Writes: 28000, CPUPerMillion: 0.8}, {Writes: 28000, CPUPerMillion: 0.9}, {Writes: 28000, CPUPerMillion: 1}}
	r.RelayFloor = []load.FloorResult{{Writes: 28000, CPUPerMillion: 0.5}, {Writes: 28000, CPUPerMillion: 0.6}, {Writes: 28000, CPUPerMillion: 0.7}}
	r.ClientFloor = []load.FloorResult{{Writes: 28000, CPUPerMillion: 1.1}, {Writes: 28000, CPUPerMillion: 1.2}, {Writes: 28000, CPUPerMillion: 1.3}}
	return r
}

func TestTargets(t *testing.T) {
	r := fake()
	tests := []struct {
		target target
		ratio  float64
		met    bool
	}{
		{targets[0], 10, true}, // memory vs socketio: 30000/3000
		{targets[1], 8, true},  // memory vs gorilla
		{targets[2], 12, true}, // cpu vs socketio
		{targets[3], 3, true},  // cpu vs gorilla
		{targets[4], 24, true}, // cpu in step vs socketio
		{targets[5], 6, true},  // cpu in step vs gorilla
		{targets[6], 12, true}, // rate vs socketio
		{targets[7], 2, true},  // rate vs gorilla
	}
	for _, tc := range tests {
		v := r.check(tc.target)
		if !v.Known || v.Met != tc.met || v.Ratio < tc.ratio*0.99 || v.Ratio > tc.ratio*1.01 {
			t.Errorf("%s vs %s: %+v, want ratio %g met %v", tc.target.Metric.Name, tc.target.Baseline, v, tc.ratio, tc.met)
		}
		if v.RunRatio.N != 3 {
			t.Errorf("per-run ratios: %+v", v.RunRatio)
		}
	}
	// A target whose baseline did not run is not measured, not "met".
	r.Servers = []string{"lobbyd", "gorilla"}
	r.Data = r.Data[:0:0]
	if v := r.check(targets[0]); v.Known || v.Met {
		t.Fatalf("unknown baseline judged: %+v", v)
	}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir, fake()); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "RESULTS.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"median of 3 run(s)",
		"| memory per idle connection ≤ 1/6 of Express + Socket.IO | 10.00×",
		"rate_limit: {per_second: 100000, burst: 100000}",
		"Engine.IO v4 / Socket.IO v5",
		"user id in the query string",
		"| lobbyd goroutines with N idle connections < 50 | 20 | yes |",
		"2.99 (2.96–3.02)", // lobbyd KiB/conn: 3000×1.02/1024 (3000×1.01 … 3000×1.03)
		// matchmaking: lobbyd's column only, the target judged, the ramp shown
		"### Match: 3000 players queueing on `duel` (1 v 1), skill ~ N(1500, 300), seed 1",
		"gorilla/websocket, goroutine per conn, Express + Socket.IO: no matchmaking, not measured.",
		"| match: tickets matched/s at p99 < 250 ms (tickets/s), higher is better | 7140 (7070–7210) |",
		"| match: mean skill spread (fixed rate) (skill points), lower is better | 30.0 (30.0–30.0) |",
		"≥ 10,000 (matchmaking: the baselines have none) | 7140 | **no** |",
		"| 10,000 | 8000 | 7210 | 6.0 | 400.0 | 30.0 / 120.0 |",
		"starved: every player already queued",
		// fanout: both send patterns, the in-step target, the write floor
		"| server CPU per 1M delivered (fixed load, lobby in step) ≤ 1/10 of Express + Socket.IO | 24.00×",
		"costs that thread **0.90 CPU s per 1M writes** (0.90 (0.80–1.00))",
		"A tenth of Express + Socket.IO's CPU per message (own phases) would be 1.22 s per 1M: above the floor.",
		"costs that thread **0.60 CPU s per 1M deliveries** (0.60 (0.50–0.70); `load.RelayFloor`)",
		"above the relay floor.",
		"It reads below the write floor",
		"(pages of the run: lobbyd 8033 bytes, gorilla/websocket, goroutine per conn 8033 bytes",
		"costs its process **1.20 CPU s per 1M deliveries** (1.20 (1.10–1.30)), 1.33× the write floor",
		"1.25× the write floor (1.12 s per 1M) is below it.",
		"| lobbyd relay CPU per delivery at own phases ≤ 1.25× the write floor | ",
		"| lobbyd relay CPU per delivery at own phases ≤ 1.25× the client floor (",
		"| match, fixed rate | 0.40 / 0.25 / 0.00 | — | — |",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("RESULTS.md lacks %q", want)
		}
	}
	f, err := os.Open(filepath.Join(dir, "chart.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() < 500 || b.Dy() < 600 { // three rows of panels
		t.Fatalf("chart is %v", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "results.json")); err != nil {
		t.Fatal(err)
	}
}

// A results.json read back draws the same RESULTS.md (go run . render).
func TestReadRendersTheSameReport(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if err := Write(a, fake()); err != nil {
		t.Fatal(err)
	}
	r, err := Read(filepath.Join(a, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(b, r); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"RESULTS.md", "results.json"} {
		x, _ := os.ReadFile(filepath.Join(a, f))
		y, _ := os.ReadFile(filepath.Join(b, f))
		if len(x) == 0 || string(x) != string(y) {
			t.Errorf("%s differs after a round trip through results.json", f)
		}
	}
	if _, err := Read(filepath.Join(a, "missing.json")); err == nil {
		t.Error("Read of a missing file succeeded")
	}
}

func TestMarkdownMarksSkippedAndQuick(t *testing.T) {
	r := fake()
	r.Quick = true
	r.Skipped["lobbyd"] = "go build failed"
	var b bytes.Buffer
	markdown(&b, r)
	for _, want := range []string{"Quick smoke run", "**lobbyd was not run**: go build failed"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}

// A server that started fewer runs than asked (the bound was reached) is
// named with its count; complete runs say nothing.
func TestMarkdownNamesShortRuns(t *testing.T) {
	r := fake()
	var b bytes.Buffer
	markdown(&b, r)
	if strings.Contains(b.String(), "Fewer runs") {
		t.Error("complete runs reported as short")
	}
	r.Data = slices.DeleteFunc(r.Data, func(d Run) bool { return d.Server == "socketio" && d.Index == 3 })
	b.Reset()
	markdown(&b, r)
	if !strings.Contains(b.String(), "Express + Socket.IO 2 of 3") {
		t.Errorf("markdown does not name the short server:\n%s", b.String()[:400])
	}
}

// The cluster section shows each system's row, a failed system's reason,
// and lobbyd's capacity ratios against the peers' scale-out.
func TestMarkdownCluster(t *testing.T) {
	r := fake()
	fo := func(max, cpu float64) *load.FanoutResult {
		return &load.FanoutResult{MaxDelivered: max, Saturated: true,
			Fixed: load.FanoutStep{Delivered: 14000, P50: time.Millisecond, P99: 3 * time.Millisecond, CPUPerMillion: cpu,
				CPU: load.CPU{Client: 0.14}}}
	}
	r.Machine.Cores = 2
	r.Cluster = []ClusterRun{
		{System: "lobbyd", Version: "lobbyd abc", Fanout: fo(60000, 10), Chat: fo(40000, 12)},
		{System: "socketio", Version: "socket.io 4.8.1", Fanout: fo(10000, 80), Chat: fo(20000, 60)},
		{System: "centrifuge", Error: "not built: no go"},
	}
	var b bytes.Buffer
	markdown(&b, r)
	for _, want := range []string{"## Cluster: two nodes and one Redis", "| lobbyd, 2 shards | lobbyd abc | 60,000 |",
		"failed: not built: no go", "≥ 5× Socket.IO + @socket.io/redis-adapter, 2 Node processes | 6.00× | yes |",
		"relay message below that of Socket.IO + @socket.io/redis-adapter, 2 Node processes | 8.00× | yes |",
		"### Chat", "cross-shard chat capacity ≥ 1× Socket.IO + @socket.io/redis-adapter, 2 Node processes | 2.00× | yes |",
		// 5 × 10,000 msgs/s × 10 µs of load generator + 10 µs of shards = 1 core: fits 2.
		"**The 5× target and this machine.** Five times Socket.IO's cross-node relay capacity is 50,000", "1.00 in all", "It fits on this machine."} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}

// A rate read twice shows both readings in the ramp table: the late one
// says it was read again, the second says it is the second.
func TestMarkdownShowsAStepReadTwice(t *testing.T) {
	r := fake()
	last := &r.Data[len(r.Data)-1]
	late := last.Fanout.Steps[0]
	late.RatePerPlayer, late.P99, late.OK = 40, 60*time.Millisecond, false
	again := late
	again.P99, again.OK, again.Again = 20*time.Millisecond, true, true
	last.Fanout.Steps = append(last.Fanout.Steps, late, again)
	var b bytes.Buffer
	markdown(&b, r)
	for _, want := range []string{"| 40 |", "late (p99 50-100 ms, nothing lost): read again", "ok (second reading)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	// The method names the rule only for a run made with it.
	const rule = "is run once more once the backlog has drained"
	if strings.Contains(b.String(), rule) {
		t.Error("the method claims a rule the run's settings do not have")
	}
	r.Settings.Fanout.ReadLateTwice = true
	b.Reset()
	markdown(&b, r)
	if !strings.Contains(b.String(), rule) {
		t.Error("the method does not name the rule the run used")
	}
}

// Floors that name their run set lobbyd's relay against the floor of its
// own run as well; floors from before they did (Run 0) give the ratio of
// medians alone.
func TestFloorTargetsPairRuns(t *testing.T) {
	r := fake()
	var md strings.Builder
	p := func(f string, a ...any) { fmt.Fprintf(&md, f, a...) }
	floorTargets(p, r)
	if strings.Contains(md.String(), "in each run") {
		t.Fatalf("unpaired floors gave per-run ratios:\n%s", md.String())
	}
	// lobbyd's own-phases CPU is 1.01, 1.02, 1.03 in runs 1-3.
	r.Floor = []load.FloorResult{{CPUPerMillion: 1.01, Run: 1}, {CPUPerMillion: 0.51, Run: 2}, {CPUPerMillion: 1.03, Run: 3}}
	md.Reset()
	floorTargets(p, r)
	want := "| lobbyd relay CPU per delivery at own phases ≤ 1.25× the write floor | 1.01× (1.02 against 1.01 s per 1M; in each run, against its own floor: 1.00 (1.00–2.00)) | yes |"
	if !strings.Contains(md.String(), want) {
		t.Fatalf("got\n%s\nwant a row\n%s", md.String(), want)
	}
}

// Two systems that passed the same cluster ramp step and failed the next
// are level at the ramp's resolution, whatever their delivered rates at
// that step read; a lower step is behind, as before.
func TestMarkdownClusterLevelStep(t *testing.T) {
	ramp := func(delivered float64, passed ...float64) *load.FanoutResult {
		f := &load.FanoutResult{Saturated: true, Fixed: load.FanoutStep{Delivered: 28000, CPUPerMillion: 20}}
		for i, rate := range passed {
			st := load.FanoutStep{RatePerPlayer: rate, Delivered: rate * 5600, OK: true}
			if i == len(passed)-1 {
				st.Delivered = delivered
				f.MaxDelivered = delivered
			}
			f.Steps = append(f.Steps, st)
		}
		f.Steps = append(f.Steps, load.FanoutStep{RatePerPlayer: 12, Delivered: 60000})
		return f
	}
	r := fake()
	r.Machine.Cores = 2
	r.Cluster = []ClusterRun{
		{System: "lobbyd", Version: "lobbyd abc", Fanout: ramp(55808, 2, 5, 10), Chat: ramp(27000, 2, 5)},
		{System: "centrifuge", Version: "centrifuge v0.40.1", Fanout: ramp(56149, 2, 5, 10), Chat: ramp(56000, 2, 5, 10)},
	}
	var b bytes.Buffer
	markdown(&b, r)
	for _, want := range []string{
		"| lobbyd cross-shard relay capacity ≥ 1× centrifuge + its Redis broker and presence, 2 nodes | 0.99× (both passed 10 msgs/s per player and no step above: level) | yes |",
		"| lobbyd cross-shard chat capacity ≥ 1× centrifuge + its Redis broker and presence, 2 nodes | 0.48× | **no** |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}
