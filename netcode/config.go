package netcode

import (
	"log/slog"
	"runtime"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/lobbyd/lobbyd/budget"
)

// Config tunes a Server. Every zero value means the documented default.
type Config struct {
	// MaxMessageBytes bounds one message's payload after reassembly of its
	// fragments. Larger: close 1009. 0 → DefaultMaxMessageBytes.
	MaxMessageBytes int
	// HeartbeatInterval is how often the server pings each connection. A
	// connection that completes no frame at all (data, ping, pong or close)
	// for 3× this long is closed with 1001 "idle timeout"; a connection stuck
	// on a partial frame is covered by the same rule.
	// 0 → DefaultHeartbeatInterval.
	HeartbeatInterval time.Duration
	// WriteQueueBytes bounds the output queued for a connection whose socket
	// does not take it. Over it, the client is too slow: close 1008.
	// 0 → 4 MiB; at most 1 GiB (larger is taken as 1 GiB).
	WriteQueueBytes int
	// Loops is the number of epoll loops (goroutines). 0 → GOMAXPROCS.
	Loops int
	// CloseTimeout bounds a closing connection: the time to flush its queue
	// and close frame and for the peer to close its side, after which the
	// socket is closed anyway. 0 → 5s.
	CloseTimeout time.Duration
	// MaxConnections bounds the open connections: Upgrade reserves a slot
	// atomically before it answers, and a connection gives its slot back
	// when it leaves the open state (starts closing, fails) or never
	// opens. Without a slot Upgrade returns ErrFull. 0: no bound.
	MaxConnections int
	// MaxClosing bounds the connections that are closing (close frame
	// sent, waiting up to CloseTimeout for the peer) but no longer count
	// toward MaxConnections, so a client that ignores closes (4009
	// replaced, in a handshake loop) cannot lock out live players, and
	// cannot hold sockets without end either. Over it, a loop closes its
	// oldest closing sockets at once. Each loop holds its share
	// (MaxClosing / Loops, at least 1). 0 → MaxConnections (no bound when
	// that is 0 too).
	MaxClosing int
	// Budget, when set, is the shard's memory budget: every write queue
	// charges it for the capacity it holds, and a queue whose growth it
	// refuses is a slow consumer (close 1008). nil: no shard-wide bound.
	Budget *budget.Budget
	// AckDelay is how long a connection's WriteHead frames must have been
	// quiet before the server pings it to learn that its peer has read
	// them (Acker). 0 → 1s.
	AckDelay time.Duration
	// Logger receives transport errors that have nobody else to go to.
	// nil → slog.Default().
	Logger *slog.Logger
	// Refuse answers a handshake that Upgrade turns down with the HTTP
	// status and a message: 400 for a malformed one, 426 for a wrong
	// version (Sec-WebSocket-Version: 13 is already set), 503 after
	// Shutdown, 500 on a TLS listener. The body's format is the caller's
	// (the gateway writes docs/protocol.md's JSON error). nil → msg as plain text.
	Refuse func(c *fiber.Ctx, status int, msg string) error
}

// The transport defaults of docs/protocol.md §1 and §6 (max_message_bytes,
// heartbeat_ms). The gateway and the config package start from these.
const (
	DefaultMaxMessageBytes   = 64 << 10
	DefaultHeartbeatInterval = 15 * time.Second
)

const (
	defaultWriteQueueBytes = 4 << 20
	defaultCloseTimeout    = 5 * time.Second
	defaultAckDelay        = time.Second
)

// withDefaults returns cfg with every zero field set to its default.
func (cfg Config) withDefaults() Config {
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if cfg.WriteQueueBytes <= 0 {
		cfg.WriteQueueBytes = defaultWriteQueueBytes
	}
	cfg.WriteQueueBytes = min(cfg.WriteQueueBytes, maxWriteQueueBytes)
	if cfg.Loops <= 0 {
		cfg.Loops = runtime.GOMAXPROCS(0)
	}
	if cfg.CloseTimeout <= 0 {
		cfg.CloseTimeout = defaultCloseTimeout
	}
	if cfg.AckDelay <= 0 {
		cfg.AckDelay = defaultAckDelay
	}
	if cfg.MaxClosing <= 0 {
		cfg.MaxClosing = cfg.MaxConnections
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Refuse == nil {
		cfg.Refuse = func(c *fiber.Ctx, status int, msg string) error { return c.Status(status).SendString(msg) }
	}
	return cfg
}
