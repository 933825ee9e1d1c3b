package load

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lobbyd/lobbyd/bench/internal/client"
	"github.com/lobbyd/lobbyd/bench/internal/stats"
)

// P99Limit is the latency bound of the fanout capacity figure.
const P99Limit = 50 * time.Millisecond

// RereadBelow is where a failed step's p99 stops being "narrowly late"
// (narrowlyLate): a stall puts a window just over P99Limit, a saturated
// server's backlog hundreds of ms over.
const RereadBelow = 2 * P99Limit

// FanoutConfig bounds the fanout workload.
type FanoutConfig struct {
	Conns     int       // players (default 800: 100 lobbies of 8)
	LobbySize int       // default 8
	Rates     []float64 // messages/s per player, rising (default 2..160)
	// FixedRate is the per-player rate of the fixed-load figures (latency,
	// CPU per message): the ramp's step at that rate, or a step of its own
	// when the ramp does not reach it. Default 5.
	FixedRate float64
	Warm      time.Duration // per step, not measured (default 500ms)
	Measure   time.Duration // per step (default 2s)
	Senders   int           // pacing goroutines (default 2)
	// NoInStep skips the extra fixed-load step with the members of a lobby
	// sending in step.
	NoInStep bool
	// Chat makes the players send lobby.chat instead of lobby.send: every
	// member receives each chat, the sender included, so a lobby of 8
	// delivers 8 per message instead of 7. The Dialer's connections must
	// implement client.Chatter.
	Chat bool
	// ReadLateTwice reads a ramp step once more when it was narrowly late
	// (narrowlyLate) and lets the second reading decide (see Fanout).
	// Recorded with the settings, so that a report of a run made without
	// it does not claim it.
	ReadLateTwice bool
}

func (c *FanoutConfig) defaults() {
	if c.Conns <= 0 {
		c.Conns = 800
	}
	if c.LobbySize <= 0 {
		c.LobbySize = 8
	}
	if len(c.Rates) == 0 {
		c.Rates = []float64{2, 5, 10, 15, 20, 30, 40, 80, 160}
	}
	if c.FixedRate <= 0 {
		c.FixedRate = 5
	}
	if c.Warm <= 0 {
		c.Warm = 500 * time.Millisecond
	}
	if c.Measure <= 0 {
		c.Measure = 2 * time.Second
	}
	if c.Senders <= 0 {
		c.Senders = 2
	}
}

// FanoutStep is one rate step.
type FanoutStep struct {
	RatePerPlayer float64
	Offered       float64 // deliveries/s the schedule asked for
	Sent          float64 // messages/s actually sent
	Delivered     float64 // messages/s received by players
	P50, P99      time.Duration
	CPU           CPU
	CPUPerMillion float64 // server CPU seconds per 1M delivered messages
	// CommandsPerDelivered is the backend's commands per delivered
	// message (0 without a Backend).
	CommandsPerDelivered float64
	ClientLimited        bool // the load generator could not keep the schedule, or took the machine
	OK                   bool // p99 < 50ms and ≥ 90% of sent messages delivered
	// Again: this is the second reading of its rate, taken because the
	// first was narrowly late (narrowlyLate).
	Again bool
}

// FanoutResult is the ramp and the figures drawn from it.
type FanoutResult struct {
	Fixed FanoutStep // at FixedRate, every player sending at its own phase
	// FixedInStep is at FixedRate with the members of each lobby sending
	// in one burst, as lockstep clients answering a tick do: a server that
	// gathers a connection's output into one write gains the most here.
	FixedInStep FanoutStep
	Steps       []FanoutStep // the ramp, in order, up to and including the first failed step (a rate read twice: both readings)
	// MaxDelivered is the highest delivered rate of an OK step.
	MaxDelivered float64
	// MaxClientLimited: the step giving MaxDelivered was limited by the client.
	MaxClientLimited bool
	// Saturated: some step failed, so MaxDelivered is the server's ceiling
	// on this machine; false means the ramp ended first (a floor).
	Saturated bool
}

