package netcode

import (
	"sync"

	"github.com/lobbyd/lobbyd/budget"
)

// outQueue is a connection's unsent output: a ring buffer of whole server
// frames. Guarded by Conn.mu.
//
// Why a ring: a queue that only appends and frees its buffer when it
// drains completely never moves its unsent tail forward, so a reader that
// stays a couple of MiB behind (never the full bound) makes it grow
// without end (issue 10: 119 MiB for one reader after 40 s). Here the
// capacity is what is owed rounded up, never more than the bound: output
// is written where the sent bytes were, and writev takes the two halves of
// a wrapped ring in one call.
//
// It knows where its frames start (frameRem), so that a slow consumer's
// queue can be cut back to the rest of the frame the peer is in the middle
// of, and the close frame follows at once instead of after megabytes the
// peer will never read.
//
// Every byte of capacity is charged to the shard's budget (nil: none).
type outQueue struct {
	buf      []byte  // the ring; len(buf) is its capacity; nil when empty
	box      *[]byte // the pooled buffer behind buf, if it came from a pool
	head     int     // index of the first unsent byte
	n        int     // unsent bytes
	frameRem int     // unsent bytes of the frame at head; 0: head starts a frame
}

// wqPooledCap is the size of a pooled queue buffer: a connection holds one
// only while it has output in flight, so idle connections hold none and a
// steady stream of events allocates nothing.
const wqPooledCap = 4 << 10

// wqShrinkFrom: a ring at least this big that is at most 1/8 full after a
// write is moved to a smaller one, so a reader that caught up most of the
// way gives back what its backlog took.
const wqShrinkFrom = 64 << 10

// Ring buffers of a power-of-two size from wqPooledCap up to 64 KiB are
// pooled by size, so a connection that falls behind a little and
// catches up again and again reuses its rings instead of making garbage:
// the write path allocates nothing in steady state. Bigger rings (a
// backlog of more than 64 KiB: a slow consumer) are not pooled: a pool
// keeps what it is given alive, uncharged to the budget, until two
// collections have passed, and under a slow-reader attack those rings
// (up to the write bound each) made the heap twice the budget. A bound
// that is not a power of two gets an unpooled ring of its own size when
// it needs one.
var wqPools [5]sync.Pool // wqPooledCap << i: 4 KiB .. 64 KiB

// getRing returns a ring of size bytes and its pool box (nil: unpooled).
func getRing(size int) ([]byte, *[]byte) {
	i := ringClass(size)
	if i < 0 {
		return make([]byte, size), nil
	}
	if box, ok := wqPools[i].Get().(*[]byte); ok {
		return (*box)[:size], box
	}
	b := make([]byte, size)
	return b, &b
}

// ringClass is the pool of a ring size, -1 for none.
func ringClass(size int) int {
	for i := range wqPools {
		if size == wqPooledCap<<i {
			return i
		}
	}
	return -1
}

// ringSize rounds size up to a pooled class, unless that passes limit.
func ringSize(size, limit int) int {
	c := wqPooledCap
	for c < size {
		c <<= 1
	}
	if c > size && c > limit {
		return size
	}
	return c
}

// pending is the number of bytes owed to the peer.
func (q *outQueue) pending() int { return q.n }

// push appends a||b||d (one whole frame, or bytes of one unit when the
// queue is empty, see pushUnit). It refuses with ErrSlowConsumer when the
// peer would be owed more than limit, or when the budget refuses the
// growth; force skips both checks (a close frame must get out).
func (q *outQueue) push(a, b, d []byte, limit int, bud *budget.Budget, force bool) error {
	total := len(a) + len(b) + len(d)
	if !force && q.n+total > limit {
		return ErrSlowConsumer
	}
	if !q.reserve(total, limit, bud, force) {
		return ErrSlowConsumer
	}
	q.put(a)
	q.put(b)
	q.put(d)
	return nil
}

// pushUnit queues a||b, which is not a whole frame (the handshake answer,
// the rest of a frame whose start was written), on an empty queue: it is
// one unit for the frame walk. It ignores the bound.
func (q *outQueue) pushUnit(a, b []byte, bud *budget.Budget) {
	_ = q.push(a, b, nil, 0, bud, true)
	q.frameRem = len(a) + len(b)
}

