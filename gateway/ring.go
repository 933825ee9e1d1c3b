package gateway

import "unsafe"

// replayRing keeps a session's most recent events so that a client that
// resumes with last_seq gets every event it missed. It is bounded by count
// and by bytes; what falls out of it can no longer be replayed, and a resume
// that would need it starts a new session instead (docs/protocol.md).
//
// It starts empty and grows on demand, so an idle session pays nothing.
// Not safe for concurrent use: guarded by Session.mu.
type replayRing struct {
	entries []ringEntry // circular once full
	start   int32       // index of the oldest entry
	n       int32       // entries in use (at most the ring's bound, 1024 by default)
	bytes   int         // sum of len(ev.b) over entries in use
}

type ringEntry struct {
	seq uint64
	ev  *eventBuf
}

// push adds an event (taking a reference) and evicts the oldest entries while
// the ring is over maxEntries or maxBytes.
func (r *replayRing) push(pool *eventPool, seq uint64, ev *eventBuf, maxEntries, maxBytes int) {
	ev.retain()
	for r.n > 0 && (int(r.n) >= maxEntries || r.bytes+len(ev.b) > maxBytes) {
		r.dropOldest(pool)
	}
	if int(r.n) == len(r.entries) {
		r.grow(pool, maxEntries)
	}
	i := (int(r.start) + int(r.n)) % len(r.entries)
	r.entries[i] = ringEntry{seq: seq, ev: ev}
	r.n++
	r.bytes += len(ev.b)
}

// ringEntrySize is what one ring slot costs the budget.
const ringEntrySize = int(unsafe.Sizeof(ringEntry{}))

func (r *replayRing) grow(pool *eventPool, maxEntries int) {
	size := 2 * len(r.entries)
	if size < 4 {
		size = 4 // a lobby's join events fit; most idle sessions never grow past it
	}
	if size > maxEntries {
		size = maxEntries
	}
	pool.budget.Charge((size - len(r.entries)) * ringEntrySize)
	e := make([]ringEntry, size)
	for i := range int(r.n) {
		e[i] = r.entries[(int(r.start)+i)%len(r.entries)]
	}
	r.entries, r.start = e, 0
}

func (r *replayRing) dropOldest(pool *eventPool) {
	e := &r.entries[r.start]
	r.bytes -= len(e.ev.b)
	pool.release(e.ev)
	*e = ringEntry{}
	r.start = int32((int(r.start) + 1) % len(r.entries))
	r.n--
}

// oldestStamp returns the publication stamp of the oldest retained event
// (0 when empty): shedding drops replay shard-wide in this order.
func (r *replayRing) oldestStamp() uint64 {
	if r.n == 0 {
		return 0
	}
	return r.entries[r.start].ev.stamp
}

// oldest returns the seq of the oldest retained event (0 when empty).
func (r *replayRing) oldest() uint64 {
	if r.n == 0 {
		return 0
	}
	return r.entries[r.start].seq
}

// each calls f for every retained event with seq > after, oldest first.
func (r *replayRing) each(after uint64, f func(seq uint64, ev *eventBuf)) {
	for i := range int(r.n) {
		e := r.entries[(int(r.start)+i)%len(r.entries)]
		if e.seq > after {
			f(e.seq, e.ev)
		}
	}
}

// appendAfter appends every retained entry with seq > after, oldest first,
// each with a reference of its own for the caller to release.
func (r *replayRing) appendAfter(after uint64, dst []ringEntry) []ringEntry {
	r.each(after, func(seq uint64, ev *eventBuf) {
		ev.retain()
		dst = append(dst, ringEntry{seq: seq, ev: ev})
	})
	return dst
}

// reset releases every entry and frees the storage.
func (r *replayRing) reset(pool *eventPool) {
	for r.n > 0 {
		r.dropOldest(pool)
	}
	pool.budget.Release(len(r.entries) * ringEntrySize)
	*r = replayRing{}
}
