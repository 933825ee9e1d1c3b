package report

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/lobbyd/lobbyd/bench/internal/load"
	"github.com/lobbyd/lobbyd/bench/internal/stats"
)

// Titles of the servers in the report.
var titles = map[string]string{
	"lobbyd":     "lobbyd",
	"gorilla":    "gorilla/websocket, goroutine per conn",
	"socketio":   "Express + Socket.IO",
	"colyseus":   "Colyseus",
	"centrifuge": "centrifuge",
}

func title(k string) string {
	if t, ok := titles[k]; ok {
		return t
	}
	return k
}

func fmtNum(v float64, digits int) string {
	s := fmt.Sprintf("%.*f", digits, v)
	if digits == 0 && v >= 10000 {
		// thousands separators help reading msgs/s
		var b strings.Builder
		for i, c := range s {
			if i > 0 && (len(s)-i)%3 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(c)
		}
		return b.String()
	}
	return s
}

func cell(s stats.Summary, digits int) string {
	if s.N == 0 {
		return "—"
	}
	if s.N == 1 {
		return fmtNum(s.Median, digits)
	}
	return fmt.Sprintf("%s (%s–%s)", fmtNum(s.Median, digits), fmtNum(s.Min, digits), fmtNum(s.Max, digits))
}

// shortRuns names the servers that started fewer runs than r.Runs (the
// compare stopped at its bound), with their counts; "" when none did.
func shortRuns(r *Results) string {
	started := map[string]int{}
	for _, d := range r.Data {
		started[d.Server]++
	}
	var out []string
	for _, k := range r.Servers {
		if _, skipped := r.Skipped[k]; skipped {
			continue
		}
		if n := started[k]; n < r.Runs {
			out = append(out, fmt.Sprintf("%s %d of %d", title(k), n, r.Runs))
		}
	}
	return strings.Join(out, ", ")
}

