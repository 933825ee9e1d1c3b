package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/lobbyd/lobbyd/bench/internal/client"
	"github.com/lobbyd/lobbyd/bench/internal/harness"
	"github.com/lobbyd/lobbyd/bench/internal/load"
	"github.com/lobbyd/lobbyd/bench/internal/proc"
)

// runningTarget is a server already running at addr, as the standalone
// subcommands (idle, fanout, match) drive it: addr must be a loopback
// address (the load stays on this machine), kind picks the client
// dialect, and pid (0: the process listening on addr's port) is where the
// server's memory and CPU are read. cmd names the subcommand in errors.
func runningTarget(cmd, kind, addr string, pid int) (*load.Target, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%s: -addr: %w", cmd, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("%s: -addr must be a loopback IP address, got %q", cmd, host)
	}
	if pid == 0 {
		port, _ := strconv.Atoi(portStr)
		if pid, err = proc.ListenerPID(port); err != nil {
			return nil, fmt.Errorf("%s: %w (give -pid)", cmd, err)
		}
	}
	t := &load.Target{Name: kind, Addr: addr, PID: pid,
		Logf: func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }}
	switch kind {
	case harness.Lobbyd:
		t.Dialer = &client.MsgpackDialer{Addr: addr, GuestAuth: true}
	case harness.Gorilla:
		t.Dialer = &client.MsgpackDialer{Addr: addr}
	case harness.SocketIO:
		t.Dialer = &client.SocketIODialer{Addr: addr}
	case harness.Colyseus, harness.Centrifuge:
		// These verify a JWT: give the server's JWT_SECRET.
		secret := os.Getenv("JWT_SECRET")
		if secret == "" {
			return nil, fmt.Errorf("%s: -kind %s needs the server's JWT_SECRET in the environment", cmd, kind)
		}
		if kind == harness.Colyseus {
			t.Dialer = &client.ColyseusDialer{Addr: addr, Secret: []byte(secret)}
		} else {
			t.Dialer = &client.CentrifugeDialer{Addr: addr, Secret: []byte(secret)}
		}
	default:
		return nil, fmt.Errorf("%s: unknown -kind %q", cmd, kind)
	}
	return t, nil
}

// warnFDLimit says so when the open-files limit cannot hold n connections.
func warnFDLimit(n int) {
	if lim, err := harness.EnsureFDLimit(); err == nil && lim < uint64(n)+100 {
		fmt.Fprintf(os.Stderr, "warning: open-files limit %d is below -n %d\n", lim, n)
	}
}

// parseRates reads a -ramp list: rising positive rates, at most 32.
func parseRates(cmd, s string) ([]float64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v <= 0 || v > 1e6 {
			return nil, fmt.Errorf("%s: bad rate %q in -ramp", cmd, f)
		}
		if len(out) > 0 && v <= out[len(out)-1] {
			return nil, fmt.Errorf("%s: -ramp must rise: %q", cmd, s)
		}
		out = append(out, v)
	}
	if len(out) > 32 {
		return nil, fmt.Errorf("%s: -ramp has more than 32 steps", cmd)
	}
	return out, nil
}

// stampedLog is the subcommands' progress log: one line on stderr, with
// the time.
func stampedLog(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(f, a...))
}

// runContext is a subcommand's context: ended by ^C or after timeout.
func runContext(timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return ctx, func() { cancel(); stop() }
}