// reserve makes room for k more bytes.
func (q *outQueue) reserve(k, limit int, bud *budget.Budget, force bool) bool {
	need := q.n + k
	if need <= len(q.buf) {
		return true
	}
	size := ringSize(max(need, min(2*len(q.buf), limit)), max(limit, need))
	if !charge(bud, size-len(q.buf), force) {
		return false
	}
	q.moveTo(size, bud)
	return true
}

func charge(bud *budget.Budget, n int, force bool) bool {
	if force {
		bud.Charge(n)
		return true
	}
	return bud.TryCharge(n)
}

// moveTo copies the unsent bytes to the start of a new ring of size bytes,
// giving the old one back. The caller charged the budget for a growth; a
// shrink gives the difference back here.
func (q *outQueue) moveTo(size int, bud *budget.Budget) {
	nb, box := getRing(size)
	a, b := q.segments()
	copy(nb[copy(nb, a):], b)
	bud.Release(len(q.buf) - size)
	q.putBack()
	q.buf, q.box, q.head = nb, box, 0
}

// put copies p to the tail; reserve made room.
func (q *outQueue) put(p []byte) {
	for len(p) > 0 {
		t := q.head + q.n
		if t >= len(q.buf) {
			t -= len(q.buf)
		}
		// From t the free space is contiguous up to head, or to the end of
		// the ring and then from its start.
		k := copy(q.buf[t:], p)
		q.n += k
		p = p[k:]
	}
}

// segments returns the unsent bytes as at most two slices, in order.
func (q *outQueue) segments() (a, b []byte) {
	if q.n == 0 {
		return nil, nil
	}
	end := q.head + q.n
	if end <= len(q.buf) {
		return q.buf[q.head:end], nil
	}
	return q.buf[q.head:], q.buf[:end-len(q.buf)]
}

// advance drops k written bytes, keeping track of frame starts. An emptied
// queue gives its buffer back; a big one that is mostly empty shrinks.
func (q *outQueue) advance(k int, bud *budget.Budget) {
	for off := 0; off < k; {
		if q.frameRem == 0 {
			q.frameRem = q.frameSizeAt(off)
		}
		s := min(k-off, q.frameRem)
		q.frameRem -= s
		off += s
	}
	q.head += k
	if q.head >= len(q.buf) {
		q.head -= len(q.buf)
	}
	q.n -= k
	switch {
	case q.n == 0:
		q.release(bud)
	case len(q.buf) >= wqShrinkFrom && q.n <= len(q.buf)/8:
		q.moveTo(ringSize(2*q.n, len(q.buf)), bud)
	}
}

// at returns the unsent byte i (0 is the head).
func (q *outQueue) at(i int) byte {
	i += q.head
	if i >= len(q.buf) {
		i -= len(q.buf)
	}
	return q.buf[i]
}

// frameSizeAt is the size of the server frame starting off bytes after the
// head (server frames are unmasked: 2, 4 or 10 header bytes).
func (q *outQueue) frameSizeAt(off int) int {
	switch l := int(q.at(off+1) & maskLen); l {
	case 126:
		return 4 + (int(q.at(off+2))<<8 | int(q.at(off+3)))
	case 127:
		v := 0
		for i := range 8 {
			v = v<<8 | int(q.at(off+2+i))
		}
		return 10 + v
	default:
		return 2 + l
	}
}

// dropUnstarted drops every queued byte the peer has not begun to receive:
// all but the rest of the frame at the head (cutting that one would break
// the stream). The ring shrinks to what is left plus room for a close
// frame. A slow consumer is closed this way: what it is owed it would
// never read in time, and the close frame should not wait behind it.
func (q *outQueue) dropUnstarted(bud *budget.Budget) {
	if q.frameRem == 0 {
		q.release(bud)
		return
	}
	q.n = q.frameRem
	if want := ringSize(q.n+maxServerHeader+maxControlPayload, len(q.buf)); len(q.buf) > want {
		q.moveTo(want, bud)
	}
}

// release gives the buffer back (to the pool if it came from it) and
// releases its budget. Unsent bytes are dropped.
func (q *outQueue) release(bud *budget.Budget) {
	bud.Release(len(q.buf))
	q.putBack()
	q.buf, q.head, q.n, q.frameRem = nil, 0, 0, 0
}

// putBack returns a pooled ring to its pool.
func (q *outQueue) putBack() {
	if q.box != nil {
		wqPools[ringClass(len(q.buf))].Put(q.box)
		q.box = nil
	}
}