// markdown writes RESULTS.md.
func markdown(w io.Writer, r *Results) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("# lobbyd against the usual alternatives\n\n")
	p("Produced by `%s` on %s in %s. Every figure below is the **median of %d run(s)** with the range (min–max) in brackets; each run starts a fresh server process and the servers take turns within a run.\n\n",
		r.Command, r.Started.UTC().Format(time.RFC3339), r.Elapsed.Round(time.Second), r.Runs)
	if r.Quick {
		p("> **Quick smoke run** (`-quick`): fewer connections, shorter steps, one run. It proves the harness works end to end; do not compare servers on it. Run `cd bench && go run . compare` for the real figures.\n\n")
	}
	for _, k := range sortedKeys(r.Skipped) {
		p("> **%s was not run**: %s\n\n", title(k), r.Skipped[k])
	}
	if short := shortRuns(r); short != "" {
		p("> **Fewer runs than asked**, the run having reached its time bound (`-timeout`, less the time kept for the cluster workload): %s. Their figures are medians of the runs they have; a workload cut inside a run is listed under *Errors during the runs*.\n\n", short)
	}

	p("## Machine\n\n")
	m := r.Machine
	p("- CPU: %s, %d cores; memory %d MiB; %s; %s; open-files limit %d per process\n", m.CPU, m.Cores, m.MemoryMB, m.Kernel, m.Go, m.FDLimit)
	p("- Load average (1/5/15 min) at start: %s; at end: %s. Load generator and server share these cores; CPU taken by other processes during each measurement is reported as *other*.\n\n", m.LoadAvg, r.LoadEnd)

	p("## Servers\n\n| server | version | started as |\n|---|---|---|\n")
	for _, k := range r.Servers {
		how := map[string]string{
			"lobbyd":     "`go build -o $TMP/lobbyd ./cmd/lobbyd`; `lobbyd --dev --config lobbyd.yaml --addr 127.0.0.1:PORT --operator-token RANDOM`",
			"gorilla":    "`go build ./baselines/gorilla` in bench/; `gorilla -addr 127.0.0.1:PORT`",
			"socketio":   "`npm ci` when node_modules is missing; `ADDR=127.0.0.1:PORT NODE_ENV=production node server.js` in bench/baselines/socketio",
			"colyseus":   "`npm ci` when node_modules is missing; `ADDR=127.0.0.1:PORT NODE_ENV=production JWT_SECRET=RANDOM node server.js` in bench/baselines/colyseus",
			"centrifuge": "`go build` in bench/baselines/centrifuge (its own module); `JWT_SECRET=RANDOM centrifuge -addr 127.0.0.1:PORT`",
		}[k]
		p("| %s | %s | %s |\n", title(k), r.Versions[k], how)
	}
	if r.Lobbyd != "" {
		p("\nlobbyd's config file (the dev rate limit of 50 msgs/s per connection would throttle the relay workload, so it is raised; say so wherever these figures are quoted):\n\n```yaml\n%s```\n", r.Lobbyd)
	}

	p("\n## Targets\n\n| target | lobbyd vs baseline (median ratio, per-run range) | met |\n|---|---|---|\n")
	for _, t := range targets {
		v := r.check(t)
		goal := fmt.Sprintf("%s ≤ 1/%g of %s", t.Metric.Name, t.Factor, title(t.Baseline))
		if t.Metric.Better == "higher" {
			goal = fmt.Sprintf("%s ≥ %g× %s", t.Metric.Name, t.Factor, title(t.Baseline))
		}
		if t.Factor == 1 {
			goal = fmt.Sprintf("%s: lobbyd ahead of %s", t.Metric.Name, title(t.Baseline))
		}
		if !v.Known {
			p("| %s | not measured | — |\n", goal)
			continue
		}
		met := "**no**"
		if v.Met {
			met = "yes"
		}
		p("| %s | %.2f× (%s) | %s |\n", goal, v.Ratio, cell(v.RunRatio, 2), met)
	}
	if s, ok := r.summary(mIdleBytes, "lobbyd"); ok {
		p("| lobbyd memory per idle authenticated connection ≤ 1.5 KiB | %.2f KiB | %s |\n", s.Median, yesNo(s.Median <= 1.5))
	}
	if s, ok := r.summary(mGoroutines, "lobbyd"); ok {
		p("| lobbyd goroutines with N idle connections < 50 | %.0f | %s |\n", s.Median, yesNo(s.Median < 50))
	}
	if s, ok := r.summary(mMatchRate, "lobbyd"); ok {
		floor := ""
		if r.anyFlag("lobbyd", func(run Run) bool { return run.Match != nil && (run.Match.MaxClientLimited || !run.Match.Saturated) }) {
			floor = " (a floor: see the match ramp)"
		}
		p("| lobbyd tickets matched/s with p99 enqueue → matched < %s ≥ %s (matchmaking: the baselines have none) | %s%s | %s |\n",
			load.MatchP99Limit, fmtNum(MatchTarget, 0), fmtNum(s.Median, 0), floor, yesNo(s.Median >= MatchTarget))
	}
	floorTargets(p, r)
	p("\nRatios are oriented so that larger is better for lobbyd: baseline ÷ lobbyd for costs, lobbyd ÷ baseline for rates.")
	if r.anyFlag("lobbyd", func(run Run) bool { return run.Fanout != nil && (run.Fanout.MaxClientLimited || !run.Fanout.Saturated) }) {
		p(" lobbyd's relay capacity is a **floor**: in at least one run the ramp was limited by the load generator or the machine, or ended before lobbyd failed (see the ramp below), so its ratio understates lobbyd.")
	}
	p("\n\n")

	p("## Results\n\n")
	sections := []struct {
		head    string
		metrics []metric
	}{
		{fmt.Sprintf("Idle: %d connections in lobbies of %d", r.Settings.Idle.N, r.Settings.Idle.LobbySize), []metric{mIdleBytes, mThreads, mGoroutines, mConnect}},
		{fmt.Sprintf("Fanout: %d players in lobbies of %d relaying 64-byte messages", r.Settings.Fanout.Conns, r.Settings.Fanout.LobbySize), []metric{mMaxRate, mP50, mP99, mCPUPerM, mP50InStep, mP99InStep, mCPUPerMInStep}},
		{fmt.Sprintf("Churn: %d groups of %d, create → join → leave in a closed loop", r.Settings.Churn.Groups, r.Settings.Churn.GroupSize), []metric{mChurn, mChurnP99, mChurnCPU}},
		{fmt.Sprintf("Browse: %d public lobbies, %d HTTP clients on GET /v1/lobbies?limit=%d", r.Settings.Idle.N, r.Settings.Browse.Clients, r.Settings.Browse.Limit), []metric{mBrowse, mBrowseP99, mBrowseCPU}},
	}
	for _, sec := range sections {
		p("### %s\n\n| figure |", sec.head)
		for _, k := range r.Servers {
			p(" %s |", title(k))
		}
		p("\n|---|")
		for range r.Servers {
			p("---|")
		}
		p("\n")
		for _, mt := range sec.metrics {
			unit := ""
			if mt.Unit != "" {
				unit = " (" + mt.Unit + ")"
			}
			p("| %s%s, %s is better |", mt.Name, unit, mt.Better)
			for _, k := range r.Servers {
				s, _ := r.summary(mt, k)
				p(" %s |", cell(s, mt.Digits))
			}
			p("\n")
		}
		p("\n")
		if strings.HasPrefix(sec.head, "Fanout") {
			fanoutNotes(p, r)
		}
	}

	matchSection(p, r)

	p("### Load generator and machine CPU (cores, median over runs; server / load generator / other)\n\n| workload |")
	for _, k := range r.Servers {
		p(" %s |", title(k))
	}
	p("\n|---|")
	for range r.Servers {
		p("---|")
	}
	p("\n")
	cpuRows := []struct {
		name string
		get  func(Run) (load.CPU, bool, bool)
	}{
		{"fanout, fixed load, own phases", func(x Run) (load.CPU, bool, bool) {
			if x.Fanout == nil {
				return load.CPU{}, false, false
			}
			return x.Fanout.Fixed.CPU, x.Fanout.Fixed.ClientLimited, true
		}},
		{"fanout, fixed load, lobby in step", func(x Run) (load.CPU, bool, bool) {
			if x.Fanout == nil || x.Fanout.FixedInStep.Delivered == 0 {
				return load.CPU{}, false, false
			}
			return x.Fanout.FixedInStep.CPU, x.Fanout.FixedInStep.ClientLimited, true
		}},
		{"fanout, best step", func(x Run) (load.CPU, bool, bool) {
			if x.Fanout == nil {
				return load.CPU{}, false, false
			}
			st, ok := bestStep(x.Fanout)
			return st.CPU, st.ClientLimited, ok
		}},
		{"churn", func(x Run) (load.CPU, bool, bool) {
			if x.Churn == nil {
				return load.CPU{}, false, false
			}
			return x.Churn.CPU, x.Churn.ClientLimited, true
		}},
		{"match, fixed rate", func(x Run) (load.CPU, bool, bool) {
			if x.Match == nil {
				return load.CPU{}, false, false
			}
			return x.Match.Fixed.CPU, x.Match.Fixed.ClientLimited, true
		}},
		{"match, best step", func(x Run) (load.CPU, bool, bool) {
			if x.Match == nil {
				return load.CPU{}, false, false
			}
			st, ok := bestMatchStep(x.Match)
			return st.CPU, st.ClientLimited, ok
		}},
		{"browse", func(x Run) (load.CPU, bool, bool) {
			if x.Browse == nil {
				return load.CPU{}, false, false
			}
			return x.Browse.CPU, x.Browse.ClientLimited, true
		}},
	}
	for _, row := range cpuRows {
		p("| %s |", row.name)
		for _, k := range r.Servers {
			var sv, cl, ot []float64
			limited := 0
			for _, run := range r.runsOf(k) {
				c, lim, ok := row.get(run)
				if !ok {
					continue
				}
				sv, cl, ot = append(sv, c.Server), append(cl, c.Client), append(ot, c.Other)
				if lim {
					limited++
				}
			}
			if len(sv) == 0 {
				p(" — |")
				continue
			}
			flag := ""
			if limited > 0 {
				flag = fmt.Sprintf(" **client/machine-limited in %d of %d**", limited, len(sv))
			}
			p(" %.2f / %.2f / %.2f%s |", stats.Summarize(sv).Median, stats.Summarize(cl).Median, stats.Summarize(ot).Median, flag)
		}
		p("\n")
	}
	p("\nA figure is marked *client/machine-limited* when the load generator could not keep its send schedule (≥ 5%% short), or when the machine's cores were ≥ 90%% busy while the server had less than half of that time: the figure is then a floor of what the server can do, set by the client or by other processes, not the server's ceiling.\n\n")

	p("### Fanout ramp (last run of each server)\n\n")
	for _, k := range r.Servers {
		runs := r.runsOf(k)
		if len(runs) == 0 || runs[len(runs)-1].Fanout == nil {
			continue
		}
		f := runs[len(runs)-1].Fanout
		p("**%s**", title(k))
		if !f.Saturated {
			p(" — the ramp ended before the server failed: its capacity is at least the last step")
		}
		p("\n\n| msgs/s per player | offered deliveries/s | sent msgs/s | delivered/s | p50 ms | p99 ms | server / client / other cores | CPU s per 1M | verdict |\n|---|---|---|---|---|---|---|---|---|\n")
		for i, st := range f.Steps {
			verdict := "ok"
			if !st.OK {
				verdict = "**failed** (p99 ≥ 50 ms or > 10% lost)"
			}
			if i+1 < len(f.Steps) && f.Steps[i+1].Again {
				verdict = fmt.Sprintf("late (p99 %g-%g ms, nothing lost): read again", ms(load.P99Limit), ms(load.RereadBelow))
			}
			if st.Again {
				verdict += " (second reading)"
			}
			if st.ClientLimited {
				verdict += ", client/machine-limited"
			}
			p("| %g | %s | %s | %s | %.2f | %.2f | %.2f / %.2f / %.2f | %.2f | %s |\n", st.RatePerPlayer, fmtNum(st.Offered, 0), fmtNum(st.Sent, 0),
				fmtNum(st.Delivered, 0), ms(st.P50), ms(st.P99), st.CPU.Server, st.CPU.Client, st.CPU.Other, st.CPUPerMillion, verdict)
		}
		p("\n")
	}

	matchRamp(p, r)
	clusterSection(p, r)

	p("## Method\n\n")
	p("- **One command, one machine, loopback only.** The harness (`bench/`, package main) builds and starts each server as its own process on a fresh 127.0.0.1 port and drives it from a separate process (the harness itself). Server memory and CPU come from `/proc/PID/status` (VmRSS, Threads) and `/proc/PID/stat` (utime+stime); goroutines from `go_goroutines` on GET /metrics (the lowest of %s a second apart while the N connections are held, so that an HTTP server's idle workers left from the burst of handshakes are not counted as a cost of N; lobbyd's with its operator token, and the gorilla baseline exposes the same gauge); Node has no goroutines, its thread count is shown.\n", goroutineReads(r.Settings.Idle.GoroutineReads))
	p("- **Idle**: %d players connect (64 handshakes at a time), form lobbies of %d, wait %s; memory per connection = (VmRSS after − VmRSS before) ÷ N, *before* read after a warm-up: one batch of 64 players connects, takes seats and leaves, then %s passes, so that what a server pays once, not per player (the pages of its binary that the first handshake touches, a JIT's first compilations, an HTTP server's first workers and stacks), is in the baseline; the warm-up leaves at most one batch's freed memory for the measured players to reuse (under 20 bytes a player at N = 10,000). It includes everything the server keeps for a player: socket buffers in user space, session, lobby membership.\n",
		r.Settings.Idle.N, r.Settings.Idle.LobbySize, r.Settings.Idle.Settle, orDefault(r.Settings.Idle.WarmRest, time.Second))
	p("- **Fanout**: %d players in lobbies of %d; every player sends 64-byte messages to its lobby at a rising rate (%v msgs/s per player, %s measured per step after %s of warm-up); every message reaches the 7 others. The first 8 bytes of each payload carry the send time (unix ns); the receiver records now − send time. Capacity is the highest delivered rate of a step with p99 < 50 ms and ≥ 90%% of deliveries arriving; the ramp stops at the first failed step%s. Latency and CPU per delivered message are read at the fixed load of %g msgs/s per player, twice: players at their own phases (the ramp's step), then each lobby in step. Server CPU is utime+stime of the server process over the measured window, so kernel time spent on the server's behalf counts.\n",
		r.Settings.Fanout.Conns, r.Settings.Fanout.LobbySize, r.Settings.Fanout.Rates, orDefault(r.Settings.Fanout.Measure, 2*time.Second), orDefault(r.Settings.Fanout.Warm, 500*time.Millisecond), fanoutRereadRule(r.Settings.Fanout.ReadLateTwice), r.Settings.Fanout.FixedRate)
	p("- **Churn**: each group's first player creates a lobby, the others join it, then all leave (the last leave deletes it); each operation waits for its reply. ops/s counts replies.\n")
	p("- **Browse**: the idle players each leave and create their own public lobby (N lobbies), then closed-loop HTTP/1.1 keep-alive clients fetch the newest page; the first answer is checked to hold a full page. Every server's page carries the fields of lobbyd's LobbyView and Member (mode, region, attrs, data, each member's name, flags and join time), so the load generator reads pages of about the same size from each%s; Colyseus's room cache counts its members instead of listing them.\n", pageSizes(r))
	p("- **Same workload, each server's own wire.** lobbyd and the gorilla baseline get identical binary msgpack envelopes (docs/protocol.md: `lobby.create`, `lobby.join`, `lobby.leave`, `lobby.send` with rid 0, event `lobby.data`). Socket.IO is driven over its native transport, Engine.IO v4 / Socket.IO v5 on a websocket-only connection (`/socket.io/?EIO=4&transport=websocket`), because that is what its users run; forcing msgpack frames on it would measure a server nobody deploys. Its payload is a 64-character string (the send time in 16 hex digits, then padding) rather than a binary attachment: a Socket.IO binary event costs two frames (placeholder + attachment), so the string is its cheaper path — a choice in the baseline's favour.\n")
	p("- **Colyseus** is driven as its SDK (@colyseus/sdk 0.18) drives it, from Go (`bench/internal/client/colyseus.go`, written from the SDK's and @colyseus/core's source): each create and join is an HTTP matchmaking request (`POST /matchmake/create/lobby`, `POST /matchmake/joinById/ID`) carrying the player's HS256 JWT as `Authorization: Bearer`, verified by the room's `static onAuth` with @colyseus/auth's `JWT.verify`; its seat reservation is consumed on a WebSocket (`/PROCESS/ROOM?sessionId=`), JOIN_ROOM is acknowledged, and the room's schema state (its members) follows. The relay is `room.send(\"send\", bytes)` → `this.broadcast(\"data\", {from, data}, { except: client })`. A Colyseus client is connected only while it is in a room: leave sends LEAVE_ROOM and the server closes that connection, so churn opens and closes a WebSocket per join — how Colyseus works, not a handicap the bench adds. The listing is an Express route over `matchMaker.query` (Colyseus has no paged listing of its own).\n")
	p("- **centrifuge** is driven in its protobuf protocol (`/connection/websocket?format=protobuf`, `bench/internal/client/centrifuge.go`, written from centrifugal/protocol's client.proto): the connect command carries an HS256 JWT checked in `OnConnecting`; create is an RPC then a subscribe to `lobby:ID`, join a subscribe (refused by `OnSubscribe` when full) whose options emit and push join/leave messages (the members learn who joined and left, as lobbyd's `lobby.member_joined`/`member_left` tell them), leave an unsubscribe, the relay a publish into the channel (`OnPublish` lets members publish, with the publisher's client info as *from*). centrifuge has no \"all but the sender\": every publication also goes back to its publisher, and each publish command is answered; those writes are centrifuge's cost of a relay, and only the 7 deliveries to the others are counted.\n")
	p("- **Advantages given to the baselines**: gorilla and Socket.IO authenticate by a user id in the query string (Colyseus and centrifuge verify a JWT, as lobbyd does), while lobbyd verifies a JWT (obtained from POST /v1/auth/guest) on every handshake; they keep no session for resume, no per-session event sequence, no rate limiting. lobbyd runs with its rate limit raised (config above) so that the relay is measured, not the limiter.\n")
	p("- **The client must not be the bottleneck.** Both client dialects are written to spend little CPU per message: one reader goroutine per connection, a zero-allocation envelope scanner, pre-encoded send frames, two pacing goroutines. Its own CPU is measured with getrusage for every window and shown above with the server's and other processes'; figures it limited are marked. On a 2-core machine the load generator and the server compete for the same cores, so relay capacity figures for the fastest server are floors.\n")
	mc := r.Settings.Match
	p("- **Match** (lobbyd only: the gorilla and Socket.IO baselines have no matchmaking, so they have no figures here and no match target is a comparison): %d players, each one connection with a guest token, skills drawn once from N(%g, %g) with seed %d (the same population every run). They queue solo tickets on the `%s` queue%s, every ticket with %s. An open-loop pacer sends `mm.enqueue` at the offered rate (%v tickets/s, %s measured per step after %s of warm-up), each from a player not already queued; a player that gets `mm.matched` sends `lobby.leave` for its match lobby and, once that is answered, may be queued again. Time to match = receipt of `mm.matched` − sending of `mm.enqueue`, on the client's clock. Skill spread of a match = max − min skill of its players, computed by the client from `teams` and the skills it assigned. A step passes when p99 < %s, ≥ 90%% of enqueued tickets are matched, < 1%% of requests are refused, and the pacer found a free player for ≥ 95%% of its schedule (*starved* otherwise: tickets waited so long that every player was already queued — the server's failure, not the client's). The ramp stops at the first failed step; latency and spread are read at the fixed rate of %g tickets/s. Queued tickets left at the end get %s to match, then are cancelled.\n\n",
		orInt(mc.Players, 2000), orFloat(mc.SkillMean, 1500), orFloat(mc.SkillSD, 300), orUint(mc.Seed, 1), orStr(mc.Queue, "duel"), queueText(orStr(mc.Queue, "duel")), regionText(mc.Region),
		mc.Rates, orDefault(mc.Measure, 2*time.Second), orDefault(mc.Warm, time.Second), load.MatchP99Limit, orFloat(mc.FixedRate, 2000), orDefault(mc.Drain, 2*time.Second))

	var errs []string
	for _, run := range r.Data {
		for _, e := range run.Errors {
			errs = append(errs, fmt.Sprintf("- %s, run %d: %s", title(run.Server), run.Index, e))
		}
	}
	if len(errs) > 0 {
		p("## Errors during the runs\n\n%s\n\n", strings.Join(errs, "\n"))
	}
	p("## Reproduce\n\n```\ncd bench\ngo run . compare            # full: 3 runs, ≤ 15 minutes\ngo run . compare -quick     # smoke run, about two minutes\ngo run . idle -n 10000 -addr 127.0.0.1:8080 -operator-token TOKEN   # against a running lobbyd\ngo run . fanout -addr 127.0.0.1:8080 -rate 5 [-ramp 2,5,20,80]   # the relay, against a running server (-kind lobbyd|gorilla|socketio|colyseus|centrifuge)\ngo run . match -addr 127.0.0.1:8080 -n 2000 -rate 2000 -duration 5s [-ramp 2000,4000,8000]   # matchmaking, against a running lobbyd --dev\ngo run . render             # RESULTS.md and chart.png again from results.json\n```\n\nRaw figures: `results.json`; chart: `chart.png`.\n\n![chart](chart.png)\n")
}

