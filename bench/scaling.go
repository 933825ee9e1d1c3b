package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lobbyd/lobbyd/bench/internal/harness"
	"github.com/lobbyd/lobbyd/bench/internal/load"
	"github.com/lobbyd/lobbyd/bench/internal/proc"
)

// scalingCmd measures how lobbyd's costs grow: memory and CPU per player as
// the number of idle players grows (a fresh lobbyd for each N), and the
// matcher's pass time as the queue grows (the matchmaking package's
// BenchmarkMatchDuelScaling: 10k, 100k and 1M tickets). It prints a
// Markdown table with, for each figure, whether it grows linearly.
func scalingCmd(args []string) error {
	fs := flag.NewFlagSet("scaling", flag.ContinueOnError)
	nsFlag := fs.String("ns", "", "players, comma-separated, rising (default 1000,5000,10000 and the most the fd limit allows, ≤ 19000)")
	hold := fs.Duration("hold", 3*time.Second, "idle window over which the server's CPU per player is read (1s..1m)")
	benchtime := fs.String("benchtime", "1x", "go test -benchtime of the matcher benchmark; empty: skip the matcher")
	chart := fs.String("chart", "", "also draw the figures into this PNG file (per-unit cost against size, log axis)")
	timeout := fs.Duration("timeout", 15*time.Minute, "bound on the whole run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *hold < time.Second || *hold > time.Minute {
		return errors.New("scaling: -hold must be 1s..1m")
	}
	lim, err := harness.EnsureFDLimit()
	if err != nil {
		return err
	}
	most := int(min(lim, 20000)) - 1000
	ns, err := parseNs(*nsFlag, most)
	if err != nil {
		return err
	}
	root, err := harness.RepoRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "lobbyd-bench-scaling-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := runContext(*timeout)
	defer cancel()
	logf := stampedLog
	env := &harness.Env{Root: root, Tmp: tmp, Logf: logf, MaxConns: ns[len(ns)-1] + 1000}
	prep, err := harness.Prepare(ctx, env, harness.Lobbyd)
	if err != nil {
		return err
	}
	var players []playerScale
	for _, n := range ns {
		logf("scaling: %d players", n)
		ps, err := scaleOne(ctx, env, prep, n, *hold, logf)
		if err != nil {
			return fmt.Errorf("scaling: %d players: %w", n, err)
		}
		players = append(players, ps)
	}
	var passes []passScale
	if *benchtime != "" {
		logf("scaling: matcher passes (go test -bench BenchmarkMatchDuelScaling -benchtime %s ./matchmaking)", *benchtime)
		cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "^BenchmarkMatchDuelScaling$",
			"-benchtime", *benchtime, "-count", "1", "./matchmaking")
		cmd.Dir = root // the server's module
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("scaling: matcher benchmark: %w\n%s", err, out)
		}
		if passes, err = parsePasses(out); err != nil {
			return err
		}
	}
	if *chart != "" {
		f, err := os.Create(*chart)
		if err != nil {
			return err
		}
		err = scalingChart(f, players, passes)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("scaling: chart: %w", err)
		}
	}
	printScaling(os.Stdout, "cd bench && go run . "+strings.Join(append([]string{"scaling"}, args...), " "),
		harness.DescribeMachine(), prep.Version, *hold, players, passes, *chart)
	return nil
}

// parseNs reads -ns; empty gives 1000, 5000, 10000 and most.
func parseNs(s string, most int) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		out := []int{}
		for _, n := range []int{1000, 5000, 10000} {
			if n < most {
				out = append(out, n)
			}
		}
		return append(out, most), nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 16 || n > most {
			return nil, fmt.Errorf("scaling: bad -ns entry %q (16..%d with this fd limit)", f, most)
		}
		if len(out) > 0 && n <= out[len(out)-1] {
			return nil, fmt.Errorf("scaling: -ns must rise: %q", s)
		}
		out = append(out, n)
	}
	if len(out) > 16 {
		return nil, errors.New("scaling: at most 16 -ns entries")
	}
	return out, nil
}

// playerScale is lobbyd with n idle players in lobbies of 8.
type playerScale struct {
	N              int
	BytesPerPlayer float64 // RSS delta ÷ n
	ConnectCPU     float64 // server CPU seconds to connect and seat them, ÷ n, in ms
	IdleCPU        float64 // server CPU while they are idle, µs per second per player
	Goroutines     int
}

func scaleOne(ctx context.Context, env *harness.Env, p *harness.Prepared, n int, hold time.Duration, logf func(string, ...any)) (playerScale, error) {
	srv, err := harness.Start(ctx, env, p, logf)
	if err != nil {
		return playerScale{}, err
	}
	defer srv.Stop()
	pid := srv.Target.PID
	c0, _ := proc.CPU(pid)
	idle, held, err := load.Idle(ctx, srv.Target, load.IdleConfig{N: n, LobbySize: 8, Settle: time.Second})
	if err != nil {
		return playerScale{}, err
	}
	defer held.Close()
	c1, _ := proc.CPU(pid)
	t1 := time.Now()
	select {
	case <-time.After(hold):
	case <-ctx.Done():
		return playerScale{}, ctx.Err()
	}
	c2, _ := proc.CPU(pid)
	wall := time.Since(t1).Seconds()
	return playerScale{N: n, BytesPerPlayer: idle.BytesPerConn, Goroutines: idle.Goroutines,
		ConnectCPU: (c1 - c0).Seconds() * 1e3 / float64(n),
		IdleCPU:    (c2 - c1).Seconds() * 1e6 / wall / float64(n)}, nil
}

