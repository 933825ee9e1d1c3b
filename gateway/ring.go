package gateway

import "unsafe"

// replayRing keeps a session's most recent events so that a client that
// resumes with last_seq gets every event it missed. It is bounded by count
// and by bytes; what falls out of it can no longer be replayed, and a resume
// that would need it starts a new session instead (docs/protocol.md).
//
// Its events have consecutive seqs (a session numbers every event into
// it), so a slot is only the event and the seq of each follows from the
// oldest one's: 8 bytes a slot instead of 16, for the few join events
// every idle session keeps.
//
// It starts empty and grows on demand, so an idle session pays nothing.
// Not safe for concurrent use: guarded by Session.mu.
//
// The slots are kept as their first one and a 16-bit count, not as a
// slice: 32 bytes, not 40, one of the cuts that keep a Session in the
// 160-byte size class (docs/architecture.md, "Memory per idle player").
type replayRing struct {
	base  **eventBuf // the first of size slots (slots), circular once full; nil: none
	first uint64     // seq of the oldest entry (slots()[start]) when n > 0
	start int16      // index of the oldest entry
	n     int16      // entries in use (at most MaxReplayEvents)
	size  int16      // slots (at most MaxReplayEvents)
	bytes int32      // sum of len(ev.b) over entries in use (at most MaxReplayBytes)
}

// slots is the ring's storage (nil when it has none).
func (r *replayRing) slots() []*eventBuf { return unsafe.Slice(r.base, r.size) }

// The bounds of a replay ring, which its counters are sized for: small
// counters keep a Session in a smaller size class.
const (
	MaxReplayEvents = 1 << 14
	MaxReplayBytes  = 1 << 30
)

// ringEntry is an event with its seq, as a catch-up batch carries it.
type ringEntry struct {
	seq uint64
	ev  *eventBuf
}

// push adds the event numbered seq (taking a reference) and evicts the
// oldest entries while the ring is over maxEntries or maxBytes. seq is the
// next after the newest entry's; if it is not (which nothing does), the
// older entries go, so that a replay can never skip one.
func (r *replayRing) push(pool *eventPool, seq uint64, ev *eventBuf, maxEntries, maxBytes int) {
	ev.retain()
	for r.n > 0 && (int(r.n) >= maxEntries || int(r.bytes)+len(ev.b) > maxBytes || seq != r.first+uint64(r.n)) {
		r.dropOldest(pool)
	}
	if r.n == r.size {
		r.grow(pool, maxEntries)
	}
	if r.n == 0 {
		r.first = seq
	}
	r.slots()[(int(r.start)+int(r.n))%int(r.size)] = ev
	r.n++
	r.bytes += int32(len(ev.b))
}

// ringSlotSize is what one ring slot costs the budget.
const ringSlotSize = int(unsafe.Sizeof((*eventBuf)(nil)))

func (r *replayRing) grow(pool *eventPool, maxEntries int) {
	size := 2 * int(r.size)
	if size < 4 {
		size = 4 // a lobby's join events fit; most idle sessions never grow past it
	}
	if size > maxEntries {
		size = maxEntries
	}
	pool.budget.Charge((size - int(r.size)) * ringSlotSize)
	e := make([]*eventBuf, size)
	old := r.slots()
	for i := range int(r.n) {
		e[i] = old[(int(r.start)+i)%len(old)]
	}
	r.base, r.size, r.start = &e[0], int16(size), 0
}

func (r *replayRing) dropOldest(pool *eventPool) {
	evs := r.slots()
	ev := evs[r.start]
	r.bytes -= int32(len(ev.b))
	pool.release(ev)
	evs[r.start] = nil
	r.start = int16((int(r.start) + 1) % len(evs))
	r.n--
	r.first++
}

// oldestStamp returns the publication stamp of the oldest retained event
// (0 when empty): shedding drops replay shard-wide in this order.
func (r *replayRing) oldestStamp() uint64 {
	if r.n == 0 {
		return 0
	}
	return r.slots()[r.start].stamp
}

// oldest returns the seq of the oldest retained event (0 when empty).
func (r *replayRing) oldest() uint64 {
	if r.n == 0 {
		return 0
	}
	return r.first
}

// each calls f for every retained event with seq > after, oldest first.
// It starts at the first such entry (seqs are consecutive): a cluster
// shard releases each frame held for its delivery record through here,
// and a walk from the oldest entry cost a full ring per frame (8% of a
// shard's CPU in the split chat once the rings had filled).
func (r *replayRing) each(after uint64, f func(seq uint64, ev *eventBuf)) {
	if r.n == 0 {
		return
	}
	i := 0
	if after >= r.first {
		d := after - r.first // the index of seq after
		if d >= uint64(r.n)-1 {
			return // after is the newest entry or beyond
		}
		i = int(d) + 1
	}
	evs := r.slots()
	for ; i < int(r.n); i++ {
		f(r.first+uint64(i), evs[(int(r.start)+i)%len(evs)])
	}
}

// appendAfter appends every retained entry with after < seq <= upTo,
// oldest first, each with a reference of its own for the caller to release.
func (r *replayRing) appendAfter(after, upTo uint64, dst []ringEntry) []ringEntry {
	r.each(after, func(seq uint64, ev *eventBuf) {
		if seq <= upTo {
			ev.retain()
			dst = append(dst, ringEntry{seq: seq, ev: ev})
		}
	})
	return dst
}

// dropThrough releases the entries up to seq, oldest first, and frees the
// storage once none is left: an idle session whose client acknowledged its
// events holds no ring at all.
func (r *replayRing) dropThrough(pool *eventPool, seq uint64) {
	for r.n > 0 && r.first <= seq {
		r.dropOldest(pool)
	}
	if r.n == 0 && r.base != nil {
		r.reset(pool)
	}
}

// reset releases every entry and frees the storage.
func (r *replayRing) reset(pool *eventPool) {
	for r.n > 0 {
		r.dropOldest(pool)
	}
	pool.budget.Release(int(r.size) * ringSlotSize)
	*r = replayRing{}
}
