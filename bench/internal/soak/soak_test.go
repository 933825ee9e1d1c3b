package soak

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lobbyd/lobbyd/app"
	"github.com/lobbyd/lobbyd/config"
)

// TestShortSoak runs every workload for a few seconds against an
// in-process shard (so CI exercises the soak) and requires what the soak
// requires: no lost, duplicated or reordered events, no errors, and the
// report and chart written.
func TestShortSoak(t *testing.T) {
	cfg, err := config.Load([]string{"--dev", "--addr", "127.0.0.1:0", "--operator-token", "soak-op"}, func(string) string { return "" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RateLimit = config.RateLimit{PerSecond: 100000, Burst: 100000}
	cfg.HandshakeLimit.PerAddress.PerSecond = 0
	a, err := app.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	go a.Serve()
	t.Cleanup(func() { a.Shutdown() })

	res, err := Run(context.Background(), Config{
		Addr: a.Addr(), PID: os.Getpid(), MetricsURL: "http://" + a.Addr() + "/metrics", MetricsToken: a.OperatorToken,
		Duration: 4 * time.Second, Sample: 500 * time.Millisecond,
		Lobbies: 2, PerLobby: 4, SendRate: 20, ChatEvery: 300 * time.Millisecond, DropEvery: time.Second,
		Churners: 2, Matchers: 4, Browsers: 1, SlowReaders: 2,
		Logf: t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() {
		var b strings.Builder
		_ = res.Markdown(&b, "short soak", "go test")
		t.Fatalf("soak found problems:\n%s", b.String())
	}
	if res.Events == 0 || res.Sends == 0 || res.Chats == 0 || res.Resumes == 0 || res.Churns == 0 || res.Listings == 0 || res.Matches == 0 {
		t.Fatalf("a workload did nothing: %+v", res)
	}
	if len(res.Samples) < 4 || res.Samples[0].RSSBytes == 0 || res.Samples[0].Goroutines == 0 || res.Samples[0].FDs == 0 {
		t.Fatalf("samples %+v", res.Samples)
	}
	var md, png strings.Builder
	if err := res.Markdown(&md, "short soak", "go test"); err != nil || !strings.Contains(md.String(), "PASS") {
		t.Fatalf("markdown: %v\n%s", err, md.String())
	}
	if err := res.Chart(&png); err != nil || !strings.HasPrefix(png.String(), "\x89PNG") {
		t.Fatalf("chart: %v", err)
	}
}
