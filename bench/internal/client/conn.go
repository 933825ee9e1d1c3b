package client

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// PayloadSize is the size of every relayed message body, in both dialects.
const PayloadSize = 64

// Conn is one player connection to a server under test.
type Conn interface {
	// Create makes a public lobby of max players with the caller inside and
	// returns its id.
	Create(ctx context.Context, name string, max int) (lobbyID string, err error)
	// Join enters the lobby by id.
	Join(ctx context.Context, lobbyID string) error
	// Leave leaves the current lobby.
	Leave(ctx context.Context) error
	// Send relays one 64-byte payload stamped with sentAt (unix ns) to the
	// other members, asking for no reply.
	Send(sentAt int64) error
	// Close closes the connection and waits for its reader to stop.
	Close() error
}

// Chatter is a Conn that can also chat: Chat sends one lobby.chat stamped
// with sentAt (unix ns), asking for no reply; every member receives it, the
// sender included, and the Handler gets its stamp like a relayed message's.
type Chatter interface {
	Chat(sentAt int64) error
}

// Handler receives relayed messages on the reader goroutine. sentAt is the
// stamp the sender put in the payload. It must not block.
type Handler func(sentAt int64)

// Dialer opens connections of one dialect to one server.
type Dialer interface {
	// Dial opens an authenticated connection for the given user name and
	// returns once the server's first frame (welcome / connect ack) arrived.
	Dial(ctx context.Context, user string, onData Handler) (Conn, error)
}

// ReplyError is a refusal from the server (err.code of a reply).
type ReplyError struct {
	Op   string
	Code string
}

func (e *ReplyError) Error() string { return fmt.Sprintf("%s: server answered %s", e.Op, e.Code) }

// ErrClosed is returned by operations on a closed connection.
var ErrClosed = errors.New("client: connection closed")

// writeTimeout bounds every write: a server that stops reading must not hang
// the load generator.
const writeTimeout = 5 * time.Second

// maxFrame bounds every received message (docs/protocol.md's default largest
// message); larger frames close the connection.
const maxFrame = 65536
