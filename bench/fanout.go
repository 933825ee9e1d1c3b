package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/lobbyd/lobbyd/bench/internal/harness"
	"github.com/lobbyd/lobbyd/bench/internal/load"
)

// fanoutCmd runs the relay workload against a running server: the tool for
// profiling one server at one load, where compare runs them all.
func fanoutCmd(args []string) error {
	fs := flag.NewFlagSet("fanout", flag.ContinueOnError)
	n := fs.Int("n", 800, "players (in lobbies of -lobby)")
	addr := fs.String("addr", "127.0.0.1:8080", "server address (loopback only); several, comma-separated, are the nodes of one cluster: player i on node i mod count, CPU summed over them")
	pid := fs.Int("pid", 0, "server process id (default: the process listening on -addr; one address only)")
	chat := fs.Bool("chat", false, "send lobby.chat instead of lobby.send (lobbyd)")
	kind := fs.String("kind", harness.Lobbyd, "server dialect: lobbyd (guest JWT), gorilla (?user=), socketio, colyseus or centrifuge (JWTs signed with $JWT_SECRET)")
	lobby := fs.Int("lobby", 8, "players per lobby")
	rate := fs.Float64("rate", 5, "messages/s per player of the fixed-load step")
	ramp := fs.String("ramp", "", "messages/s per player to step through first, rising, comma-separated; empty: the fixed rate only")
	measure := fs.Duration("measure", 2*time.Second, "measured time per step (max 1m)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 2 || *n > 19000 || *lobby < 2 || *lobby > *n {
		return fmt.Errorf("fanout: -n must be 2..19000 and -lobby 2..n")
	}
	if *rate <= 0 || *measure <= 0 || *measure > time.Minute {
		return fmt.Errorf("fanout: -rate must be > 0 and -measure in (0, 1m]")
	}
	rates, err := parseRates("fanout", *ramp)
	if err != nil {
		return err
	}
	if len(rates) == 0 {
		// The fixed rate only: load.Fanout's own default is the whole ramp.
		rates = []float64{*rate}
	}
	t, err := fanoutTarget(*kind, *addr, *pid)
	if err != nil {
		return err
	}
	warnFDLimit(*n)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := load.Fanout(ctx, t, load.FanoutConfig{Conns: *n, LobbySize: *lobby, Rates: rates, FixedRate: *rate, Measure: *measure, Chat: *chat, ReadLateTwice: true})
	if err != nil {
		return err
	}
	fmt.Printf("server pid %d (%s at %s), %d players in lobbies of %d\n", t.PID, *kind, *addr, *n, *lobby)
	if *ramp != "" {
		fmt.Printf("delivered msgs/s at p99 < 50 ms: %.0f (saturated: %v, client-limited: %v)\n", res.MaxDelivered, res.Saturated, res.MaxClientLimited)
	}
	for _, x := range []struct {
		name string
		st   load.FanoutStep
	}{{"players at their own phases", res.Fixed}, {"each lobby in step", res.FixedInStep}} {
		f := x.st
		fmt.Printf("at %g msgs/s per player, %s: delivered %.0f/s, p50 %s, p99 %s\n", f.RatePerPlayer, x.name, f.Delivered, f.P50, f.P99)
		fmt.Printf("  server CPU %.2f cores, load generator %.2f, other %.2f; server CPU per 1M delivered: %.2f s\n",
			f.CPU.Server, f.CPU.Client, f.CPU.Other, f.CPUPerMillion)
	}
	return nil
}

// fanoutTarget is the server at addr, or, for several comma-separated
// addresses, the nodes of one cluster as one target: player i dials node
// i mod count (spreadDialer, as compare's cluster workload does, so every
// lobby of 8 has members on each of two nodes) and the CPU read is every
// node's.
func fanoutTarget(kind, addr string, pid int) (*load.Target, error) {
	addrs := strings.Split(addr, ",")
	if len(addrs) == 1 {
		return runningTarget("fanout", kind, addr, pid)
	}
	if pid != 0 {
		return nil, fmt.Errorf("fanout: -pid goes with one -addr; a cluster's nodes are found by their ports")
	}
	var nodes []*load.Target
	for _, a := range addrs {
		t, err := runningTarget("fanout", kind, strings.TrimSpace(a), 0)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, t)
	}
	t := *nodes[0]
	t.Name = kind + " cluster"
	dialers := make(spreadDialer, len(nodes))
	for i, nd := range nodes {
		dialers[i] = nd.Dialer
		if i > 0 {
			t.ExtraPIDs = append(t.ExtraPIDs, nd.PID)
		}
	}
	t.Dialer = dialers
	return &t, nil
}
