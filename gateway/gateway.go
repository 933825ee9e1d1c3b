package gateway

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/lobbyd/lobbyd/budget"
	"github.com/lobbyd/lobbyd/cluster"
	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/matchmaking"
	"github.com/lobbyd/lobbyd/netcode"
	"github.com/lobbyd/lobbyd/protocol"
	"github.com/lobbyd/lobbyd/watch"
)

// Defaults of docs/protocol.md §5 and §6 for the settings the gateway owns (the
// transport's are netcode's: DefaultHeartbeatInterval, DefaultMaxMessageBytes).
// New applies them to zero Options, except DefaultResumeGrace and
// DefaultDrainSpread: there 0 is a setting of its own, so only the config
// package starts from them.
const (
	DefaultResumeGrace    = 30 * time.Second
	DefaultMaxConnections = 20000
	DefaultRatePerSecond  = 50
	DefaultRateBurst      = 100
	DefaultDrainSpread    = 5 * time.Second
	DefaultDrainTimeout   = 30 * time.Second
)

// Handshake limits the config package starts from (Options: zero is no
// limit). Per user: a client that reconnects with backoff never meets it;
// one that reconnects in a loop gets 2 a second. Per address: a storm from
// one address is held to 50 a second; behind a proxy or a NAT that hides
// the players' addresses, raise it or turn it off.
var (
	DefaultHandshakesPerUser    = Rate{PerSecond: 2, Burst: 10}
	DefaultHandshakesPerAddress = Rate{PerSecond: 50, Burst: 500}
)

// maxLimitKeys bounds each handshake limit's table of addresses or users.
const maxLimitKeys = 100_000

// Options configure a Gateway. Zero values take the defaults above.
type Options struct {
	ShardID         string        // this shard's name; default "lobbyd"
	Addr            string        // advertised address in /admin/shards
	Heartbeat       time.Duration // default netcode.DefaultHeartbeatInterval
	ResumeGrace     time.Duration // 0: a dropped session leaves its lobby at once
	MaxConnections  int           // default DefaultMaxConnections
	MaxMessageBytes int           // default netcode.DefaultMaxMessageBytes
	RatePerSecond   float64       // default DefaultRatePerSecond
	RateBurst       int           // default DefaultRateBurst
	// Handshakes on /ws per user id and per source address (IPv6: per /64),
	// over them 429 rate_limited with Retry-After. Zero PerSecond: no limit.
	HandshakesPerUser    Rate
	HandshakesPerAddress Rate
	AllowedOrigins       []string      // empty: any Origin
	DrainSpread          time.Duration // 0: every client is told to reconnect at once
	DrainTimeout         time.Duration // default DefaultDrainTimeout
	Dev                  bool          // POST /v1/auth/guest
	OperatorToken        string        // empty: operator endpoints always answer 401
	ReplayEvents         int           // replay ring per session, events; default 1024, at most MaxReplayEvents
	ReplayBytes          int           // replay ring per session, bytes; default 1 MiB, at most MaxReplayBytes
	MemoryBudget         int64         // bytes for write queues and replay, shard-wide; default budget.MachineDefault() (shed.go)
	MaxWatchers          int           // live lobby list streams (max_watchers); default watch.DefaultMaxWatchers
	// GoMemoryLimit makes the Go runtime's soft memory limit follow the
	// budget (budget.FollowGoLimit), so garbage left by shed buffers is
	// collected before the process grows past the budget. One per process:
	// lobbyd sets it unless GOMEMLIMIT is set; tests with several gateways
	// in one process leave it off.
	GoMemoryLimit bool
	Logger        *slog.Logger // default slog.Default()
	// UI is the lobby page's files (index.html at its root), served at /
	// and under /ui/; nil serves no page (the web package's Assets in lobbyd).
	UI fs.FS
}

func (o *Options) applyDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.Heartbeat, netcode.DefaultHeartbeatInterval)
	def(&o.DrainTimeout, DefaultDrainTimeout)
	if o.ShardID == "" {
		o.ShardID = "lobbyd"
	}
	if o.MaxConnections == 0 {
		o.MaxConnections = DefaultMaxConnections
	}
	if o.MemoryBudget == 0 {
		o.MemoryBudget = budget.MachineDefault()
	}
	if o.MaxMessageBytes == 0 {
		o.MaxMessageBytes = netcode.DefaultMaxMessageBytes
	}
	if o.RatePerSecond == 0 {
		o.RatePerSecond = DefaultRatePerSecond
	}
	if o.RateBurst == 0 {
		o.RateBurst = DefaultRateBurst
	}
	if o.ReplayEvents == 0 {
		o.ReplayEvents = 1024
	}
	o.ReplayEvents = min(o.ReplayEvents, MaxReplayEvents)
	if o.ReplayBytes == 0 {
		o.ReplayBytes = 1 << 20
	}
	o.ReplayBytes = min(o.ReplayBytes, MaxReplayBytes)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Backends are the services a gateway serves. They are built by the caller
