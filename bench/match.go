package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/lobbyd/lobbyd/bench/internal/harness"
	"github.com/lobbyd/lobbyd/bench/internal/load"
)

// matchCmd drives lobbyd's matchmaker from N players against a running
// server and prints matched tickets/s, time to match and skill spread.
func matchCmd(args []string) error {
	fs := flag.NewFlagSet("match", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "lobbyd address (loopback only; started with --dev for guest tokens)")
	n := fs.Int("n", 2000, "players (one connection each)")
	rate := fs.Float64("rate", 2000, "offered tickets/s of the fixed-rate measurement")
	ramp := fs.String("ramp", "", "offered tickets/s to step through first, rising, comma-separated (e.g. 2000,5000,10000,20000); empty: the fixed rate only")
	duration := fs.Duration("duration", 5*time.Second, "measured time per rate")
	warm := fs.Duration("warm", time.Second, "unmeasured warm-up per rate")
	queue := fs.String("queue", "duel", "queue to join")
	region := fs.String("region", "", "region of every ticket (empty: none)")
	seed := fs.Uint64("seed", 1, "seed of the skill population, N(1500, 300)")
	pid := fs.Int("pid", 0, "server process id, for its CPU (default: the process listening on -addr)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 2 || *n > 19000 {
		return fmt.Errorf("match: -n must be 2..19000")
	}
	if *rate <= 0 || *rate > 1e6 {
		return fmt.Errorf("match: -rate must be in (0, 1e6]")
	}
	if *duration <= 0 || *duration > 10*time.Minute || *warm > time.Minute {
		return fmt.Errorf("match: -duration must be in (0, 10m], -warm at most 1m")
	}
	rates, err := parseRates("match", *ramp)
	if err != nil {
		return err
	}
	t, err := runningTarget("match", harness.Lobbyd, *addr, *pid)
	if err != nil {
		return err
	}
	warnFDLimit(*n)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg := load.MatchConfig{Players: *n, Queue: *queue, Region: *region, Seed: *seed, Rates: rates, FixedRate: *rate,
		Warm: *warm, Measure: *duration}
	res, err := load.Match(ctx, t, cfg)
	if err != nil {
		return err
	}
	fmt.Printf("lobbyd pid %d at %s: %d players on %q, skill ~ N(1500, 300) seed %d (population %.0f..%.0f), connected in %.1fs\n",
		*pid, *addr, res.Players, res.Queue, res.Seed, res.SkillMin, res.SkillMax, res.ConnectSecs)
	fmt.Printf("%-10s %10s %10s %8s %8s %8s %8s %8s  %-22s %s\n", "offered/s", "enqueued/s", "matched/s", "p50 ms", "p99 ms",
		"spread", "max", "refused", "server/client/other", "verdict")
	for _, st := range res.Steps {
		printStep(st)
	}
	if len(rates) > 0 {
		fmt.Printf("highest matched/s with p99 < %s: %.0f", load.MatchP99Limit, res.MaxMatched)
		switch {
		case res.MaxClientLimited:
			fmt.Printf(" (client/machine-limited: a floor)")
		case !res.Saturated:
			fmt.Printf(" (the ramp ended before lobbyd failed: a floor)")
		}
		fmt.Println()
		fmt.Printf("at the fixed rate:\n")
	}
	printStep(res.Fixed)
	fmt.Printf("all %d matches of the run: skill spread mean %.1f, max %.1f", res.Matches, res.SpreadMean, res.SpreadMax)
	if res.Foreign > 0 {
		fmt.Printf("; %d matches with players of another run left out", res.Foreign)
	}
	if res.Cancelled > 0 {
		fmt.Printf("; %d tickets cancelled by the server", res.Cancelled)
	}
	if res.Refused > 0 {
		fmt.Printf("; %d requests refused (first: %s)", res.Refused, res.FirstRefusal)
	}
	fmt.Println()
	return nil
}

func printStep(st load.MatchStep) {
	verdict := "ok"
	if !st.OK {
		verdict = "failed"
	}
	if st.Starved {
		verdict += ", starved"
	}
	if st.ClientLimited {
		verdict += ", client/machine-limited"
	}
	fmt.Printf("%-10.0f %10.0f %10.0f %8.2f %8.2f %8.1f %8.1f %8d  %-22s %s\n", st.Offered, st.Enqueued, st.Matched,
		float64(st.P50)/1e6, float64(st.P99)/1e6, st.SpreadMean, st.SpreadMax, st.Refused,
		fmt.Sprintf("%.2f / %.2f / %.2f", st.CPU.Server, st.CPU.Client, st.CPU.Other), verdict)
}

// parseRates reads a rising comma-separated list of rates.