// Fanout fills lobbies of cfg.LobbySize and makes every player relay 64-byte
// stamped messages at rising rates, stopping after the first step whose p99
// reaches 50 ms or which loses more than 10% of deliveries (with
// cfg.ReadLateTwice, a step that lost none and whose p99 is under
// RereadBelow is read twice, and the second reading decides).
func Fanout(ctx context.Context, t *Target, cfg FanoutConfig) (FanoutResult, error) {
	cfg.defaults()
	var res FanoutResult
	var hist stats.Hist
	var received atomic.Uint64
	onData := func(sentAt int64) {
		received.Add(1)
		hist.Record(time.Duration(time.Now().UnixNano() - sentAt))
	}
	setupCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	t.logf("fanout: connecting %d players", cfg.Conns)
	conns, err := dialAll(setupCtx, t, cfg.Conns, "fan", onData)
	if err != nil {
		return res, fmt.Errorf("fanout: %w", err)
	}
	defer closeAll(conns)
	if _, err := groupLobbies(setupCtx, conns, cfg.LobbySize, "fanout"); err != nil {
		return res, fmt.Errorf("fanout: lobbies: %w", err)
	}
	send := func(c client.Conn, at int64) error { return c.Send(at) }
	fan := float64(cfg.LobbySize - 1)
	if cfg.Chat {
		for _, c := range conns {
			if _, ok := c.(client.Chatter); !ok {
				return res, errors.New("fanout: the dialect cannot chat")
			}
		}
		send = func(c client.Conn, at int64) error { return c.(client.Chatter).Chat(at) }
		fan = float64(cfg.LobbySize)
	}
	spread := sendOrder(conns, cfg.LobbySize, cfg.Senders, false)
	step := func(rate float64, order [][]client.Conn) (FanoutStep, error) {
		var sent atomic.Uint64
		sctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		var sendErr atomic.Value
		for _, part := range order {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := pace(sctx, part, rate, send, &sent); err != nil {
					sendErr.CompareAndSwap(nil, err)
				}
			}()
		}
		time.Sleep(cfg.Warm)
		hist.Reset()
		r0, s0, u0 := received.Load(), sent.Load(), t.usageNow()
		select {
		case <-time.After(cfg.Measure):
		case <-ctx.Done():
		}
		r1, s1, u1 := received.Load(), sent.Load(), t.usageNow()
		p50, p99 := hist.Quantile(0.50), hist.Quantile(0.99)
		stop()
		wg.Wait()
		if err, _ := sendErr.Load().(error); err != nil {
			return FanoutStep{}, fmt.Errorf("fanout: send: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return FanoutStep{}, err
		}
		wall := u1.at.Sub(u0.at).Seconds()
		st := FanoutStep{
			RatePerPlayer: rate,
			Offered:       rate * float64(len(conns)) * fan,
			Sent:          float64(s1-s0) / wall,
			Delivered:     float64(r1-r0) / wall,
			P50:           p50,
			P99:           p99,
			CPU:           cpuSince(u0, u1),
		}
		if r1 > r0 {
			st.CPUPerMillion = st.CPU.ServerSeconds / float64(r1-r0) * 1e6
			st.CommandsPerDelivered = float64(st.CPU.BackendCommands) / float64(r1-r0)
		}
		st.ClientLimited = st.Sent < 0.95*rate*float64(len(conns)) || st.CPU.MachineBound()
		st.OK = st.Delivered > 0 && p99 < P99Limit && st.Delivered >= 0.9*st.Sent*fan
		if !st.OK {
			awaitQuiet(ctx, &received, 200*time.Millisecond)
		}
		t.logf("fanout: %.0f msg/s/player: delivered %.0f/s of %.0f offered, p50 %s p99 %s, server %.2f cores, client %.2f cores",
			rate, st.Delivered, st.Offered, p50, p99, st.CPU.Server, st.CPU.Client)
		return st, nil
	}
	haveFixed := false
	for _, rate := range cfg.Rates {
		st, err := step(rate, spread)
		if err != nil {
			return res, err
		}
		if cfg.ReadLateTwice && narrowlyLate(st, fan) {
			// Every message arrived, a little late. On two cores shared with the
			// load generator one scheduling stall can put a window's p99
			// over the bound (a cluster's capacity read 2x apart between
			// runs of the same code): the rate is read once more, after
			// the backlog is gone, and the second reading decides. Both
			// are in Steps.
			res.Steps = append(res.Steps, st)
			t.logf("fanout: %g msg/s/player: every message arrived, p99 just over the bound; once more", rate)
			if st, err = step(rate, spread); err != nil {
				return res, err
			}
			st.Again = true
		}
		res.Steps = append(res.Steps, st)
		if rate == cfg.FixedRate {
			res.Fixed, haveFixed = st, true
		}
		if !st.OK {
			res.Saturated = true
			break
		}
		if st.Delivered > res.MaxDelivered {
			res.MaxDelivered, res.MaxClientLimited = st.Delivered, st.ClientLimited
		}
	}
	if !haveFixed {
		if res.Fixed, err = step(cfg.FixedRate, spread); err != nil {
			return res, err
		}
	}
	if !cfg.NoInStep {
		t.logf("fanout: lobby members in step:")
		if res.FixedInStep, err = step(cfg.FixedRate, sendOrder(conns, cfg.LobbySize, cfg.Senders, true)); err != nil {
			return res, err
		}
	}
	return res, nil
}

