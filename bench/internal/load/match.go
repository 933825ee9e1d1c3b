package load

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lobbyd/lobbyd/bench/internal/client"
	"github.com/lobbyd/lobbyd/bench/internal/stats"
)

// MatchP99Limit is the time-to-match bound of the matchmaking capacity
// figure: well under what a player notices in a queue, and several of the
// matcher's 50 ms passes.
const MatchP99Limit = 250 * time.Millisecond

// MatchConfig bounds the match workload.
type MatchConfig struct {
	Players int    // connections, one player each (default 2000)
	Queue   string // default "duel" (lobbyd's built-in 1 v 1 queue)
	// Region is sent with every ticket; "" sends none. Every player gets
	// the same one, so a region-strict queue matches them all.
	Region    string
	Seed      uint64    // of the skill population (default 1)
	SkillMean float64   // default 1500
	SkillSD   float64   // default 300
	Rates     []float64 // offered tickets/s, rising (default 2000…30000)
	// FixedRate is the offered rate of the fixed-load figures (latency,
	// spread): the ramp's step at that rate, or a step of its own. Default
	// 2000 tickets/s.
	FixedRate float64
	Warm      time.Duration // per step, not measured (default 1s)
	Measure   time.Duration // per step (default 2s)
	// Drain is how long queued tickets may still match after the last step
	// before they are cancelled (default 2s).
	Drain time.Duration
}

