package report

import (
	"fmt"
	"strings"

	"github.com/lobbyd/lobbyd/bench/internal/load"
)

// matchSection writes the matchmaking figures: lobbyd's column only, since
// the baselines have no matchmaking.
func matchSection(p func(string, ...any), r *Results) {
	if !r.has("lobbyd") {
		return
	}
	mc := r.Settings.Match
	p("### Match: %d players queueing on `%s` (1 v 1), skill ~ N(%g, %g), seed %d\n\n", orInt(mc.Players, 2000), orStr(mc.Queue, "duel"),
		orFloat(mc.SkillMean, 1500), orFloat(mc.SkillSD, 300), orUint(mc.Seed, 1))
	var others []string
	for _, k := range r.Servers {
		if k != "lobbyd" {
			others = append(others, title(k))
		}
	}
	if len(others) > 0 {
		p("%s: no matchmaking, not measured.\n\n", strings.Join(others, ", "))
	}
	p("| figure | lobbyd |\n|---|---|\n")
	for _, mt := range []metric{mMatchRate, mMatchP50, mMatchP99, mSpreadMean, mSpreadMax, mSpreadMeanAll, mSpreadMaxAll} {
		s, _ := r.summary(mt, "lobbyd")
		p("| %s (%s), %s is better | %s |\n", mt.Name, mt.Unit, mt.Better, cell(s, mt.Digits))
	}
	var foreign, cancelled, refused uint64
	first := ""
	for _, run := range r.runsOf("lobbyd") {
		if m := run.Match; m != nil {
			foreign, cancelled, refused = foreign+m.Foreign, cancelled+m.Cancelled, refused+m.Refused
			if first == "" {
				first = m.FirstRefusal
			}
		}
	}
	p("\n")
	if foreign+cancelled+refused > 0 {
		p("Over all runs: %d matches held a player of no run (left out of the spread), the server cancelled %d tickets, and refused %d requests", foreign, cancelled, refused)
		if first != "" {
			p(" (first: `%s`)", first)
		}
		p(".\n\n")
	}
}

// matchRamp writes the offered-rate ramp of lobbyd's last run.
func matchRamp(p func(string, ...any), r *Results) {
	runs := r.runsOf("lobbyd")
	if len(runs) == 0 || runs[len(runs)-1].Match == nil {
		return
	}
	m := runs[len(runs)-1].Match
	p("### Match ramp (last run of lobbyd)\n\n")
	if !m.Saturated {
		p("The ramp ended before lobbyd failed: its capacity is at least the last step.\n\n")
	}
	p("| offered tickets/s | enqueued/s | matched/s | p50 ms | p99 ms | mean / max skill spread | server / client / other cores | verdict |\n|---|---|---|---|---|---|---|---|\n")
	for _, st := range m.Steps {
		p("| %s | %s | %s | %.1f | %.1f | %.1f / %.1f | %.2f / %.2f / %.2f | %s |\n", fmtNum(st.Offered, 0), fmtNum(st.Enqueued, 0),
			fmtNum(st.Matched, 0), ms(st.P50), ms(st.P99), st.SpreadMean, st.SpreadMax, st.CPU.Server, st.CPU.Client, st.CPU.Other, matchVerdict(st))
	}
	p("\n")
}

func matchVerdict(st load.MatchStep) string {
	v := "ok"
	if !st.OK {
		v = fmt.Sprintf("**failed** (p99 ≥ %s, < 90%% matched, ≥ 1%% refused, or starved)", load.MatchP99Limit)
	}
	if st.Starved {
		v += ", starved: every player already queued"
	}
	if st.Refused > 0 {
		v += fmt.Sprintf(", %d refused", st.Refused)
	}
	if st.ClientLimited {
		v += ", client/machine-limited"
	}
	return v
}

func bestMatchStep(m *load.MatchResult) (load.MatchStep, bool) {
	var best load.MatchStep
	ok := false
	for _, st := range m.Steps {
		if st.OK && (!ok || st.Matched > best.Matched) {
			best, ok = st, true
		}
	}
	return best, ok
}

// has reports whether server ran.
func (r *Results) has(server string) bool {
	for _, k := range r.Servers {
		if k == server {
			return true
		}
	}
	return false
}

func regionText(region string) string {
	if region == "" {
		return "no region (the same for all, so the region-strict queue can match anyone with anyone)"
	}
	return fmt.Sprintf("region %q", region)
}

// queueText describes lobbyd's built-in duel queue (matchmaking's
// DefaultQueues; the harness's config lists no queues).
func queueText(q string) string {
	if q != "duel" {
		return ""
	}
	return " (lobbyd's built-in queue: 1 v 1; skill window 100, growing 20/s to 1000; region strict)"
}

func orInt(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

func orFloat(v, def float64) float64 {
	if v <= 0 {
		return def
	}
	return v
}

func orUint(v, def uint64) uint64 {
	if v == 0 {
		return def
	}
	return v
}

func orStr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
