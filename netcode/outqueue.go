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
//
// It is 24 bytes, not 56: the ring is kept only as the box a pool hands
// out (an unpooled ring gets a box of its own, which only a slow
// consumer's backlog needs), and the offsets are 32-bit, which the write
// bound allows (maxWriteQueueBytes). One is in every Conn, and that keeps
// a Conn in the 128-byte size class, not 160 (docs/architecture.md,
// "Memory per idle player").
type outQueue struct {
	box      *[]byte // the ring (len is its capacity); nil when empty
	head     int32   // index of the first unsent byte
	n        int32   // unsent bytes
	frameRem int32   // unsent bytes of the frame at head; 0: head starts a frame
}

// maxWriteQueueBytes bounds Config.WriteQueueBytes so that a ring, the
// bound plus one frame of at most 16 MiB (the config's largest message)
// and a close frame, fits outQueue's 32-bit offsets.
const maxWriteQueueBytes = 1 << 30

// ring is the ring buffer (nil when the queue holds none).
func (q *outQueue) ring() []byte {
	if q.box == nil {
		return nil
	}
	return *q.box
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

// getRing returns a box holding a ring of size bytes: from its pool when
// size is a pooled class (putBack tells them apart by size).
func getRing(size int) *[]byte {
	if i := ringClass(size); i >= 0 {
		if box, ok := wqPools[i].Get().(*[]byte); ok {
			return box
		}
	}
	b := make([]byte, size)
	return &b
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
func (q *outQueue) pending() int { return int(q.n) }

// push appends a||b||d (one whole frame, or bytes of one unit when the
// queue is empty, see pushUnit). It refuses with ErrSlowConsumer when the
// peer would be owed more than limit, or when the budget refuses the
// growth; force skips both checks (a close frame must get out).
func (q *outQueue) push(a, b, d []byte, limit int, bud *budget.Budget, force bool) error {
	total := len(a) + len(b) + len(d)
	if !force && int(q.n)+total > limit {
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
	q.frameRem = int32(len(a) + len(b))
}

// reserve makes room for k more bytes.
func (q *outQueue) reserve(k, limit int, bud *budget.Budget, force bool) bool {
	need, capacity := int(q.n)+k, len(q.ring())
	if need <= capacity {
		return true
	}
	size := ringSize(max(need, min(2*capacity, limit)), max(limit, need))
	if !charge(bud, size-capacity, force) {
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
	box := getRing(size)
	nb := *box
	a, b := q.segments()
	copy(nb[copy(nb, a):], b)
	bud.Release(len(q.ring()) - size)
	q.putBack()
	q.box, q.head = box, 0
}

// put copies p to the tail; reserve made room.
func (q *outQueue) put(p []byte) {
	buf := q.ring()
	for len(p) > 0 {
		t := int(q.head) + int(q.n) // in int: the sum may pass 2 GiB
		if t >= len(buf) {
			t -= len(buf)
		}
		// From t the free space is contiguous up to head, or to the end of
		// the ring and then from its start.
		k := copy(buf[t:], p)
		q.n += int32(k)
		p = p[k:]
	}
}

// segments returns the unsent bytes as at most two slices, in order.
func (q *outQueue) segments() (a, b []byte) {
	if q.n == 0 {
		return nil, nil
	}
	buf, head := q.ring(), int(q.head)
	end := head + int(q.n)
	if end <= len(buf) {
		return buf[head:end], nil
	}
	return buf[head:], buf[:end-len(buf)]
}

// advance drops k written bytes, keeping track of frame starts. An emptied
// queue gives its buffer back; a big one that is mostly empty shrinks.
func (q *outQueue) advance(k int, bud *budget.Budget) {
	for off := 0; off < k; {
		if q.frameRem == 0 {
			q.frameRem = int32(q.frameSizeAt(off))
		}
		s := min(k-off, int(q.frameRem))
		q.frameRem -= int32(s)
		off += s
	}
	capacity := len(q.ring())
	head := int(q.head) + k
	if head >= capacity {
		head -= capacity
	}
	q.head = int32(head)
	q.n -= int32(k)
	switch {
	case q.n == 0:
		q.release(bud)
	case capacity >= wqShrinkFrom && int(q.n) <= capacity/8:
		q.moveTo(ringSize(2*int(q.n), capacity), bud)
	}
}

// at returns the unsent byte i (0 is the head).
func (q *outQueue) at(i int) byte {
	buf := q.ring()
	i += int(q.head)
	if i >= len(buf) {
		i -= len(buf)
	}
	return buf[i]
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
	capacity := len(q.ring())
	if want := ringSize(int(q.n)+maxServerHeader+maxControlPayload, capacity); capacity > want {
		q.moveTo(want, bud)
	}
}

// release gives the buffer back (to the pool if it came from it) and
// releases its budget. Unsent bytes are dropped.
func (q *outQueue) release(bud *budget.Budget) {
	bud.Release(len(q.ring()))
	q.putBack()
	q.head, q.n, q.frameRem = 0, 0, 0
}

// putBack lets go of the ring: back to its pool if its size is a pooled
// class (getRing made every such ring from a pool's class).
func (q *outQueue) putBack() {
	if q.box == nil {
		return
	}
	if i := ringClass(len(*q.box)); i >= 0 {
		wqPools[i].Put(q.box)
	}
	q.box = nil
}
