package gateway

import (
	"sync"
	"sync/atomic"

	"github.com/lobbyd/lobbyd/budget"
)

// eventBuf is one encoded event shared by every recipient and by their replay
// rings. It is never written after it was encoded: each recipient gets its
// own seq by writing a patched copy of the first eventHeadLen bytes followed
// by the shared rest. refs counts the holders (the deliverer while it fans
// out, plus one per ring entry); the last release returns it to its pool, so
// a steady stream of lobby.send events allocates nothing.
//
// Once published (fanOut) an event is charged to the shard's memory budget
// for its capacity until the last release, and stamped with the shard's
// publication order, by which shedding finds the oldest replay.
//
// 64 bytes, one of Go's size classes: idle sessions' rings keep about one
// event per player alive (docs/architecture.md, "Memory per idle player").
type eventBuf struct {
	refs    atomic.Int32
	charged bool  // cap(b) is charged to the budget: published, not yet released
	inView  bool  // a view of the lobby from version on shows all the event says
	home    int16 // the lobby's loop + 1 (place.go); 0: none. In what was padding
	b       []byte

	stamp uint64 // publication order on this shard; set by publish

	// Where a lobby event comes from, for a session that holds events
	// while its welcome's snapshot is read (snapshot.shows). lobbyID is ""
	// for events of no lobby (matchmaking).
	lobbyID string
	version uint64 // lobby.Event.Version
}

// Size classes for pooled event buffers. An event bigger than the largest
// class is allocated and left to the GC.
var eventClasses = [...]int{256, 4 << 10, 72 << 10}

type eventPool struct {
	pools  [len(eventClasses)]sync.Pool
	budget *budget.Budget // nil: none
	clock  atomic.Uint64  // last stamp
}

// publish charges a finished event to the budget and stamps it. Forced:
// the event exists already and its recipients are owed it; shedding makes
// room afterwards.
func (p *eventPool) publish(e *eventBuf) {
	e.stamp = p.clock.Add(1)
	e.charged = true
	p.budget.Charge(cap(e.b))
}

// get returns a buffer with one reference and room for size bytes.
func (p *eventPool) get(size int) *eventBuf {
	for i, c := range eventClasses {
		if size <= c {
			if e, ok := p.pools[i].Get().(*eventBuf); ok {
				e.b = e.b[:0]
				e.lobbyID, e.version, e.inView, e.home = "", 0, false, 0
				e.refs.Store(1)
				return e
			}
			e := &eventBuf{b: make([]byte, 0, c)}
			e.refs.Store(1)
			return e
		}
	}
	e := &eventBuf{b: make([]byte, 0, size)}
	e.refs.Store(1)
	return e
}

// copyOf returns a buffer with one reference holding a copy of b, sized to
// it, not to a size class: for events that may be held long (cold events,
// replay of idle sessions), not for the hot path.
func (p *eventPool) copyOf(b []byte) *eventBuf {
	e := &eventBuf{b: append(make([]byte, 0, len(b)), b...)}
	e.refs.Store(1)
	return e
}

func (e *eventBuf) retain() { e.refs.Add(1) }

func (p *eventPool) release(e *eventBuf) {
	n := e.refs.Add(-1)
	if n > 0 {
		return
	}
	if n < 0 {
		panic("gateway: eventBuf released too often")
	}
	if e.charged {
		p.budget.Release(cap(e.b))
		e.charged = false
	}
	c := cap(e.b)
	for i, cl := range eventClasses {
		if c == cl {
			p.pools[i].Put(e)
			return
		}
	}
}