func (c *MatchConfig) defaults() {
	if c.Players < 2 {
		c.Players = 2000
	}
	if c.Queue == "" {
		c.Queue = "duel"
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.SkillMean == 0 {
		c.SkillMean = 1500
	}
	if c.SkillSD <= 0 {
		c.SkillSD = 300
	}
	if len(c.Rates) == 0 && c.FixedRate <= 0 {
		c.Rates = []float64{2000, 5000, 10000, 15000, 20000, 30000}
	}
	if c.FixedRate <= 0 {
		c.FixedRate = 2000
	}
	if c.Warm <= 0 {
		c.Warm = time.Second
	}
	if c.Measure <= 0 {
		c.Measure = 2 * time.Second
	}
	if c.Drain <= 0 {
		c.Drain = 2 * time.Second
	}
}

// Skills is the seeded population: n skills drawn from N(mean, sd). The
// same seed gives the same players on every run and every machine.
func Skills(n int, seed uint64, mean, sd float64) []float64 {
	r := rand.New(rand.NewPCG(seed, 0x6c6f626279640000)) // "lobbyd": a fixed second word
	out := make([]float64, n)
	for i := range out {
		out[i] = mean + sd*r.NormFloat64()
	}
	return out
}

// MatchStep is one offered rate.
type MatchStep struct {
	Offered  float64 // tickets/s the schedule asked for
	Enqueued float64 // mm.enqueue sent per second
	Matched  float64 // tickets matched per second (mm.matched received)
	Matches  uint64  // matches formed in the window (counted once each)
	// P50, P99: time from sending mm.enqueue to receiving mm.matched.
	P50, P99 time.Duration
	// SpreadMean, SpreadMax: max − min skill among a match's players, over
	// the matches of the window.
	SpreadMean, SpreadMax float64
	Refused               uint64 // requests the server refused in the window
	CPU                   CPU
	// Starved: ≥ 5% of the schedule found every player already queued or
	// leaving — tickets took so long that the population could not offer
	// the rate. A server-side failure, not the client's.
	Starved bool
	// ClientLimited: the pacer fell ≥ 5% behind its schedule, or the
	// machine was busy with the server holding under half of it.
	ClientLimited bool
	OK            bool // p99 < MatchP99Limit, not starved, ≥ 90% of tickets matched, < 1% refused
}

// MatchResult is the ramp, the fixed-rate figures, and the quality of
// every match of the run.
type MatchResult struct {
	Players     int
	Queue       string
	Seed        uint64
	SkillMin    float64 // of the population
	SkillMax    float64
	ConnectSecs float64
	Fixed       MatchStep   // at FixedRate
	Steps       []MatchStep // the ramp, up to and including the first failed step
	// MaxMatched is the highest matched/s of an OK step;
	// MaxClientLimited that the step giving it was client-limited.
	MaxMatched       float64
	MaxClientLimited bool
	// Saturated: some step failed, so MaxMatched is the server's ceiling
	// on this machine; false means the ramp ended first (a floor).
	Saturated bool
	// Over the whole run:
	Matches               uint64
	SpreadMean, SpreadMax float64
	Foreign               uint64 // matches with a player not of this run (left out of the spread)
	Cancelled             uint64 // tickets the server cancelled (timeout, disconnected)
	Refused               uint64 // refused requests; FirstRefusal is the first code
	FirstRefusal          string
}

// Player states; a player is in mmRun.free exactly when it is mmFree.
const (
	mmFree int32 = iota
	mmQueued
	mmLeaving
)

type mmPlayer struct {
	conn   *client.MatchConn
	skill  float64
	state  atomic.Int32
	sentAt atomic.Int64 // unix ns of the last mm.enqueue
	ticket atomic.Pointer[string]
}

// spreads accumulates skill spreads without a lock: the sum in
// milli-points, the max by compare-and-swap.
type spreads struct {
	n, sum, max atomic.Uint64
}

func (s *spreads) record(v float64) {
	m := uint64(math.Round(v * 1000))
	s.n.Add(1)
	s.sum.Add(m)
	for {
		cur := s.max.Load()
		if m <= cur || s.max.CompareAndSwap(cur, m) {
			return
		}
	}
}

func (s *spreads) reset() { s.n.Store(0); s.sum.Store(0); s.max.Store(0) }

func (s *spreads) read() (n uint64, mean, max float64) {
	n = s.n.Load()
	if n == 0 {
		return 0, 0, 0
	}
	return n, float64(s.sum.Load()) / 1000 / float64(n), float64(s.max.Load()) / 1000
}

// mmRun is the shared state of one match workload.
type mmRun struct {
	cfg     MatchConfig
	players []*mmPlayer
	skills  map[string]float64 // user id → skill; read-only once traffic starts
	free    chan *mmPlayer

	hist                            stats.Hist
	window, total                   spreads
	enqueued, matched, refused      atomic.Uint64
	starved, lagged, foreign, stray atomic.Uint64
	cancelled, bad                  atomic.Uint64
	firstRefusal                    atomic.Pointer[string]
	failed                          atomic.Pointer[error]
}

func (w *mmRun) fail(err error) { w.failed.CompareAndSwap(nil, &err) }

func (w *mmRun) setFree(p *mmPlayer, from int32) {
	if p.state.CompareAndSwap(from, mmFree) {
		w.free <- p // never blocks: capacity is the population
	}
}

// handle runs on a player's reader goroutine.
func (w *mmRun) handle(p *mmPlayer, c *client.MatchConn, f *client.MMFrame) {
	switch f.Kind {
	case client.MMReply:
		// Not refusals: leaving a lobby that is already gone, cancelling a
		// ticket that matched meanwhile (drain).
		benign := (f.Op == client.OpLeave && string(f.Code) == "not_in_lobby") || f.Op == client.OpCancel
		if !f.OK && !benign {
			w.refused.Add(1)
			code := string(f.Code)
			w.firstRefusal.CompareAndSwap(nil, &code)
		}
		switch {
		case f.Op == client.OpEnqueue && f.OK:
			id := string(f.TicketID)
			p.ticket.Store(&id)
		case f.Op == client.OpEnqueue:
			w.setFree(p, mmQueued)
		case f.Op == client.OpLeave:
			w.setFree(p, mmLeaving) // left, or the lobby was gone already
		}
	case client.MMMatched:
		if !p.state.CompareAndSwap(mmQueued, mmLeaving) {
			w.stray.Add(1)
			return
		}
		w.hist.Record(time.Duration(time.Now().UnixNano() - p.sentAt.Load()))
		w.matched.Add(1)
		w.handleSpread(f, c.UserID())
		if err := c.Leave(); err != nil {
			w.fail(fmt.Errorf("lobby.leave: %w", err))
		}
	case client.MMCancelled:
		if string(f.Reason) != "cancelled" { // not our own mm.cancel (drain)
			w.cancelled.Add(1)
		}
		w.setFree(p, mmQueued)
	case client.MMBad:
		w.bad.Add(1)
	}
}

// handleSpread records the skill spread of a match, once per match: by
// the player listed first. A match with a player of no run (a ticket left
// by an earlier run against the same server) is counted as foreign.
func (w *mmRun) handleSpread(f *client.MMFrame, me string) {
	if len(f.Users) == 0 || string(f.Users[0]) != me {
		return
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, u := range f.Users {
		s, ok := w.skills[string(u)]
		if !ok {
			w.foreign.Add(1)
			return
		}
		lo, hi = min(lo, s), max(hi, s)
	}
	w.window.record(hi - lo)
	w.total.record(hi - lo)
}

// drive offers rate tickets/s: every tick it enqueues what the schedule
// owes, each from a free player. With no free player the owed tickets are
// counted as starved and skipped (the population is finite: an open loop
// cannot queue players who are still waiting). A backlog larger than two
// ticks' worth (the pacer itself fell behind) is counted as lagged and
// dropped, so a slow client shows as a shortfall, not a burst.
func (w *mmRun) drive(ctx context.Context, rate float64) {
	start := time.Now()
	var done float64
	tk := time.NewTicker(paceTick)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tk.C:
			want := rate * now.Sub(start).Seconds()
			if limit := max(2*rate*paceTick.Seconds(), 2); want-done > limit {
				w.lagged.Add(uint64(want - done - limit))
				done = want - limit
			}
		owed:
			for ; done+1 <= want; done++ {
				select {
				case p := <-w.free:
					p.state.Store(mmQueued)
					p.sentAt.Store(time.Now().UnixNano())
					if err := p.conn.Enqueue(w.cfg.Queue, p.skill, w.cfg.Region); err != nil {
						w.fail(fmt.Errorf("mm.enqueue: %w", err))
						return
					}
					w.enqueued.Add(1)
				default:
					missed := math.Floor(want - done)
					w.starved.Add(uint64(missed))
					done += missed
					break owed
				}
			}
		}
	}
}

