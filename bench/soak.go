package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/lobbyd/lobbyd/bench/internal/harness"
	"github.com/lobbyd/lobbyd/bench/internal/soak"
)

// soakCmd runs every workload against one lobbyd for -duration and writes
// SOAK.md, soak.png and soak.json. Without -addr it builds and starts
// lobbyd itself (the config compare uses: rate limits out of the way);
// with -shards N > 1, N shards of one cluster on a private redis-server,
// players spread over them and every drop resumed on another shard.
func soakCmd(args []string) error {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	d := soak.DefaultConfig()
	duration := fs.Duration("duration", d.Duration, "how long the traffic runs (an hour: -duration 1h)")
	sample := fs.Duration("sample", 0, "server sampling interval (default: duration/120, between 1s and 30s)")
	addr := fs.String("addr", "", "a running lobbyd (loopback, --dev) instead of building one; one shard only")
	shards := fs.Int("shards", 1, "lobbyd shards to start (1..8); more than 1: a cluster on a private redis-server, players spread over the shards, every drop resumed on another shard")
	pid := fs.Int("pid", 0, "with -addr: its process id (default: the process listening on -addr)")
	opToken := fs.String("operator-token", "", "with -addr: its operator token, for /metrics")
	out := fs.String("out", "", "directory for SOAK.md, soak.png, soak.json (default bench/results/soak)")
	fs.IntVar(&d.Lobbies, "lobbies", d.Lobbies, "relay and chat lobbies")
	fs.IntVar(&d.PerLobby, "per-lobby", d.PerLobby, "players per relay lobby")
	fs.Float64Var(&d.SendRate, "send-rate", d.SendRate, "lobby.send per relay player per second")
	fs.IntVar(&d.Churners, "churners", d.Churners, "players churning lobbies")
	fs.IntVar(&d.Matchers, "matchers", d.Matchers, "players queueing for duels (even)")
	fs.IntVar(&d.Browsers, "browsers", d.Browsers, "HTTP lobby-list clients")
	fs.IntVar(&d.SlowReaders, "slow-readers", d.SlowReaders, "stalling readers on the firehose lobby")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *duration <= 0 || *duration > 24*time.Hour {
		return errors.New("soak: -duration must be in (0, 24h]")
	}
	if *shards < 1 || *shards > 8 {
		return errors.New("soak: -shards must be 1..8")
	}
	if *addr != "" && *shards != 1 {
		return errors.New("soak: -addr is one running shard; -shards starts its own cluster")
	}
	d.Duration = *duration
	d.Sample = *sample
	if d.Sample == 0 {
		d.Sample = min(max(*duration/120, time.Second), 30*time.Second)
	}
	logf := stampedLog
	d.Logf = logf
	root, err := harness.RepoRoot()
	if err != nil {
		return err
	}
	if *out == "" {
		*out = filepath.Join(root, "bench", "results", "soak")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	if *addr != "" {
		t, err := runningTarget("soak", harness.Lobbyd, *addr, *pid)
		if err != nil {
			return err
		}
		d.Addr, d.PID = t.Addr, t.PID
		d.MetricsURL, d.MetricsToken = "http://"+t.Addr+"/metrics", *opToken
	} else {
		tmp, err := os.MkdirTemp("", "lobbyd-soak-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		env := &harness.Env{Root: root, Tmp: tmp, Logf: logf, MaxConns: 20000}
		p, err := harness.Prepare(ctx, env, harness.Lobbyd)
		if err != nil {
			return err
		}
		if *shards == 1 {
			srv, err := harness.Start(ctx, env, p, logf)
			if err != nil {
				return err
			}
			defer srv.Stop()
			t := srv.Target
			d.Addr, d.PID, d.MetricsURL, d.MetricsToken = t.Addr, t.PID, t.MetricsURL, t.MetricsToken
			logf("lobbyd %s at %s (pid %d)", p.Version, t.Addr, t.PID)
		} else {
			stopAll, err := startSoakCluster(ctx, env, p, *shards, &d, logf)
			defer stopAll()
			if err != nil {
				return err
			}
		}
	}
	res, err := soak.Run(ctx, d)
	if err != nil {
		return err
	}
	if err := writeSoak(*out, res, "cd bench && go run . "+strings.Join(append([]string{"soak"}, args...), " ")); err != nil {
		return err
	}
	logf("wrote %s", filepath.Join(*out, "SOAK.md"))
	if !res.OK() {
		return fmt.Errorf("soak: %d lost, %d duplicated, %d out of order, %d chat disagreements, %d errors",
			res.Lost, res.Duplicated, res.OutOfOrder, res.ChatDisagree, res.Errors)
	}
	return nil
}

func writeSoak(dir string, res *soak.Result, command string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	md, err := os.Create(filepath.Join(dir, "SOAK.md"))
	if err != nil {
		return err
	}
	title := fmt.Sprintf("Soak, %v, %s, %s", res.Config.Duration, res.Setup, time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	err = errors.Join(res.Markdown(md, title, command), md.Close())
	if err != nil {
		return err
	}
	png, err := os.Create(filepath.Join(dir, "soak.png"))
	if err != nil {
		return err
	}
	if err := errors.Join(res.Chart(png), png.Close()); err != nil {
		return err
	}
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "soak.json"), js, 0o644)
}

// startSoakCluster starts a private redis-server (useRedis, as the cluster
// command does) and n shards a, b, ... on it, under a key prefix and JWT
// secret of this run's own, and puts them in d. stop ends them all, also
// after an error.
func startSoakCluster(ctx context.Context, env *harness.Env, p *harness.Prepared, n int, d *soak.Config,
	logf func(string, ...any)) (stop func(), err error) {
	var servers []*harness.Server
	var rd *benchRedis
	stop = func() {
		for _, s := range servers {
			s.Stop()
		}
		if rd != nil {
			rd.stop()
		}
	}
	if rd, err = useRedis(ctx, "", env.Tmp); err != nil {
		return stop, err
	}
	prefix, secret := "soak:"+randomHex(4)+":", randomHex(16)
	for i := range n {
		id := string(rune('a' + i))
		sp := *p
		sp.Argv = append(append([]string(nil), p.Argv...), "--redis", "redis://"+rd.addr+"/0",
			"--redis-prefix", prefix, "--shard-id", id, "--jwt-secret", secret)
		s, err := harness.Start(ctx, env, &sp, logf)
		if err != nil {
			return stop, err
		}
		servers = append(servers, s)
		t := s.Target
		d.Shards = append(d.Shards, soak.Shard{Name: id, Addr: t.Addr, PID: t.PID, MetricsURL: t.MetricsURL, MetricsToken: t.MetricsToken})
		logf("lobbyd %s shard %s at %s (pid %d)", p.Version, id, t.Addr, t.PID)
	}
	d.Setup = fmt.Sprintf("%d shards + Redis (a private redis-server %s at %s)", n, rd.version(ctx), rd.addr)
	return stop, nil
}
