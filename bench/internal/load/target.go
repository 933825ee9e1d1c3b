package load

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/lobbyd/lobbyd/bench/internal/client"
	"github.com/lobbyd/lobbyd/bench/internal/proc"
)

// Target is a running server under test.
type Target struct {
	Name   string        // "lobbyd", "gorilla", "socketio"
	Dialer client.Dialer // how players connect
	Addr   string        // host:port for HTTP (GET /v1/lobbies)
	PID    int           // server process, for /proc readings
	// ExtraPIDs are more processes of the same server (the other shards
	// of a cluster): their CPU and RSS are added to PID's.
	ExtraPIDs []int
	// Backend, when set, reads a store the server depends on (the cluster's
	// Redis) at the start and end of every measured window.
	Backend func() BackendUsage
	// MetricsURL, when set, is a Prometheus text page with go_goroutines;
	// MetricsToken is its bearer token (lobbyd's operator token).
	MetricsURL   string
	MetricsToken string
	// Logf reports progress; nil is silent.
	Logf func(format string, args ...any)
}

func (t *Target) logf(format string, args ...any) {
	if t.Logf != nil {
		t.Logf("["+t.Name+"] "+format, args...)
	}
}

// dialWorkers bounds concurrent handshakes, so that connecting 10k players
// measures the server, not a SYN flood on the listen backlog.
const dialWorkers = 64

// pool runs fn(i) for i in [0,n) on at most workers goroutines and returns
// the first error (after which the remaining items are skipped).
func pool(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(ctx, i); err != nil {
					cancel(err)
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && err != context.Canceled {
		return err
	}
	return ctx.Err()
}

// dialAll opens n connections named prefix-0..n-1.
func dialAll(ctx context.Context, t *Target, n int, prefix string, onData client.Handler) ([]client.Conn, error) {
	conns := make([]client.Conn, n)
	err := pool(ctx, n, dialWorkers, func(ctx context.Context, i int) error {
		dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		c, err := t.Dialer.Dial(dctx, fmt.Sprintf("%s-%d", prefix, i), onData)
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		conns[i] = c
		return nil
	})
	if err != nil {
		closeAll(conns)
		return nil, err
	}
	return conns, nil
}

// closeAll closes every non-nil connection, in parallel.
func closeAll(conns []client.Conn) {
	_ = pool(context.Background(), len(conns), dialWorkers, func(_ context.Context, i int) error {
		if conns[i] != nil {
			_ = conns[i].Close()
		}
		return nil
	})
}

// groupLobbies puts conns in lobbies of size: the first of each group
// creates, the rest join. It returns the lobby ids.
func groupLobbies(ctx context.Context, conns []client.Conn, size int, name string) ([]string, error) {
	groups := (len(conns) + size - 1) / size
	ids := make([]string, groups)
	err := pool(ctx, groups, dialWorkers, func(ctx context.Context, g int) error {
		// A bound on a group's create and 7 joins, not a measurement:
		// a Colyseus join is an HTTP request and a fresh WebSocket, and a
		// busy machine may take seconds for each.
		rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		members := conns[g*size : min((g+1)*size, len(conns))]
		id, err := members[0].Create(rctx, fmt.Sprintf("%s %d", name, g), size)
		if err != nil {
			return err
		}
		ids[g] = id
		for _, m := range members[1:] {
			if err := m.Join(rctx, id); err != nil {
				return err
			}
		}
		return nil
	})
	return ids, err
}

// BackendUsage is the running totals of a backend store: commands served
// and CPU time spent.
type BackendUsage struct {
	Commands  uint64
	CPU       time.Duration
	ByCommand map[string]uint64 // commands served, by name (scripts' inner calls included)
}

// usage is a snapshot of server and client CPU time.
type usage struct {
	at      time.Time
	server  time.Duration
	client  time.Duration
	machine time.Duration // busy time of all cores
	backend BackendUsage
}

func (t *Target) pids() []int { return append([]int{t.PID}, t.ExtraPIDs...) }

func (t *Target) usageNow() usage {
	var s time.Duration
	for _, pid := range t.pids() {
		c, _ := proc.CPU(pid)
		s += c
	}
	m, _, _ := proc.MachineCPU()
	u := usage{at: time.Now(), server: s, client: proc.SelfCPU(), machine: m}
	if t.Backend != nil {
		u.backend = t.Backend()
	}
	return u
}

// status is the server's RSS and threads, summed over its processes.
// RSS is the target's resident memory now, summed over its processes.
func (t *Target) RSS() (int64, error) {
	st, err := t.status()
	return st.RSSBytes, err
}

func (t *Target) status() (proc.Status, error) {
	var sum proc.Status
	for _, pid := range t.pids() {
		st, err := proc.ReadStatus(pid)
		if err != nil {
			return sum, err
		}
		sum.RSSBytes += st.RSSBytes
		sum.Threads += st.Threads
	}
	return sum, nil
}

// CPU is CPU use over a measurement window, in cores (1.0 = one core busy):
// the server's, the load generator's, and everything else on the machine
// (the backend's included, which Backend also shows on its own).
type CPU struct {
	Server, Client, Other float64
	ServerSeconds         float64
	Wall                  float64 // seconds the window lasted
	Backend               float64 // cores, when the target has a Backend
	BackendCommands       uint64  // commands the backend served in the window
	// BackendByCommand is BackendCommands by command name.
	BackendByCommand map[string]uint64
}

func cpuSince(a, b usage) CPU {
	wall := b.at.Sub(a.at).Seconds()
	if wall <= 0 {
		return CPU{}
	}
	c := CPU{
		Server:        (b.server - a.server).Seconds() / wall,
		Client:        (b.client - a.client).Seconds() / wall,
		ServerSeconds: (b.server - a.server).Seconds(),
		Wall:          wall,
	}
	c.Other = max(0, (b.machine-a.machine).Seconds()/wall-c.Server-c.Client)
	c.Backend = (b.backend.CPU - a.backend.CPU).Seconds() / wall
	c.BackendCommands = b.backend.Commands - a.backend.Commands
	for name, n := range b.backend.ByCommand {
		if d := n - a.backend.ByCommand[name]; d > 0 {
			if c.BackendByCommand == nil {
				c.BackendByCommand = make(map[string]uint64)
			}
			c.BackendByCommand[name] = d
		}
	}
	return c
}

// MachineBound reports whether the machine's cores were nearly all busy and
// the server had less than half of them: then a throughput figure is a floor
// set by the load generator (or by other processes), not the server's
// ceiling. A single-threaded server saturating one core of two is not
// flagged: that is its own limit.
func (c CPU) MachineBound() bool {
	n := float64(runtime.NumCPU())
	busy := c.Server + c.Client + c.Other
	return busy >= 0.9*n && c.Server < 0.5*busy
}

// goroutines reads go_goroutines when the target exposes it; -1 otherwise.
func (t *Target) goroutines(ctx context.Context) int {
	if t.MetricsURL == "" {
		return -1
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	n, err := proc.Goroutines(ctx, http.DefaultClient, t.MetricsURL, t.MetricsToken)
	if err != nil {
		t.logf("goroutines unavailable: %v", err)
		return -1
	}
	return n
}