// fanoutNotes explains the two send patterns and sets the CPU figures
// against the write floor.
func fanoutNotes(p func(string, ...any), r *Results) {
	p("*Own phases*: every player sends at its own evenly spread phase, as independent clients do, so a recipient's messages arrive one at a time. *Lobby in step*: the 8 members of a lobby send within the same few milliseconds, as lockstep clients answering a tick do, so a recipient gets 7 messages at once: a server that gathers a connection's output into one write (lobbyd does, once per loop turn) needs fewer writes per message. Capacity and the ramp use own phases.\n\n")
	s, ok := floorSummary(r.Floor)
	if !ok {
		return
	}
	p("**The write floor.** One write(2) per delivered message and nothing else — no WebSocket, no parsing, no routing — at the fixed load's rate and burst shape, from one thread to %d loopback sockets drained by goroutines, costs that thread **%s CPU s per 1M writes** (%s) on this machine (`load.WriteFloor`). On loopback the kernel charges the writer for the receiving socket's TCP processing and for waking its reader too. A server that writes each delivery on its own cannot go below this figure.",
		orInt(r.Settings.Fanout.Conns, 800), fmtNum(s.Median, 2), cell(s, 2))
	if sio, ok := r.summary(mCPUPerM, "socketio"); ok {
		p(" A tenth of Express + Socket.IO's CPU per message (own phases) would be %s s per 1M: %s the floor.", fmtNum(sio.Median/10, 2), map[bool]string{true: "below", false: "above"}[sio.Median/10 < s.Median])
	}
	p("\n\n")
	rs, ok := floorSummary(r.RelayFloor)
	if !ok {
		return
	}
	p("**The relay floor.** The least a relay can do at own phases: players send at the fixed load's rate and shape, and one thread waits on all their sockets in one epoll set, reads each message as it arrives and writes it to the 7 others of its lobby, one write(2) per delivery — still no WebSocket, parsing, routing or sessions. It costs that thread **%s CPU s per 1M deliveries** (%s; `load.RelayFloor`).",
		fmtNum(rs.Median, 2), cell(rs, 2))
	if lb, ok := r.summary(mCPUPerM, "lobbyd"); ok && rs.Median > 0 {
		p(" lobbyd at own phases spends %s× that; 1.25× the write floor is %s s per 1M, %s the relay floor.", fmtNum(lb.Median/rs.Median, 2), fmtNum(1.25*s.Median, 2), map[bool]string{true: "below", false: "above"}[1.25*s.Median < rs.Median])
	}
	if rs.Median < s.Median {
		p(" It reads below the write floor: its writes come 7 at a time as each message arrives, the write floor's in the pacer's bursts of every message due in a 5 ms tick, and a write costs more in such a burst (ANALYSIS.md).")
	}
	p("\n\n")
	cs, ok := floorSummary(r.ClientFloor)
	if !ok {
		return
	}
	p("**The client floor.** The write and relay floors write to bare sockets drained by goroutines of the bench's own process. A server writes to the load generator's WebSocket clients, in another process, and on loopback the kernel charges every write with the receiver's TCP processing and wake-up. The client floor is a server with nothing but the relay (`bench/baselines/wsfloor`): it seats the players in the gorilla baseline's dialect, then one thread waits on every socket in one epoll set, reads each frame as it arrives and writes the `lobby.data` event to the 7 others, one raw write(2) per delivery, with no sessions, sequence numbers, replay, rate limit or write queue. Driven by the relay workload at the fixed load, own phases, it costs its process **%s CPU s per 1M deliveries** (%s), %s× the write floor: what a write to these clients costs any server here.",
		fmtNum(cs.Median, 2), cell(cs, 2), fmtNum(cs.Median/s.Median, 2))
	if lb, ok := r.summary(mCPUPerM, "lobbyd"); ok && cs.Median > 0 {
		p(" lobbyd at own phases spends %s× the client floor; 1.25× the write floor (%s s per 1M) is %s it.", fmtNum(lb.Median/cs.Median, 2), fmtNum(1.25*s.Median, 2), map[bool]string{true: "below", false: "above"}[1.25*s.Median < cs.Median])
	}
	p("\n\n")
}

