package harness

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/lobbyd/lobbyd/bench/internal/load"
)

// TestWorkloads builds each baseline (go build; npm ci when node_modules is
// missing: a missing node or npm fails the test), starts it, and runs every workload at a tiny size: the harness,
// both client dialects and the workloads work end to end, over loopback,
// bounded in time. lobbyd joins this table once ./cmd/lobbyd builds.
func TestWorkloads(t *testing.T) {
	for _, kind := range []string{Gorilla, SocketIO, Colyseus, Centrifuge} {
		t.Run(kind, func(t *testing.T) { testWorkloads(t, kind) })
	}
}

// startServer builds and starts a server of kind for one test, stopped at
// its end; ctx bounds the whole test.
func startServer(t *testing.T, kind string) (context.Context, *Server) {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	env := &Env{Root: root, Tmp: t.TempDir(), Logf: t.Logf, MaxConns: 1000}
	// A bound for npm ci or go build, the start and the workloads on a
	// loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	p, err := Prepare(ctx, env, kind)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := Start(ctx, env, p, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return ctx, srv
}

func testWorkloads(t *testing.T, kind string) {
	ctx, srv := startServer(t, kind)
	tg := srv.Target

	idle, held, err := load.Idle(ctx, tg, load.IdleConfig{N: 40, LobbySize: 8, Settle: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// gorilla: 40 players, one read and one write goroutine each;
	// centrifuge at least one each; Node exposes no goroutines.
	wantG := map[string]int{Gorilla: 80, SocketIO: -1, Colyseus: -1, Centrifuge: 40}[kind]
	if idle.N != 40 || idle.RSSAfter <= 0 || idle.ThreadsAfter < 1 || (wantG < 0) != (idle.Goroutines < 0) || idle.Goroutines < wantG {
		t.Errorf("idle: %+v", idle)
	}
	br, err := load.Browse(ctx, tg, held, load.BrowseConfig{Clients: 2, Limit: 20, Warm: 50 * time.Millisecond, Measure: 300 * time.Millisecond})
	held.Close()
	if err != nil {
		t.Fatal(err)
	}
	if br.Lobbies != 40 || br.ReqPerSec <= 0 {
		t.Errorf("browse: %+v", br)
	}
	fo, err := load.Fanout(ctx, tg, load.FanoutConfig{Conns: 16, LobbySize: 8, Rates: []float64{10}, FixedRate: 10,
		Warm: 100 * time.Millisecond, Measure: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// 16 players × 10 msgs/s × 7 recipients = 1120 deliveries/s offered;
	// how many arrive in the window depends on the machine (a loaded one
	// starves a niced server), that some do does not.
	if len(fo.Steps) != 1 || fo.Fixed.Delivered <= 0 || fo.Fixed.P99 <= 0 || fo.Fixed.Offered != 1120 {
		t.Errorf("fanout: %+v", fo)
	}
	ch, err := load.Churn(ctx, tg, load.ChurnConfig{Groups: 2, GroupSize: 3, Warm: 50 * time.Millisecond, Measure: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// A whole create → join → leave cycle may not fit the window on a
	// loaded machine (a Colyseus join is an HTTP request and a WebSocket);
	// replies must come.
	if ch.OpsPerSec <= 0 {
		t.Errorf("churn: %+v", ch)
	}
	srv.Stop()
	if !srv.Exited() {
		t.Fatal("server still running after Stop")
	}
}

func TestPrepareUnknown(t *testing.T) {
	if _, err := Prepare(context.Background(), &Env{Root: t.TempDir(), Tmp: t.TempDir()}, "nginx"); err == nil {
		t.Fatal("unknown server accepted")
	}
}

// TestMatchLobbyd builds and starts lobbyd and runs the match workload at a
// tiny size: 40 players from a seeded population queue on the built-in duel
// queue, are matched, leave and queue again.
func TestMatchLobbyd(t *testing.T) {
	ctx, srv := startServer(t, Lobbyd)
	m, err := load.Match(ctx, srv.Target, load.MatchConfig{Players: 40, Rates: []float64{100}, FixedRate: 100,
		Warm: 200 * time.Millisecond, Measure: 800 * time.Millisecond, Drain: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// The duel window reaches 1000 at most, and 1 v 1 matches are counted
	// once each: matched tickets are twice the matches.
	if len(m.Steps) != 1 || m.Fixed.Matched <= 0 || m.Fixed.P99 <= 0 || m.Matches == 0 ||
		m.SpreadMax > 1000 || m.SpreadMean <= 0 || m.SpreadMean > m.SpreadMax || m.Foreign != 0 || m.Refused != 0 {
		t.Errorf("match: %+v", m)
	}
	if got := m.Fixed.Matched / 2; m.Fixed.Matches == 0 || math.Abs(float64(m.Fixed.Matches)/0.8-got) > got/2+5 {
		t.Errorf("matches %d in 0.8s vs %.0f matched tickets/s", m.Fixed.Matches, m.Fixed.Matched)
	}
}

// TestWSFloorRelays runs the client floor through the relay workload: it
// must seat the players and deliver their messages as a server does.
func TestWSFloorRelays(t *testing.T) {
	ctx, srv := startServer(t, WSFloor)
	fo, err := load.Fanout(ctx, srv.Target, load.FanoutConfig{Conns: 16, LobbySize: 8, Rates: []float64{10}, FixedRate: 10,
		Warm: 100 * time.Millisecond, Measure: 500 * time.Millisecond, NoInStep: true})
	if err != nil {
		t.Fatal(err)
	}
	// 16 players × 10 msgs/s × 7 recipients; a floor drops nothing at
	// this rate, so nearly all of them arrive in the window. Its CPU is not
	// checked: in half a second the floor uses less than one clock tick of
	// /proc's accounting, and may read 0.
	if f := fo.Fixed; f.Offered != 1120 || f.Delivered < 1000 || f.P99 <= 0 {
		t.Errorf("fanout: %+v", f)
	}
}