// Match connects cfg.Players players with seeded skills and has them queue
// on cfg.Queue at rising offered rates: each matched player leaves its
// match lobby and is free to be queued again. It stops after the first
// step that fails (see MatchStep.OK), then measures at FixedRate if the
// ramp did not, lets queued tickets drain, and cancels the rest. The
// target's Dialer must implement client.MatchDialer.
func Match(ctx context.Context, t *Target, cfg MatchConfig) (MatchResult, error) {
	cfg.defaults()
	res := MatchResult{Players: cfg.Players, Queue: cfg.Queue, Seed: cfg.Seed}
	md, ok := t.Dialer.(client.MatchDialer)
	if !ok {
		return res, fmt.Errorf("match: %s has no matchmaking", t.Name)
	}
	w := &mmRun{cfg: cfg, players: make([]*mmPlayer, cfg.Players), skills: make(map[string]float64, cfg.Players),
		free: make(chan *mmPlayer, cfg.Players)}
	skills := Skills(cfg.Players, cfg.Seed, cfg.SkillMean, cfg.SkillSD)
	res.SkillMin, res.SkillMax = math.Inf(1), math.Inf(-1)
	for i, s := range skills {
		w.players[i] = &mmPlayer{skill: s}
		res.SkillMin, res.SkillMax = min(res.SkillMin, s), max(res.SkillMax, s)
	}

	setupCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	t.logf("match: connecting %d players", cfg.Players)
	t0 := time.Now()
	err := pool(setupCtx, cfg.Players, dialWorkers, func(ctx context.Context, i int) error {
		dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		p := w.players[i]
		c, err := md.DialMatch(dctx, fmt.Sprintf("mm-%d", i), func(c *client.MatchConn, f *client.MMFrame) { w.handle(p, c, f) })
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		p.conn = c
		return nil
	})
	defer w.closeAll()
	if err != nil {
		return res, fmt.Errorf("match: %w", err)
	}
	res.ConnectSecs = time.Since(t0).Seconds()
	for _, p := range w.players {
		if _, dup := w.skills[p.conn.UserID()]; dup {
			return res, fmt.Errorf("match: two connections share user id %s", p.conn.UserID())
		}
		w.skills[p.conn.UserID()] = p.skill
		w.free <- p
	}

	haveFixed := false
	for _, rate := range cfg.Rates {
		st, err := w.step(ctx, t, rate)
		if err != nil {
			return res, err
		}
		res.Steps = append(res.Steps, st)
		if rate == cfg.FixedRate {
			res.Fixed, haveFixed = st, true
		}
		if !st.OK {
			res.Saturated = true
			break
		}
		if st.Matched > res.MaxMatched {
			res.MaxMatched, res.MaxClientLimited = st.Matched, st.ClientLimited
		}
	}
	if !haveFixed {
		// A failed step leaves a backlog that would count against the
		// fixed rate's latency: let it match first.
		w.settle(ctx)
		if res.Fixed, err = w.step(ctx, t, cfg.FixedRate); err != nil {
			return res, err
		}
	}
	w.drain(ctx)
	res.Matches, res.SpreadMean, res.SpreadMax = w.total.read()
	res.Foreign, res.Cancelled, res.Refused = w.foreign.Load(), w.cancelled.Load(), w.refused.Load()
	if p := w.firstRefusal.Load(); p != nil {
		res.FirstRefusal = *p
	}
	if n := w.bad.Load(); n > 0 {
		return res, fmt.Errorf("match: %d malformed frames from the server", n)
	}
	if n := w.stray.Load(); n > 0 {
		t.logf("match: %d mm.matched for tickets not waiting", n)
	}
	return res, nil
}