// pageSizes lists each server's listing page as measured (the first
// answer of its browse workload), as " (lobbyd 8,033 bytes, ...)", or ""
// when no run recorded one.
func pageSizes(r *Results) string {
	var parts []string
	for _, k := range r.Servers {
		for _, run := range r.runsOf(k) {
			if run.Browse != nil && run.Browse.PageBytes > 0 {
				parts = append(parts, fmt.Sprintf("%s %s bytes", title(k), fmtNum(float64(run.Browse.PageBytes), 0)))
				break
			}
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (pages of the run: " + strings.Join(parts, ", ") + ")"
}

// floorTargets adds the relay-cost target rows: lobbyd's CPU per delivery
// at own phases against 1.25× the write floor, and against 1.25× the
// client floor, the least any server spends with the bench's clients.
func floorTargets(p func(string, ...any), r *Results) {
	lb, ok := r.summary(mCPUPerM, "lobbyd")
	if !ok {
		return
	}
	for _, f := range []struct {
		name string
		runs []load.FloorResult
	}{
		{"the write floor", r.Floor},
		{"the client floor (the least a WebSocket relay spends with the bench's clients: below)", r.ClientFloor},
	} {
		if s, ok := floorSummary(f.runs); ok {
			ratio := lb.Median / s.Median
			per := ""
			if rs := r.floorRunRatios(f.runs); rs.N > 0 {
				per = "; in each run, against its own floor: " + cell(rs, 2)
			}
			p("| lobbyd relay CPU per delivery at own phases ≤ 1.25× %s | %.2f× (%s against %s s per 1M%s) | %s |\n",
				f.name, ratio, fmtNum(lb.Median, 2), fmtNum(s.Median, 2), per, yesNo(ratio <= 1.25))
		}
	}
}

// floorRunRatios is lobbyd's CPU per delivery at own phases over the floor
// of its own run, for each run that has both (runs' floors are measured
// just before lobbyd's turn; results written before floors named their run
// have none).
func (r *Results) floorRunRatios(floors []load.FloorResult) stats.Summary {
	var per []float64
	runs := r.runsOf("lobbyd")
	for _, f := range floors {
		if f.Run == 0 || f.CPUPerMillion <= 0 {
			continue
		}
		for _, a := range runs {
			if x, ok := mCPUPerM.get(a); ok && a.Index == f.Run && x > 0 {
				per = append(per, x/f.CPUPerMillion)
			}
		}
	}
	return stats.Summarize(per)
}

// floorSummary summarizes a floor's runs (those that measured something).
func floorSummary(runs []load.FloorResult) (stats.Summary, bool) {
	var xs []float64
	for _, f := range runs {
		if f.CPUPerMillion > 0 {
			xs = append(xs, f.CPUPerMillion)
		}
	}
	if len(xs) == 0 {
		return stats.Summary{}, false
	}
	return stats.Summarize(xs), true
}

// goroutineReads names the idle workload's reads of go_goroutines (a run
// recorded before the setting took load.DefaultGoroutineReads).
func goroutineReads(n int) string {
	if n <= 0 {
		n = load.DefaultGoroutineReads
	}
	words := []string{"", "one read", "two reads", "three reads", "four reads", "five reads"}
	if n < len(words) {
		return words[n]
	}
	return fmt.Sprintf("%d reads", n)
}

// rereadRule is the method's words for load.FanoutConfig's ReadLateTwice,
// said only of a run made with it.
func rereadRule(on bool) string {
	if !on {
		return ""
	}
	return fmt.Sprintf("a step whose deliveries all arrived with p99 from %g up to %g ms is run once more once the backlog has drained, and the second reading decides",
		ms(load.P99Limit), ms(load.RereadBelow))
}

// fanoutRereadRule is rereadRule as the fanout method's clause.
func fanoutRereadRule(on bool) string {
	if !on {
		return ""
	}
	return ", except that " + rereadRule(on) + " (on two cores one scheduling stall can put a window's p99 just over the bound, where a saturated server's backlog puts it hundreds of ms over; both readings are in the ramp tables)"
}

// clusterRereadRule is rereadRule as the cluster section's aside.
func clusterRereadRule(on bool) string {
	if !on {
		return ""
	}
	return " (capacity as on one node: " + rereadRule(on) + ")"
}

func bestStep(f *load.FanoutResult) (load.FanoutStep, bool) {
	var best load.FanoutStep
	ok := false
	for _, st := range f.Steps {
		if st.OK && (!ok || st.Delivered > best.Delivered) {
			best, ok = st, true
		}
	}
	return best, ok
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "**no**"
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// clusterTitles name the systems of the cluster workload.
var clusterTitles = map[string]string{
	"lobbyd":     "lobbyd, 2 shards",
	"socketio":   "Socket.IO + @socket.io/redis-adapter, 2 Node processes",
	"centrifuge": "centrifuge + its Redis broker and presence, 2 nodes",
}

// clusterRow returns the cluster run of a system with figures.
func (r *Results) clusterRow(system string) (ClusterRun, bool) {
	for _, c := range r.Cluster {
		if c.System == system && c.Fanout != nil {
			return c, true
		}
	}
	return ClusterRun{}, false
}

// clusterWorkloads are the two ramps of the cluster workload.
var clusterWorkloads = []struct {
	title, what string
	of          func(ClusterRun) *load.FanoutResult
}{
	{"Relay (`lobby.send` to the 7 others)", "relay", func(c ClusterRun) *load.FanoutResult { return c.Fanout }},
	{"Chat (to all 8, the sender included; kept for recovery where the system can: lobbyd's lobby log, centrifuge's channel history)", "chat",
		func(c ClusterRun) *load.FanoutResult { return c.Chat }},
}

// clusterSection writes the cluster workload: capacity at p99 < 50 ms and
// the fixed load's cost, per system and workload, and lobbyd's ratios.
func clusterSection(p func(string, ...any), r *Results) {
	if len(r.Cluster) == 0 {
		return
	}
	c := r.Settings.Cluster
	p("## Cluster: two nodes and one Redis, lobbies split across nodes\n\n")
	p("Each system on two processes sharing a private redis-server (started by the run, so that Redis's INFO counters are the system's alone), the way its docs scale it out. %d players in lobbies of %d, player i on node i mod 2: every lobby has half its members on each node, so every message crosses Redis. Ramp %v msgs/s per player%s, fixed load %g msgs/s each; node CPU is both processes', Redis's is shown on its own. Measured once per compare (not per run). Two systems that pass the same step and fail the next are level at the ramp's resolution (their delivered rates at one offered rate differ by the windows' jitter), and a target of at least 1× counts them so; the ratio shown is still that of their delivered rates.\n\n",
		orInt(c.Conns, 800), orInt(c.LobbySize, 8), c.Rates, clusterRereadRule(c.ReadLateTwice), orFloat(c.FixedRate, 5))
	for _, w := range clusterWorkloads {
		p("### %s\n\n", w.title)
		p("| system | version | delivered msgs/s at p99 < 50 ms | fixed: delivered/s | p50 | p99 | nodes CPU s per 1M delivered | Redis CPU (cores) | Redis commands per delivered | flagged |\n|---|---|---|---|---|---|---|---|---|---|\n")
		for _, run := range r.Cluster {
			name := clusterTitles[run.System]
			if name == "" {
				name = run.System
			}
			f := w.of(run)
			if f == nil {
				p("| %s | %s | failed: %s | | | | | | | |\n", name, run.Version, run.Error)
				continue
			}
			flag := ""
			if f.Fixed.ClientLimited || f.MaxClientLimited {
				flag = "client/machine-limited"
			}
			if !f.Saturated {
				flag += " capacity is a floor (ramp ended)"
			}
			p("| %s | %s | %s | %s | %.2f ms | %.2f ms | %.2f | %.2f | %.3f | %s |\n", name, run.Version, fmtNum(f.MaxDelivered, 0),
				fmtNum(f.Fixed.Delivered, 0), ms(f.Fixed.P50), ms(f.Fixed.P99), f.Fixed.CPUPerMillion, f.Fixed.CPU.Backend, f.Fixed.CommandsPerDelivered, strings.TrimSpace(flag))
		}
		p("\n")
	}
	l, ok := r.clusterRow("lobbyd")
	if !ok {
		return
	}
	p("| target | ratio | met |\n|---|---|---|\n")
	// The 5× Socket.IO relay target; ahead of every other peer and
	// workload.
	for _, t := range []struct {
		system string
		w      int // index in clusterWorkloads
		factor float64
	}{{"socketio", 0, 5}, {"socketio", 1, 1}, {"centrifuge", 0, 1}, {"centrifuge", 1, 1}} {
		o, ok := r.clusterRow(t.system)
		w := clusterWorkloads[t.w]
		lf, of := w.of(l), w.of(o)
		if !ok || lf == nil || of == nil {
			continue
		}
		if of.MaxDelivered > 0 {
			ratio := lf.MaxDelivered / of.MaxDelivered
			met, same := ratio >= t.factor, ""
			if rate, ok := levelAt(lf, of); ok && t.factor <= 1 {
				// Both passed the same step and failed the next: a tie at
				// the ramp's resolution. Their delivered rates at one
				// offered rate differ by the windows' jitter (under 1%),
				// not by what the systems can carry.
				met, same = true, fmt.Sprintf(" (both passed %g msgs/s per player and no step above: level)", rate)
			}
			p("| lobbyd cross-shard %s capacity ≥ %g× %s | %.2f×%s | %s |\n", w.what, t.factor, clusterTitles[t.system], ratio, same, yesNo(met))
		} else {
			p("| lobbyd cross-shard %s capacity ≥ %g× %s | not measured (no step of %s passed) | — |\n", w.what, t.factor, clusterTitles[t.system], t.system)
		}
		if of.Fixed.CPUPerMillion > 0 && lf.Fixed.CPUPerMillion > 0 {
			cr := of.Fixed.CPUPerMillion / lf.Fixed.CPUPerMillion
			p("| lobbyd nodes CPU per delivered %s message below that of %s | %.2f× | %s |\n", w.what, clusterTitles[t.system], cr, yesNo(cr >= 1))
		}
	}
	p("\n")
	clusterFloor(p, r, l)
}

// levelAt is the rate per player of the capacity step of both ramps, when
// it is the same step (bestStep) for both.
func levelAt(a, b *load.FanoutResult) (float64, bool) {
	sa, oka := bestStep(a)
	sb, okb := bestStep(b)
	return sa.RatePerPlayer, oka && okb && sa.RatePerPlayer == sb.RatePerPlayer
}

// clusterFloor says whether the 5× Socket.IO relay target fits this
// machine at all: the load generator's own CPU per delivered message
// (measured at lobbyd's fixed load) times five times Socket.IO's capacity,
// against the machine's cores, which the two nodes, Redis and the load
// generator share.
func clusterFloor(p func(string, ...any), r *Results, l ClusterRun) {
	o, ok := r.clusterRow("socketio")
	if !ok || o.Fanout.MaxDelivered <= 0 || l.Fanout.Fixed.Delivered <= 0 || r.Machine.Cores <= 0 {
		return
	}
	clientPerMsg := l.Fanout.Fixed.CPU.Client / l.Fanout.Fixed.Delivered // cores·s per message
	target := 5 * o.Fanout.MaxDelivered
	need := target * clientPerMsg
	nodes := target * l.Fanout.Fixed.CPUPerMillion / 1e6
	p("**The 5× target and this machine.** Five times Socket.IO's cross-node relay capacity is %s delivered msgs/s. At lobbyd's fixed load the load generator spent %.2f CPU s per 1M delivered and lobbyd's two shards %.2f: at %s msgs/s that is %.2f cores for the load generator and %.2f for the shards, %.2f in all (Redis not counted), on a machine of %d cores that all of them share.",
		fmtNum(target, 0), clientPerMsg*1e6, l.Fanout.Fixed.CPUPerMillion, fmtNum(target, 0), need, nodes, need+nodes, r.Machine.Cores)
	if need+nodes > float64(r.Machine.Cores) {
		p(" The target is above what this machine can run, whoever the server is; lobbyd's capacity here is set by the cores, and its CPU per delivered message is the figure to compare.\n\n")
	} else {
		p(" It fits on this machine.\n\n")
	}
}
