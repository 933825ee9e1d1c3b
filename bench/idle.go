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

// idleCmd holds N idle players against a running server and prints what the
// server pays for them.
func idleCmd(args []string) error {
	fs := flag.NewFlagSet("idle", flag.ContinueOnError)
	n := fs.Int("n", 10000, "idle connections to hold (each in a lobby of -lobby)")
	addr := fs.String("addr", "127.0.0.1:8080", "server address (loopback only)")
	pid := fs.Int("pid", 0, "server process id (default: the process listening on -addr)")
	kind := fs.String("kind", harness.Lobbyd, "server dialect: lobbyd (guest JWT), gorilla (?user=), socketio, colyseus or centrifuge (JWTs signed with $JWT_SECRET)")
	token := fs.String("operator-token", "", "bearer token for GET /metrics (go_goroutines); empty: skip unless -kind gorilla")
	lobby := fs.Int("lobby", 8, "players per lobby")
	hold := fs.Duration("hold", 0, "keep the connections open this long after measuring (max 1h)")
	settle := fs.Duration("settle", 3*time.Second, "wait after connecting before reading RSS")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *n > 100000 {
		return fmt.Errorf("idle: -n must be 1..100000")
	}
	if *hold > time.Hour {
		return fmt.Errorf("idle: -hold is at most 1h")
	}
	t, err := runningTarget("idle", *kind, *addr, *pid)
	if err != nil {
		return err
	}
	if *kind == harness.Gorilla {
		t.MetricsURL = "http://" + *addr + "/metrics"
	}
	warnFDLimit(*n)
	if *token != "" {
		t.MetricsURL, t.MetricsToken = "http://"+*addr+"/metrics", *token
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, held, err := load.Idle(ctx, t, load.IdleConfig{N: *n, LobbySize: *lobby, Settle: *settle})
	if err != nil {
		return err
	}
	defer held.Close()
	fmt.Printf("server pid %d (%s at %s)\n", t.PID, *kind, *addr)
	fmt.Printf("connections held:     %d (lobbies of %d), connected in %.1fs\n", res.N, *lobby, res.ConnectSecs)
	fmt.Printf("server RSS:           %.1f MiB -> %.1f MiB\n", mib(res.RSSBefore), mib(res.RSSAfter))
	fmt.Printf("RSS delta per conn:   %.0f bytes (%.2f KiB)\n", res.BytesPerConn, res.BytesPerConn/1024)
	fmt.Printf("server threads:       %d -> %d\n", res.ThreadsBefore, res.ThreadsAfter)
	if res.Goroutines >= 0 {
		fmt.Printf("server goroutines:    %d\n", res.Goroutines)
	} else {
		fmt.Printf("server goroutines:    not exposed (give -operator-token for lobbyd's /metrics)\n")
	}
	if *hold > 0 {
		fmt.Printf("holding for %s (Ctrl-C to stop)\n", *hold)
		select {
		case <-time.After(*hold):
		case <-ctx.Done():
		}
	}
	return nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