// with the gateway's sinks, so that their events reach this shard's sessions.
type Backends struct {
	Lobbies     lobby.Store
	Matchmaking *matchmaking.Service
	Cluster     *ClusterLink // nil: a single shard
}

// Gateway is one shard's front: the Fiber app (HTTP API and /ws) and the
// netcode server behind it.
type Gateway struct {
	opts    Options
	auth    *Auth
	log     *slog.Logger
	lobbies lobby.Store
	mm      *matchmaking.Service
	net     *netcode.Server
	app     *fiber.App
	// httpConns lets Shutdown close HTTP connections no handler is on.
	httpConns *httpConns
	hub       *hub
	metrics   *metrics
	// Made before the services, which feed them (Wiring.MatchObserver,
	// Wiring.RedisHook); registered with the rest by newMetrics.
	matchMetrics *matchMetrics
	redisMetrics *redisMetrics
	logLimits    logLimits            // log lines a client can cause, limited per kind (oplog.go)
	settings     atomic.Pointer[Live] // the settings SIGHUP may change (reload.go)
	userMsgs     *bucketTable         // per-user message buckets (rate_limit), kept across reconnects
	hsUser       *bucketTable         // handshakes per user
	hsAddr       *bucketTable         // handshakes per source address
	budget       *budget.Budget       // write queues and replay, shard-wide (shed.go)
	shedMu       sync.Mutex           // one shedding pass at a time
	started      time.Time
	draining     atomic.Bool
	drained      chan struct{} // closed when a drain started by StartDrain ends
	drainOnce    sync.Once
	ctx          context.Context // for store calls and background work; cancelled by Shutdown
	cancel       context.CancelFunc
	// live bounds this shard's writes to Redis (carried by ctx): the
	// registry extends it with every heartbeat answered; a shard cut off
	// from Redis longer than its liveness writes nothing more
	// (cluster.Liveness). Unbounded on a single shard.
	live *cluster.Liveness
	cl   *clusterGlue // nil on a single shard
	// forwardsLate counts the events forwardRemote is still trying to
	// get to other shards in the background (at most maxForwardsLate).
	forwardsLate atomic.Int32
	// forwards orders a user's forwarded events while one is retried.
	forwards forwardQueue
	watch    *watch.Hub // the live lobby list; nil when the store has no ListingFeed
}

// Wiring is what a gateway hands the code that builds its services: the
// sinks that deliver lobby and matchmaking events to this shard's sessions,
// and (method MatchLobbies) the lobby adapter for the matchmaker.
type Wiring struct {
	LobbySink lobby.Sink
	MatchSink matchmaking.Sink
	g         *Gateway
}

// New builds a gateway. build receives the Wiring and returns the services.
func New(opts Options, auth *Auth, build func(Wiring) (Backends, error)) (*Gateway, error) {
	opts.applyDefaults()
	g := &Gateway{
		opts:      opts,
		auth:      auth,
		log:       opts.Logger,
		hub:       newHub(opts.ReplayEvents, opts.ReplayBytes),
		started:   time.Now(),
		drained:   make(chan struct{}),
		logLimits: newLogLimits(),
		// Every user with a connection has a bucket in use, plus those
		// who left within a refill time: a few times the connection limit.
		userMsgs:     newBucketTable(Rate{opts.RatePerSecond, opts.RateBurst}, 4*opts.MaxConnections),
		hsUser:       newBucketTable(opts.HandshakesPerUser, maxLimitKeys),
		hsAddr:       newBucketTable(opts.HandshakesPerAddress, maxLimitKeys),
		budget:       budget.New(max(opts.MemoryBudget, budget.MinLimit)),
		matchMetrics: newMatchMetrics(),
		redisMetrics: newRedisMetrics(),
	}
	g.settings.Store(opts.live())
	g.hub.pool.budget = g.budget
	g.hub.shed = g.shed
	g.hub.gapClose = g.logGapClose
	g.live = &cluster.Liveness{}
	g.ctx, g.cancel = context.WithCancel(cluster.WithLiveness(context.Background(), g.live))
	// The loops, their placer and the metrics exist before the services
	// are built: a cluster's store starts following Redis inside build,
	// and a shard restarted under its id is sent its lobbies' events at
	// once, into the sinks, which count them and place their recipients.
	// No connection reaches the loops before the HTTP app below listens.
	var err error
	g.net, err = netcode.NewServer(netcode.Config{
		MaxMessageBytes:   opts.MaxMessageBytes,
		HeartbeatInterval: opts.Heartbeat,
		MaxConnections:    opts.MaxConnections,
		Budget:            g.budget,
		Logger:            opts.Logger,
		Refuse:            g.refuseUpgrade,
	}, handler{g})
	if err != nil {
		g.cancel()
		return nil, err
	}
	g.hub.place = newPlacer(g.net.Loops())
	g.metrics = newMetrics(g)
	b, err := build(Wiring{LobbySink: lobbySink{g}, MatchSink: matchSink{g}, g: g})
	if err != nil {
		g.net.Shutdown()
		g.cancel()
		return nil, err
	}
	g.lobbies, g.mm = b.Lobbies, b.Matchmaking
	if feed, ok := b.Lobbies.(lobby.ListingFeed); ok {
		g.watch = watch.New(feed, watch.Options{MaxWatchers: opts.MaxWatchers, Logger: opts.Logger})
	}
	if b.Cluster != nil {
		g.metrics.registry.MustRegister(g.redisMetrics.collectors()...)
		if err := g.startCluster(b.Cluster); err != nil {
			g.cancel()
			return nil, err
		}
	}
	g.app = g.newApp()
	if g.mm != nil {
		go g.mm.Run(g.ctx)
	}
	go g.expirySweep(g.ctx, 500*time.Millisecond)
	go g.shedLoop(g.ctx)
	if opts.GoMemoryLimit {
		go g.budget.FollowGoLimit(g.ctx)
	}
	return g, nil
}