// narrowlyLate reports a failed step whose messages arrived (≥ 90% of
// the sent ones' fan deliveries each) with p99 from P99Limit up to
// RereadBelow: the step Fanout reads a second time.
func narrowlyLate(st FanoutStep, fan float64) bool {
	return !st.OK && st.Delivered > 0 && st.P99 >= P99Limit && st.P99 < RereadBelow && st.Delivered >= 0.9*st.Sent*fan
}

// awaitQuiet returns once received has not moved for quietFor (or after
// 50 quietFor): a saturated step leaves messages queued in the server and in
// sockets, and the next step, the fixed rate or the in-step phase, would
// count their late deliveries (a Node server's second-long backlog made a
// half-second window read 5× its offered rate).
func awaitQuiet(ctx context.Context, received *atomic.Uint64, quietFor time.Duration) {
	deadline := time.Now().Add(50 * quietFor)
	last, lastMove := received.Load(), time.Now()
	for time.Since(lastMove) < quietFor && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
		if n := received.Load(); n != last {
			last, lastMove = n, time.Now()
		}
	}
}

// sendOrder deals conns (lobbies of size consecutive players) to n pacers,
// all members of a lobby to one pacer, and orders each pacer's round. In
// step, a lobby's members are consecutive, so they send within one pacing
// tick and each recipient gets its lobby's messages in a burst. Otherwise
// a round visits member 0 of every lobby, then member 1, and so on, so the
// members of a lobby send at evenly spread phases, as independent clients
// do.
func sendOrder(conns []client.Conn, size, n int, inStep bool) [][]client.Conn {
	groups := (len(conns) + size - 1) / size
	out := make([][]client.Conn, n)
	for p := range n {
		var mine []int // lobby numbers of pacer p
		for g := p; g < groups; g += n {
			mine = append(mine, g)
		}
		if inStep {
			for _, g := range mine {
				out[p] = append(out[p], conns[g*size:min((g+1)*size, len(conns))]...)
			}
			continue
		}
		for m := range size {
			for _, g := range mine {
				if i := g*size + m; i < len(conns) {
					out[p] = append(out[p], conns[i])
				}
			}
		}
	}
	return out
}

// paceTick is how often a pacing goroutine tops up its schedule.
const paceTick = 5 * time.Millisecond

// pace sends rate messages/s from each of conns, spread evenly: every tick
// it sends what the schedule owes, round-robin over the connections. When
// writes cannot keep up the backlog is capped at two ticks' worth, so a slow
// server shows as a shortfall of Sent, not as an ever-growing burst.
func pace(ctx context.Context, conns []client.Conn, rate float64, send func(client.Conn, int64) error, sent *atomic.Uint64) error {
	if len(conns) == 0 {
		return nil
	}
	perSec := rate * float64(len(conns))
	start := time.Now()
	var done float64
	next := 0
	tk := time.NewTicker(paceTick)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tk.C:
			want := perSec * now.Sub(start).Seconds()
			if limit := max(2*perSec*paceTick.Seconds(), 2); want-done > limit {
				done = want - limit
			}
			for ; done+1 <= want; done++ {
				if ctx.Err() != nil {
					return nil
				}
				if err := send(conns[next], time.Now().UnixNano()); err != nil {
					return err
				}
				sent.Add(1)
				if next++; next == len(conns) {
					next = 0
				}
			}
		}
	}
}
