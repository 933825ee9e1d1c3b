package client

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// TokenSource gives the JWT for a connection. The Client asks it before
// every dial, so a source that refreshes expired tokens is all a long
// session needs: after a close 4001 (token expired) or a 401, the next
// dial gets a fresh token.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// StaticToken is a TokenSource that always gives the same token.
type StaticToken string

// Token implements TokenSource.
func (t StaticToken) Token(context.Context) (string, error) { return string(t), nil }

// TokenFunc adapts a function to TokenSource.
type TokenFunc func(ctx context.Context) (string, error)

// Token implements TokenSource.
func (f TokenFunc) Token(ctx context.Context) (string, error) { return f(ctx) }

// Defaults of Options.
const (
	DefaultMinBackoff     = 250 * time.Millisecond
	DefaultMaxBackoff     = 30 * time.Second
	DefaultMaxQueued      = 65536
	DefaultHandshake      = 10 * time.Second
	DefaultMaxMessage     = 16 << 20
	DefaultAuthRetries    = 3
	defaultHeartbeatGrace = 3 // heartbeats without a word from the server before the connection counts as dead
)

// Options configure a Client. The zero value (or nil) is the defaults.
type Options struct {
	// Header is sent with every handshake (an Origin, for example).
	Header http.Header
	// Dialer dials the WebSocket. nil: a gorilla websocket.Dialer with
	// HandshakeTimeout DefaultHandshake.
	Dialer *websocket.Dialer
	// MinBackoff and MaxBackoff bound the exponential backoff between
	// reconnects: attempt n waits a random time in [0, min(MaxBackoff,
	// MinBackoff·2ⁿ)) ("full jitter"). Zero: DefaultMinBackoff,
	// DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// MaxAttempts bounds consecutive failed reconnects; then the Client
	// closes with the last error. 0: no bound (until Close).
	MaxAttempts int
	// MaxQueued bounds events received and not yet taken from Events:
	// over it the Client stops reading from the socket until the
	// application catches up (the server then sees a slow client). 0:
	// DefaultMaxQueued.
	MaxQueued int
	// MaxMessage bounds one message from the server. 0: DefaultMaxMessage.
	MaxMessage int64
	// AuthRetries is how many handshakes in a row may be refused with 401
	// (each with a token asked anew) before the Client gives up. 0:
	// DefaultAuthRetries.
	AuthRetries int
	// Logger reports reconnects. nil: slog.Default().
	Logger *slog.Logger
}

func (o *Options) withDefaults() Options {
	var out Options
	if o != nil {
		out = *o
	}
	if out.MinBackoff <= 0 {
		out.MinBackoff = DefaultMinBackoff
	}
	if out.MaxBackoff <= 0 {
		out.MaxBackoff = DefaultMaxBackoff
	}
	if out.MaxBackoff < out.MinBackoff {
		out.MaxBackoff = out.MinBackoff
	}
	if out.MaxQueued <= 0 {
		out.MaxQueued = DefaultMaxQueued
	}
	if out.MaxMessage <= 0 {
		out.MaxMessage = DefaultMaxMessage
	}
	if out.AuthRetries <= 0 {
		out.AuthRetries = DefaultAuthRetries
	}
	if out.Dialer == nil {
		out.Dialer = &websocket.Dialer{HandshakeTimeout: DefaultHandshake, Proxy: http.ProxyFromEnvironment}
	}
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	return out
}

// backoff is the wait before reconnect attempt n (0-based): full jitter
// over an exponential ceiling, so that clients dropped together do not
// come back together.
func backoff(n int, lo, hi time.Duration) time.Duration {
	ceil := hi
	if n < 40 {
		if c := lo << n; c > 0 && c < hi {
			ceil = c
		}
	}
	return time.Duration(rand.Int64N(int64(ceil) + 1))
}

// Errors of a Client.
var (
	// ErrClosed: the Client was closed (Close, or it gave up).
	ErrClosed = errors.New("client: closed")
	// ErrConnectionLost: the connection dropped after the request was
	// sent and before its reply came. It may or may not have taken
	// effect; the Client does not send it again.
	ErrConnectionLost = errors.New("client: connection lost before the reply; the request may or may not have taken effect")
	// ErrReplaced: another connection of the same user took the session
	// over (close 4009). The Client does not fight it: it closes.
	ErrReplaced = errors.New("client: replaced by a newer connection of the same user (close 4009)")
)