// App returns the Fiber app (for tests that call app.Test).
func (g *Gateway) App() *fiber.App { return g.app }

// Serve accepts connections on ln until Shutdown.
func (g *Gateway) Serve(ln net.Listener) error {
	err := g.app.Listener(ln)
	if err != nil && errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Drain stops accepting players, tells every connected client to reconnect
// at its own random time within DrainSpread (server.draining), closes each
// with 4010 at that time, and returns when every connection is gone or the
// drain timeout has passed (then it reports false).
func (g *Gateway) Drain() bool {
	set := g.settings.Load()
	if g.draining.CompareAndSwap(false, true) {
		g.log.Info("draining", "connections", g.net.Len(), "spread", set.DrainSpread)
		g.hub.each(func(s *Session) {
			after := time.Duration(0)
			if set.DrainSpread > 0 {
				after = time.Duration(rand.Int64N(int64(set.DrainSpread)))
			}
			ev := connEvent(protocol.EvServerDraining, protocol.DrainingEv{ReconnectAfterMs: after.Milliseconds()})
			conn := s.writeIfLive(ev)
			g.metrics.events[protocol.EvServerDraining].delivered(1, len(ev))
			if conn != nil {
				time.AfterFunc(after, func() { conn.Close(protocol.CloseDraining, "draining") })
			}
		})
		if g.watch != nil {
			g.watch.Drain(g.opts.DrainSpread) // streams end over the same spread
		}
	}
	deadline := time.NewTimer(set.DrainTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for g.net.Len() > 0 || g.watchers() > 0 {
		select {
		case <-deadline.C:
			return false
		case <-tick.C:
		}
	}
	// In a cluster the drained players resume on other shards, which ask
	// this one for their replay rings: stay up until every waiting session
	// has been handed over, or handOverWindow after the last connection
	// closed (a player who does not come back soon is orphaned on exit and
	// resumes later without replay). Exiting at once made a player who
	// reconnected a moment late start a new session.
	if g.cl != nil {
		window := time.NewTimer(handOverWindow)
		defer window.Stop()
		for g.hub.count() > 0 {
			select {
			case <-deadline.C:
				return true // every connection is gone: the drain itself is done
			case <-window.C:
				return true
			case <-tick.C:
			}
		}
	}
	return true
}

// handOverWindow is how long a drained cluster shard waits, after its last
// connection closed, for its players' sessions to be taken over by the
// shards they reconnect to (clients reconnect at once on 4010).
const handOverWindow = 5 * time.Second

// StartDrain starts Drain in the background once; Drained is closed when
// it ends.
func (g *Gateway) StartDrain() {
	g.drainOnce.Do(func() {
		go func() {
			start := time.Now()
			if !g.Drain() {
				g.log.Warn("drain timeout reached with connections left", "connections", g.net.Len())
			} else {
				g.log.Info("drained: every connection is gone", "took", time.Since(start).Round(time.Millisecond))
			}
			close(g.drained)
		}()
	})
}

// Drained is closed when a drain started by StartDrain has ended.
func (g *Gateway) Drained() <-chan struct{} { return g.drained }

// watchers is the number of open live lobby list streams.
func (g *Gateway) watchers() int {
	if g.watch == nil {
		return 0
	}
	return g.watch.Len()
}

// Shutdown closes every connection, the listener and background work.
func (g *Gateway) Shutdown() error {
	if g.watch != nil {
		g.watch.Close() // else the HTTP server would wait for its streams
	}
	g.net.Shutdown() // before the cluster stops: OnClose may still run jobs
	g.stopCluster()
	g.cancel()
	return g.httpConns.closeWaitingDuring(func() error { return g.app.ShutdownWithTimeout(5 * time.Second) }, 50*time.Millisecond)
}

// connEvent encodes an event that belongs to the connection, not to the
// session's numbered stream (welcome, server.draining): seq 0, not replayed.
func connEvent(name string, v any) []byte {
	b, err := protocol.AppendEvent(nil, name, v)
	if err != nil {
		panic(err) // our own types always encode
	}
	return b
}
