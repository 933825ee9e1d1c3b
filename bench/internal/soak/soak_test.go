package soak

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lobbyd/lobbyd/app"
	"github.com/lobbyd/lobbyd/config"
	"github.com/lobbyd/lobbyd/internal/redistest"
)

// startShard starts an in-process dev shard with the rate limits out of
// the soak's way; mutate (may be nil) adjusts its config first.
func startShard(t *testing.T, mutate func(*config.Config)) *app.App {
	t.Helper()
	cfg, err := config.Load([]string{"--dev", "--addr", "127.0.0.1:0", "--operator-token", "soak-op"}, func(string) string { return "" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RateLimit = config.RateLimit{PerSecond: 100000, Burst: 100000}
	cfg.HandshakeLimit.PerAddress.PerSecond = 0
	if mutate != nil {
		mutate(cfg)
	}
	a, err := app.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	go a.Serve()
	t.Cleanup(func() { a.Shutdown() })
	return a
}

// shortConfig is a few seconds of every workload, with drops every second.
func shortConfig(t *testing.T) Config {
	return Config{
		Duration: 4 * time.Second, Sample: 500 * time.Millisecond,
		Lobbies: 2, PerLobby: 4, SendRate: 20, ChatEvery: 300 * time.Millisecond, DropEvery: time.Second,
		Churners: 2, Matchers: 4, Browsers: 1, SlowReaders: 2,
		Logf: t.Logf,
	}
}

// checkShort requires what the soak requires: no lost, duplicated or
// reordered events, no errors, every workload at work, samples taken, and
// the report and chart written.
func checkShort(t *testing.T, res *Result) {
	t.Helper()
	if !res.OK() {
		var b strings.Builder
		_ = res.Markdown(&b, "short soak", "go test")
		t.Fatalf("soak found problems:\n%s", b.String())
	}
	if res.Events == 0 || res.Sends == 0 || res.Chats == 0 || res.Resumes == 0 || res.Churns == 0 || res.Listings == 0 || res.Matches == 0 {
		t.Fatalf("a workload did nothing: %+v", res)
	}
	// At the start and at the end: how many more fit in between depends
	// on the machine's load.
	if len(res.Samples) < 2 || res.Samples[0].RSSBytes == 0 || res.Samples[0].Goroutines == 0 || res.Samples[0].FDs == 0 {
		t.Fatalf("samples %+v", res.Samples)
	}
	var md, png strings.Builder
	if err := res.Markdown(&md, "short soak", "go test"); err != nil || !strings.Contains(md.String(), "PASS") {
		t.Fatalf("markdown: %v\n%s", err, md.String())
	}
	if !strings.Contains(md.String(), res.Setup) {
		t.Fatalf("the report does not name the setup %q:\n%s", res.Setup, md.String())
	}
	if err := res.Chart(&png); err != nil || !strings.HasPrefix(png.String(), "\x89PNG") {
		t.Fatalf("chart: %v", err)
	}
}

// TestShortSoak runs every workload for a few seconds against an
// in-process shard, so CI exercises the soak.
func TestShortSoak(t *testing.T) {
	a := startShard(t, nil)
	cfg := shortConfig(t)
	cfg.Addr, cfg.PID, cfg.MetricsURL, cfg.MetricsToken = a.Addr(), os.Getpid(), "http://"+a.Addr()+"/metrics", a.OperatorToken
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkShort(t, res)
	if res.Setup != "1 shard" || res.CrossResumes != 0 || res.Samples[0].PerShard != nil {
		t.Fatalf("one shard: setup %q, %d cross-shard resumes, per-shard samples %+v", res.Setup, res.CrossResumes, res.Samples[0].PerShard)
	}
}

// TestShortClusterSoak runs the same against two in-process shards of one
// cluster on the test Redis: players spread over both, every drop resumed
// on the other shard, and still nothing lost, duplicated or reordered.
func TestShortClusterSoak(t *testing.T) {
	addr, prefix := redistest.SharedPrefix(t)
	cfg := shortConfig(t)
	for _, id := range []string{"a", "b"} {
		a := startShard(t, func(c *config.Config) {
			c.RedisURL, c.RedisPrefix, c.ShardID, c.JWTSecret = "redis://"+addr+"/0", prefix, id, "soak-cluster-test-secret"
		})
		// Both shards live in this process: its figures are counted twice.
		cfg.Shards = append(cfg.Shards, Shard{Name: id, Addr: a.Addr(), PID: os.Getpid(),
			MetricsURL: "http://" + a.Addr() + "/metrics", MetricsToken: a.OperatorToken})
	}
	cfg.Setup = "2 shards + Redis"
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkShort(t, res)
	if res.CrossResumes == 0 || res.CrossResumes != res.Resumes {
		t.Fatalf("%d resumes, %d of them on another shard: every resume must cross shards", res.Resumes, res.CrossResumes)
	}
	if ps := res.Samples[0].PerShard; len(ps) != 2 || ps[0].Shard != "a" || ps[1].Shard != "b" || ps[1].Goroutines == 0 {
		t.Fatalf("per-shard samples %+v", ps)
	}
}
