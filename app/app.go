// Package app wires a validated configuration into a running shard: the
// stores, the matchmaking service and the gateway. cmd/lobbyd (flags and
// signals) and the end-to-end tests both start shards through it, so the
// tests run exactly what operators run.
//
// Concurrency: an App is started once; Drain and Shutdown may be called from
// any goroutine.
package app

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/lobbyd/lobbyd/cluster"
	"github.com/lobbyd/lobbyd/config"
	"github.com/lobbyd/lobbyd/gateway"
	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/matchmaking"
	"github.com/lobbyd/lobbyd/version"
	"github.com/lobbyd/lobbyd/web"
)

// App is one running shard.
type App struct {
	Gateway       *gateway.Gateway
	Auth          *gateway.Auth
	Listener      net.Listener
	OperatorToken string // the configured one, or the random dev-mode one
	log           *slog.Logger
	cluster       *redisCluster // nil: a single in-memory shard
	// LogLevel, when set (by cmd/lobbyd, from NewLogger), is the level a
	// reload changes.
	LogLevel *slog.LevelVar

	cfg *config.Config       // the settings in force; Reload's (one goroutine: cmd/lobbyd's signal loop)
	mm  *matchmaking.Service // for live queue changes
}

// New listens on cfg.Addr and builds the shard. Notices for the operator
// (the start-up summary, dev mode, generated secrets, the address it
// listens on) go to log.
func New(cfg *config.Config, log *slog.Logger) (*App, error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	logSummary(log, cfg)
	auth, err := newAuth(cfg, log)
	if err != nil {
		return nil, err
	}
	a := &App{Auth: auth, OperatorToken: cfg.OperatorToken, log: log, cfg: cfg}
	if cfg.RedisURL != "" {
		rdb, err := openRedis(cfg)
		if err != nil {
			return nil, err
		}
		a.cluster = &redisCluster{rdb: rdb, ks: cluster.NewKeyspace(cfg.RedisPrefix)}
	}
	if cfg.Dev && a.OperatorToken == "" {
		a.OperatorToken = gateway.RandomToken()
		log.Warn("dev mode: generated an operator token for /metrics and /admin/*", "operator_token", a.OperatorToken)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	a.Listener = ln
	a.Gateway, err = gateway.New(gateway.Options{
		ShardID:              cfg.ShardID,
		Addr:                 ln.Addr().String(),
		Heartbeat:            cfg.Heartbeat(),
		ResumeGrace:          cfg.ResumeGrace(),
		MaxConnections:       cfg.MaxConnections,
		MaxWatchers:          cfg.MaxWatchers,
		MemoryBudget:         cfg.MemoryBudgetBytes,
		GoMemoryLimit:        os.Getenv("GOMEMLIMIT") == "",
		MaxMessageBytes:      cfg.MaxMessageBytes,
		RatePerSecond:        cfg.RateLimit.PerSecond,
		RateBurst:            cfg.RateLimit.Burst,
		HandshakesPerUser:    gateway.Rate(cfg.HandshakeLimit.PerUser),
		HandshakesPerAddress: gateway.Rate(cfg.HandshakeLimit.PerAddress),
		AllowedOrigins:       cfg.AllowedOrigins,
		DrainSpread:          cfg.DrainSpread(),
		DrainTimeout:         cfg.DrainTimeout(),
		Dev:                  cfg.Dev,
		OperatorToken:        a.OperatorToken,
		Logger:               log,
		UI:                   web.Assets(),
	}, auth, func(w gateway.Wiring) (gateway.Backends, error) {
		if a.cluster != nil {
			b, err := a.cluster.backends(cfg, w, log)
			a.mm = b.Matchmaking
			return b, err
		}
		store := lobby.NewMemoryStore(w.LobbySink, lobby.MemoryOptions{Logger: log})
		mm, err := matchmaking.NewService(cfg.Queues, matchmaking.NewMemoryStore(), w.MatchLobbies(store), w.MatchSink,
			matchmaking.Options{Logger: log, Observer: w.MatchObserver(queueNames(cfg))})
		if err != nil {
			return gateway.Backends{}, err
		}
		a.mm = mm
		return gateway.Backends{Lobbies: store, Matchmaking: mm}, nil
	})
	if err != nil {
		ln.Close()
		if a.cluster != nil {
			a.cluster.close()
		}
		return nil, err
	}
	if cfg.Dev {
		log.Warn("DEV MODE: guest tokens at POST /v1/auth/guest; do not expose this server to the internet")
	}
	log.Info("listening", "addr", a.Addr(), "url", "http://"+a.Addr())
	return a, nil
}

// logSummary writes the one line an operator reads first: which build, in
// which mode, with which store and limits this shard starts.
func logSummary(log *slog.Logger, cfg *config.Config) {
	mode := "production"
	if cfg.Dev {
		mode = "dev"
	}
	store := "memory"
	if cfg.RedisURL != "" {
		store = "redis"
	}
	queues := make([]string, len(cfg.Queues))
	for i, q := range cfg.Queues {
		queues[i] = q.Name
	}
	log.Info("lobbyd starting",
		"version", version.Get().String(),
		"mode", mode,
		"store", store,
		"shard", cfg.ShardID,
		"addr", cfg.Addr,
		"max_connections", cfg.MaxConnections,
		"max_watchers", cfg.MaxWatchers,
		"memory_budget_bytes", cfg.MemoryBudgetBytes,
		"max_message_bytes", cfg.MaxMessageBytes,
		"heartbeat_ms", cfg.HeartbeatMs,
		"resume_grace_ms", cfg.ResumeGraceMs,
		"rate_limit_per_second", cfg.RateLimit.PerSecond,
		"rate_limit_burst", cfg.RateLimit.Burst,
		"allowed_origins", len(cfg.AllowedOrigins),
		"queues", strings.Join(queues, ","),
	)
}

// queueNames are the names of cfg's queues.
func queueNames(cfg *config.Config) []string {
	names := make([]string, len(cfg.Queues))
	for i, q := range cfg.Queues {
		names[i] = q.Name
	}
	return names
}

// Addr is the address the shard listens on.
func (a *App) Addr() string { return a.Listener.Addr().String() }

// Serve serves until Shutdown.
func (a *App) Serve() error { return a.Gateway.Serve(a.Listener) }

// Shutdown closes every connection and the listener, then lets go of the
// cluster (its matcher leases are released for another shard to take).
func (a *App) Shutdown() error {
	err := a.Gateway.Shutdown()
	if a.cluster != nil {
		a.cluster.close()
	}
	return err
}

func newAuth(cfg *config.Config, log *slog.Logger) (*gateway.Auth, error) {
	switch {
	case cfg.JWTPublicKeyFile != "":
		a, err := gateway.NewPublicKeyAuth(cfg.JWTPublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("jwt-public-key: %w", err)
		}
		return a, nil
	case cfg.JWTSecret != "":
		return gateway.NewHMACAuth([]byte(cfg.JWTSecret)), nil
	default:
		log.Warn("no --jwt-secret: using a random secret; tokens do not survive a restart")
		return gateway.NewHMACAuth(gateway.RandomSecret()), nil
	}
}