// passScale is one matcher pass over n tickets.
type passScale struct {
	Tickets int
	Pass    time.Duration
}

var passLine = regexp.MustCompile(`^BenchmarkMatchDuelScaling/(\d+)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op`)

// parsePasses reads the benchmark's sub-benchmark lines.
func parsePasses(out []byte) ([]passScale, error) {
	var ps []passScale
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := passLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		ns, _ := strconv.ParseFloat(m[2], 64)
		ps = append(ps, passScale{Tickets: n, Pass: time.Duration(ns)})
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("scaling: no BenchmarkMatchDuelScaling results in %q", out)
	}
	return ps, nil
}

// linearity says how a cost grows, from its value per unit at each size
// (sizes rising): linear when the per-unit value stays within 25% of the
// smallest; otherwise where it bends (the largest step between sizes).
func linearity(sizes []int, perUnit []float64) string {
	if len(perUnit) < 2 {
		return "one size only"
	}
	lo, hi := slices.Min(perUnit), slices.Max(perUnit)
	if lo <= 0 {
		return "not measurable (a per-unit figure is 0)"
	}
	if hi <= 1.25*lo {
		return fmt.Sprintf("linear: per unit within %.0f%% from %d to %d", (hi/lo-1)*100, sizes[0], sizes[len(sizes)-1])
	}
	first, last := perUnit[0], perUnit[len(perUnit)-1]
	bend, worst := 1, 0.0
	for i := 1; i < len(perUnit); i++ {
		r := perUnit[i] / perUnit[i-1]
		if last < first {
			r = 1 / r
		}
		if r > worst {
			bend, worst = i, r
		}
	}
	kind := "faster than linear"
	if last < first {
		kind = "slower than linear (a fixed cost spread over more units)"
	}
	return fmt.Sprintf("%s: per unit ×%.2f from %d to %d; bends between %d and %d (×%.2f)",
		kind, last/first, sizes[0], sizes[len(sizes)-1], sizes[bend-1], sizes[bend], worst)
}

// chart, when not empty, is the PNG drawn beside the table: the table links
// it by its base name, as the two are kept in one folder (bench/results).
func printScaling(w io.Writer, command string, m harness.Machine, version string, hold time.Duration, players []playerScale, passes []passScale, chart string) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("# lobbyd as it grows")
	p("")
	p("Command: `%s`", command)
	p("")
	p("Machine: %s, %d cores; load average at start %s; %s; open-files limit %d. Server: %s.", m.CPU, m.Cores, m.LoadAvg, m.Go, m.FDLimit, version)
	p("")
	if len(players) > 0 {
		p("### lobbyd, N idle players in lobbies of 8 (a fresh process for each N)")
		p("")
		p("| players | RSS per player | server CPU to connect and seat, per player | server CPU while idle, per player | goroutines |")
		p("|---|---|---|---|---|")
		var sizes []int
		var mem, conn, idle []float64
		for _, s := range players {
			p("| %d | %.0f B | %.3f ms | %.2f µs/s | %d |", s.N, s.BytesPerPlayer, s.ConnectCPU, s.IdleCPU, s.Goroutines)
			sizes = append(sizes, s.N)
			mem, conn, idle = append(mem, s.BytesPerPlayer), append(conn, s.ConnectCPU), append(idle, s.IdleCPU)
		}
		p("")
		p("- Memory: %s.", linearity(sizes, mem))
		p("- CPU to connect and seat: %s.", linearity(sizes, conn))
		p("- CPU while idle (%s window): %s.", hold, linearity(sizes, idle))
		p("")
	}
	if len(passes) > 0 {
		p("### Matcher: one pass over a duel queue of N waiting tickets (matchmaking's BenchmarkMatchDuelScaling)")
		p("")
		p("| tickets | pass | per ticket |")
		p("|---|---|---|")
		var sizes []int
		var per []float64
		for _, s := range passes {
			pt := float64(s.Pass) / float64(s.Tickets)
			p("| %d | %s | %.0f ns |", s.Tickets, s.Pass.Round(time.Microsecond), pt)
			sizes, per = append(sizes, s.Tickets), append(per, pt)
		}
		p("")
		p("- Pass time: %s.", linearity(sizes, per))
		p("")
	}
	if chart != "" {
		p("Each cost per unit against the size (log axis): a flat line is linear growth.")
		p("")
		p("![scaling](%s)", filepath.Base(chart))
	}
}