// step offers rate for Warm + Measure and measures the second part.
func (w *mmRun) step(ctx context.Context, t *Target, rate float64) (MatchStep, error) {
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); w.drive(sctx, rate) }()
	sleepCtx(ctx, w.cfg.Warm)
	w.hist.Reset()
	w.window.reset()
	e0, m0, r0, s0, l0, u0 := w.enqueued.Load(), w.matched.Load(), w.refused.Load(), w.starved.Load(), w.lagged.Load(), t.usageNow()
	sleepCtx(ctx, w.cfg.Measure)
	e1, m1, r1, s1, l1, u1 := w.enqueued.Load(), w.matched.Load(), w.refused.Load(), w.starved.Load(), w.lagged.Load(), t.usageNow()
	p50, p99 := w.hist.Quantile(0.50), w.hist.Quantile(0.99)
	n, mean, mx := w.window.read()
	stop()
	wg.Wait()
	if err := w.failed.Load(); err != nil {
		return MatchStep{}, fmt.Errorf("match: %w", *err)
	}
	if err := ctx.Err(); err != nil {
		return MatchStep{}, err
	}
	wall := u1.at.Sub(u0.at).Seconds()
	st := MatchStep{
		Offered: rate, Enqueued: float64(e1-e0) / wall, Matched: float64(m1-m0) / wall, Matches: n,
		P50: p50, P99: p99, SpreadMean: mean, SpreadMax: mx, Refused: r1 - r0, CPU: cpuSince(u0, u1),
	}
	owed := rate * wall
	st.Starved = float64(s1-s0) >= 0.05*owed
	st.ClientLimited = float64(l1-l0) >= 0.05*owed || st.CPU.MachineBound()
	st.OK = st.Matched > 0 && p99 < MatchP99Limit && !st.Starved && st.Matched >= 0.9*st.Enqueued &&
		float64(st.Refused) < 0.01*float64(e1-e0)
	t.logf("match: offered %.0f tickets/s: enqueued %.0f/s, matched %.0f/s, p50 %s p99 %s, spread mean %.0f max %.0f, server %.2f cores, client %.2f cores%s",
		rate, st.Enqueued, st.Matched, p50, p99, mean, mx, st.CPU.Server, st.CPU.Client, stepNote(st))
	return st, nil
}

func stepNote(st MatchStep) string {
	s := ""
	if st.Starved {
		s += " (starved: no free player)"
	}
	if st.ClientLimited {
		s += " (client/machine-limited)"
	}
	if st.Refused > 0 {
		s += fmt.Sprintf(" (%d refused)", st.Refused)
	}
	return s
}

// drain waits up to Drain for queued tickets to match, then cancels the
// rest so that none outlives the run (a disconnected player's ticket would
// otherwise wait for the resume grace and could match a later run's
// player), and waits up to a second for their replies.
func (w *mmRun) drain(ctx context.Context) {
	w.settle(ctx)
	for _, p := range w.waiting() {
		if id := p.ticket.Load(); id != nil {
			_ = p.conn.Cancel(*id)
		}
	}
	deadline := time.Now().Add(time.Second)
	for len(w.waiting()) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
}

// settle waits up to Drain for every queued ticket to be matched.
func (w *mmRun) settle(ctx context.Context) {
	deadline := time.Now().Add(w.cfg.Drain)
	for len(w.waiting()) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
}

// waiting lists the players with a ticket in the queue.
func (w *mmRun) waiting() []*mmPlayer {
	var out []*mmPlayer
	for _, p := range w.players {
		if p.state.Load() == mmQueued {
			out = append(out, p)
		}
	}
	return out
}

func (w *mmRun) closeAll() {
	_ = pool(context.Background(), len(w.players), dialWorkers, func(_ context.Context, i int) error {
		if c := w.players[i].conn; c != nil {
			_ = c.Close()
		}
		return nil
	})
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}
