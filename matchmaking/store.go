package matchmaking

import (
	"context"

	"github.com/lobbyd/lobbyd/protocol"
)

// TicketStore holds the queued tickets of every queue. Implementations are
// safe for concurrent use and every method is atomic; the conformance suite
// in matchmaking/matchtest pins the behaviour both the memory and the Redis
// store must share.
//
// The Redis implementation is cluster.TicketStore (docs/cluster.md): a
// sorted set per queue scored by CreatedAt (Waiting = ZRANGE), one script
// for Claim, and a key per user naming the ticket (already_queued across
// queues and shards).
type TicketStore interface {
	// Add queues t. Every member may hold at most one queued ticket across
	// all queues: else already_queued, and nothing is stored. A ticket id
	// already present, an empty id or queue, no members or a member twice
	// is bad_request. The store keeps its own copy of t's slices.
	Add(ctx context.Context, t Ticket) error
	// Get returns a queued ticket; not_found when it is not queued.
	Get(ctx context.Context, id string) (Ticket, error)
	// Remove unqueues a ticket and returns it; not_found when it was not
	// queued (already matched, cancelled or timed out).
	Remove(ctx context.Context, id string) (Ticket, error)
	// ByUser returns the ticket the user is on; not_found when none.
	ByUser(ctx context.Context, userID string) (Ticket, error)
	// Waiting appends the queue's tickets, oldest first (CreatedAt, then
	// order of Add), to dst[:0] and returns it: a snapshot. The tickets'
	// slices are shared with the store and must not be modified.
	Waiting(ctx context.Context, queue string, dst []Ticket) ([]Ticket, error)
	// Claim removes every ticket in ids at once if all of them are still
	// queued (and ids holds no duplicate), and reports whether it did. When
	// any is gone nothing is removed: two matchers racing on a ticket can
	// never both use it.
	Claim(ctx context.Context, ids []string) (bool, error)
	// Stats counts a queue's tickets and players and gives its oldest
	// ticket's CreatedAt (0 when the queue is empty).
	Stats(ctx context.Context, queue string) (StoreStats, error)
}

// StoreStats is what a TicketStore knows about one queue.
type StoreStats struct {
	Tickets         int
	Players         int
	OldestCreatedAt int64 // unix ms; 0 when empty
}

// Errors the stores return (codes of docs/protocol.md §5).
var (
	ErrTicketNotFound = protocol.NewError(protocol.CodeNotFound, "no such ticket")
	ErrAlreadyQueued  = protocol.NewError(protocol.CodeAlreadyQueued, "already on a queued ticket")
)

// CheckNewTicket is the shape check every TicketStore applies in Add (the
// Redis store in package cluster too), so the stores refuse the same tickets.
func CheckNewTicket(t *Ticket) error {
	if t.ID == "" || t.Queue == "" || len(t.Members) == 0 {
		return protocol.NewError(protocol.CodeBadRequest, "ticket needs an id, a queue and members")
	}
	for i, u := range t.Members {
		if u == "" {
			return protocol.NewError(protocol.CodeBadRequest, "empty user id on ticket")
		}
		for _, v := range t.Members[:i] {
			if u == v {
				return protocol.NewError(protocol.CodeBadRequest, "a user is on the ticket twice")
			}
		}
	}
	return nil
}
