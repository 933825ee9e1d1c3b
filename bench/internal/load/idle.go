package load

import (
	"context"
	"fmt"
	"time"

	"github.com/lobbyd/lobbyd/bench/internal/client"
)

// IdleConfig bounds the idle workload.
type IdleConfig struct {
	N         int           // connections to hold (default 10000)
	LobbySize int           // players per lobby (default 8)
	Settle    time.Duration // wait before reading RSS (default 3s)
	Timeout   time.Duration // bound on connecting and grouping (default 3m)
	Prefix    string        // players' names: PREFIX-i (default "idle")
	// Warm is how many players connect, take seats and leave before the
	// baseline RSS is read (default dialWorkers, one handshake batch; < 0:
	// none). See warmUp.
	Warm int
	// WarmRest is the wait after the warm-up players leave (default 1s).
	WarmRest time.Duration
	// GoroutineReads is how many reads of go_goroutines, a second apart,
	// settledGoroutines takes the lowest of (default DefaultGoroutineReads).
	GoroutineReads int
}

// DefaultGoroutineReads is IdleConfig.GoroutineReads unless set (and what
// runs recorded before the setting took).
const DefaultGoroutineReads = 5

func (c *IdleConfig) defaults() {
	if c.N <= 0 {
		c.N = 10000
	}
	if c.LobbySize <= 0 {
		c.LobbySize = 8
	}
	if c.Settle <= 0 {
		c.Settle = 3 * time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 3 * time.Minute
	}
	if c.Prefix == "" {
		c.Prefix = "idle"
	}
	if c.Warm == 0 {
		c.Warm = dialWorkers
	}
	if c.WarmRest <= 0 {
		c.WarmRest = time.Second
	}
	if c.GoroutineReads <= 0 {
		c.GoroutineReads = DefaultGoroutineReads
	}
}

// IdleResult is the server's cost of holding N idle players in lobbies.
type IdleResult struct {
	N             int
	RSSBefore     int64 // bytes, after the warm-up, before the first measured connection
	RSSAfter      int64 // bytes, with N connections held and settled
	BytesPerConn  float64
	ThreadsBefore int
	ThreadsAfter  int
	Goroutines    int // go_goroutines with N held; -1 when not exposed
	ConnectSecs   float64
	ClientCPUSecs float64 // load generator CPU while connecting
}

// Held is a set of open connections kept by Idle for a following workload.
type Held struct {
	Conns []client.Conn
}

// Close closes every held connection.
func (h *Held) Close() { closeAll(h.Conns) }

// Idle warms the server up (warmUp), connects cfg.N players, puts them in
// lobbies of cfg.LobbySize and measures the server's RSS delta per
// connection and its threads (and
// goroutines where exposed). The connections stay open in the returned Held
// (the caller closes it) so that browse can reuse them.
func Idle(ctx context.Context, t *Target, cfg IdleConfig) (IdleResult, *Held, error) {
	cfg.defaults()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if err := warmUp(ctx, t, cfg); err != nil {
		return IdleResult{}, nil, err
	}
	before, err := t.status()
	if err != nil {
		return IdleResult{}, nil, err
	}
	res := IdleResult{N: cfg.N, RSSBefore: before.RSSBytes, ThreadsBefore: before.Threads}
	u0 := t.usageNow()
	t.logf("idle: connecting %d players", cfg.N)
	conns, err := dialAll(ctx, t, cfg.N, cfg.Prefix, nil)
	if err != nil {
		return res, nil, fmt.Errorf("idle: %w", err)
	}
	held := &Held{Conns: conns}
	if _, err := groupLobbies(ctx, conns, cfg.LobbySize, cfg.Prefix); err != nil {
		held.Close()
		return res, nil, fmt.Errorf("idle: lobbies: %w", err)
	}
	u1 := t.usageNow()
	res.ConnectSecs = u1.at.Sub(u0.at).Seconds()
	res.ClientCPUSecs = (u1.client - u0.client).Seconds()
	t.logf("idle: %d players in lobbies after %.1fs; settling %s", cfg.N, res.ConnectSecs, cfg.Settle)
	select {
	case <-time.After(cfg.Settle):
	case <-ctx.Done():
		held.Close()
		return res, nil, ctx.Err()
	}
	after, err := t.status()
	if err != nil {
		held.Close()
		return res, nil, err
	}
	res.RSSAfter, res.ThreadsAfter = after.RSSBytes, after.Threads
	res.BytesPerConn = float64(res.RSSAfter-res.RSSBefore) / float64(cfg.N)
	res.Goroutines = t.settledGoroutines(ctx, cfg.GoroutineReads)
	return res, held, nil
}

// warmUp connects cfg.Warm players at the run's concurrency, seats them in
// lobbies and closes them, then waits a second, so that what a server pays
// once and not per player is in the baseline: the pages of its binary and
// libraries that the first handshake and the first lobby touch (lobbyd's
// RssFile grew 1.3 MB over a cold 10,000-player run, 126 bytes a player
// that no further player costs), a JIT's first compilations, the stacks
// and workers of an HTTP server's first burst of handshakes. A warm-up of
// one batch leaves at most one batch's freed memory for the measured
// players to reuse (under 20 bytes a player at N = 10,000). It then waits
// cfg.WarmRest.
func warmUp(ctx context.Context, t *Target, cfg IdleConfig) error {
	if cfg.Warm <= 0 {
		return nil
	}
	conns, err := dialAll(ctx, t, cfg.Warm, cfg.Prefix+"-warm", nil)
	if err != nil {
		return fmt.Errorf("idle: warm-up: %w", err)
	}
	_, err = groupLobbies(ctx, conns, cfg.LobbySize, cfg.Prefix+"-warm")
	closeAll(conns)
	if err != nil {
		return fmt.Errorf("idle: warm-up lobbies: %w", err)
	}
	select {
	case <-time.After(cfg.WarmRest):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// settledGoroutines is the lowest go_goroutines of reads reads a second
// apart, all while the N connections are held: goroutines left from the
// burst of handshakes, such as an HTTP server's idle workers, go away on
// the server's own schedule (fasthttp reaps idle workers every few
// seconds), and the figure is meant to be what N idle connections cost,
// not how recently they connected.
func (t *Target) settledGoroutines(ctx context.Context, reads int) int {
	low := t.goroutines(ctx)
	for range reads - 1 {
		if low < 0 {
			return low
		}
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return low
		}
		if n := t.goroutines(ctx); n >= 0 && n < low {
			low = n
		}
	}
	return low
}
