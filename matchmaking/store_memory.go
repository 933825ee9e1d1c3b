package matchmaking

import (
	"context"
	"slices"
	"sync"

	"github.com/lobbyd/lobbyd/protocol"
)

// MemoryStore is the single-shard TicketStore. One mutex guards it all:
// every operation is a few map operations, and Waiting copies a queue
// (100k tickets: about a millisecond) under it.
type MemoryStore struct {
	mu     sync.Mutex            // guards everything below
	byID   map[string]*memTicket // queued tickets
	byUser map[string]*memTicket // member → ticket
	queues map[string]*memQueue  // by queue name; created on first Add
}

type memTicket struct {
	t    Ticket
	dead bool // removed; still in its queue's list until compaction
}

// memQueue keeps its tickets in creation order with removal marks, so that
// removing from the middle (cancel, claim) is O(1) and the list is
// compacted only once half of it is dead.
type memQueue struct {
	list    []*memTicket
	dead    int
	live    int
	players int
}

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		byID:   make(map[string]*memTicket),
		byUser: make(map[string]*memTicket),
		queues: make(map[string]*memQueue),
	}
}

// Add implements TicketStore.
func (s *MemoryStore) Add(_ context.Context, t Ticket) error {
	if err := CheckNewTicket(&t); err != nil {
		return err
	}
	t.Members = slices.Clone(t.Members)
	t.Names = slices.Clone(t.Names)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.byID[t.ID]; dup {
		return protocol.NewError(protocol.CodeBadRequest, "ticket id in use")
	}
	for _, u := range t.Members {
		if _, ok := s.byUser[u]; ok {
			return ErrAlreadyQueued
		}
	}
	e := &memTicket{t: t}
	s.byID[t.ID] = e
	for _, u := range t.Members {
		s.byUser[u] = e
	}
	q := s.queues[t.Queue]
	if q == nil {
		q = &memQueue{}
		s.queues[t.Queue] = q
	}
	if n := len(q.list); n == 0 || q.list[n-1].t.CreatedAt <= t.CreatedAt {
		q.list = append(q.list, e)
	} else { // a clock step back: keep creation order
		i, _ := slices.BinarySearchFunc(q.list, t.CreatedAt, func(x *memTicket, at int64) int {
			if x.t.CreatedAt <= at {
				return -1
			}
			return 1
		})
		q.list = slices.Insert(q.list, i, e)
	}
	q.live++
	q.players += len(t.Members)
	return nil
}

// Get implements TicketStore.
func (s *MemoryStore) Get(_ context.Context, id string) (Ticket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.byID[id]; ok {
		return e.t, nil
	}
	return Ticket{}, ErrTicketNotFound
}

// Remove implements TicketStore.
func (s *MemoryStore) Remove(_ context.Context, id string) (Ticket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byID[id]
	if !ok {
		return Ticket{}, ErrTicketNotFound
	}
	s.removeLocked(e)
	return e.t, nil
}

// ByUser implements TicketStore.
func (s *MemoryStore) ByUser(_ context.Context, userID string) (Ticket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.byUser[userID]; ok {
		return e.t, nil
	}
	return Ticket{}, ErrTicketNotFound
}

// Waiting implements TicketStore.
func (s *MemoryStore) Waiting(_ context.Context, queue string, dst []Ticket) ([]Ticket, error) {
	dst = dst[:0]
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[queue]
	if q == nil {
		return dst, nil
	}
	dst = slices.Grow(dst, q.live)
	for _, e := range q.list {
		if !e.dead {
			dst = append(dst, e.t)
		}
	}
	return dst, nil
}

// Claim implements TicketStore.
func (s *MemoryStore) Claim(_ context.Context, ids []string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, id := range ids {
		if _, ok := s.byID[id]; !ok || slices.Contains(ids[:i], id) {
			return false, nil
		}
	}
	for _, id := range ids {
		s.removeLocked(s.byID[id])
	}
	return true, nil
}

// Stats implements TicketStore.
func (s *MemoryStore) Stats(_ context.Context, queue string) (StoreStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[queue]
	if q == nil {
		return StoreStats{}, nil
	}
	st := StoreStats{Tickets: q.live, Players: q.players}
	for _, e := range q.list { // dead entries at the front are compacted away, see removeLocked
		if !e.dead {
			st.OldestCreatedAt = e.t.CreatedAt
			break
		}
	}
	return st, nil
}

// removeLocked unqueues e. Its queue's list drops dead entries from its
// front at once (so Stats finds the oldest without a scan) and compacts
// when half of it is dead, which keeps removal amortised O(1).
func (s *MemoryStore) removeLocked(e *memTicket) {
	delete(s.byID, e.t.ID)
	for _, u := range e.t.Members {
		if s.byUser[u] == e {
			delete(s.byUser, u)
		}
	}
	e.dead = true
	q := s.queues[e.t.Queue]
	q.live--
	q.players -= len(e.t.Members)
	q.dead++
	i := 0
	for i < len(q.list) && q.list[i].dead {
		i++
	}
	if i > 0 {
		clear(q.list[:i]) // let the dead tickets be collected
		q.list = q.list[i:]
		q.dead -= i
	}
	if q.dead > 64 && q.dead*2 > len(q.list) {
		q.list = slices.DeleteFunc(q.list, func(x *memTicket) bool { return x.dead })
		q.dead = 0
	}
	if q.live == 0 {
		delete(s.queues, e.t.Queue) // a queue name from a stale ticket must not linger
	}
}
