package cluster

import (
	"context"
	"sync"

	"github.com/lobbyd/lobbyd/lobby"
)

// Group commit of a split lobby's relay. Each cross-shard lobby.send is one
// run of the commit script (scripts/lobby_commit.lua), whose cost is mostly
// per run, not per event: the deadline check, the read of the version, the
// write of the offset, the PUBLISH to each other shard, a round trip, and
// on every other shard the parse and delivery of one message. While one
// commit of a lobby's sends is in flight from this shard, the sends of that
// lobby arriving meanwhile gather into one batch, which commits as one run
// (its events in arrival order, consecutive offsets) as soon as the first
// returns. A send never waits for a timer: alone, it commits at once; under
// load, as a lobby's sends come faster than a round trip, each run carries
// more of them, which is what lets a split lobby's relay keep up with a
// load that would otherwise queue on Redis. At most one commit and one
// gathering batch per lobby and shard.
//
// Order: a connection's requests run one at a time (gateway's offloader), so
// a sender's next send starts after its batch committed; sends of different
// players that meet in a batch are ordered as they joined it, as two
// concurrent commits would order them by arrival at Redis.

// maxBatchEvents bounds a batch (the script's arguments); a send that finds
// the gathering batch full commits on its own.
const maxBatchEvents = 256

// sendGroup is the group commit state of one followed lobby.
type sendGroup struct {
	mu   sync.Mutex
	busy bool       // a commit of this lobby's sends is in flight
	next *sendBatch // gathering while busy; nil: none yet
}

// sendBatch is the sends gathered behind a commit in flight: the first
// sender (its leader) commits them all once start is closed, the others
// wait for done.
type sendBatch struct {
	version uint64
	doc     *lobby.Doc
	c       collector
	start   chan struct{} // closed: the commit before it returned
	done    chan struct{} // closed: ok and err are set
	ok      bool
	err     error
}

// commitSend commits the events c of one send to fl's lobby at version:
// at once when no commit of the lobby's sends is in flight from this shard,
// else in the batch gathering behind it. It reports as commit does: false
// when the lobby's version moved (the caller reads it and computes the
// send again).
func (s *LobbyStore) commitSend(ctx context.Context, fl *followed, d *lobby.Doc, version uint64, c *collector) (bool, error) {
	// The delivery record of the commit (deliveries.go) is waited for
	// after the group is passed on, not in the commit: the next batch need
	// not wait for this one's record.
	wait := ctx
	ctx = context.WithValue(ctx, recordWaitLater{}, true)
	defer s.f.awaitRecord(wait, fl)
	g := &fl.sends
	g.mu.Lock()
	if !g.busy {
		g.busy = true
		g.mu.Unlock()
		defer g.passOn()
		return s.commit(ctx, d, version, false, c, false)
	}
	b := g.next
	if b != nil && (b.version != version || len(b.c.events)+len(c.events) > maxBatchEvents || c.err != nil) {
		// It cannot join this batch: commit beside it. A version that
		// differs fails (or makes the batch fail) the version check anyway.
		g.mu.Unlock()
		return s.commit(ctx, d, version, false, c, false)
	}
	if b != nil {
		b.c.events = append(b.c.events, c.events...)
		b.c.encoded = append(b.c.encoded, c.encoded...)
		g.mu.Unlock()
		<-b.done
		return b.ok, b.err
	}
	b = &sendBatch{version: version, doc: d, c: *c, start: make(chan struct{}), done: make(chan struct{})}
	g.next = b
	g.mu.Unlock()
	// The commit in flight is bounded by its own deadline, and passOn
	// runs after it whatever happens: start is always closed.
	<-b.start
	defer g.passOn()
	// No sender joins b any more: passOn took it off g.next before
	// closing start.
	b.ok, b.err = s.commit(ctx, b.doc, b.version, false, &b.c, false)
	close(b.done)
	return b.ok, b.err
}

// passOn ends the commit in flight: the gathering batch, if any, commits
// next (the group stays busy), else the group is idle.
func (g *sendGroup) passOn() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if b := g.next; b != nil {
		g.next = nil
		close(b.start)
		return
	}
	g.busy = false
}
