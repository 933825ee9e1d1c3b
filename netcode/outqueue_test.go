package netcode

import (
	"bytes"
	"testing"

	"github.com/gobwas/ws"
	"github.com/lobbyd/lobbyd/budget"
)

// serverFrame builds a server frame of n payload bytes, each byte = tag.
func serverFrame(n int, tag byte) []byte {
	var hdr [maxServerHeader]byte
	hn := putHeader(&hdr, ws.OpBinary, n)
	return append(hdr[:hn:hn], bytes.Repeat([]byte{tag}, n)...)
}

// TestOutQueueCapacityFollowsBacklog: a reader that is always some way
// behind but never the whole bound, while many times the bound goes
// through. The ring's capacity stays within the bound (the old append-only
// queue grew by everything written until it drained completely), every
// byte comes out in order, and the budget is charged exactly what is held.
func TestOutQueueCapacityFollowsBacklog(t *testing.T) {
	const limit = 64 << 10
	bud := budget.New(1 << 30)
	var q outQueue
	var want, got bytes.Buffer
	sizes := []int{10, 125, 126, 1000, 3000, 65535 - 4*1024, 70000}
	step := 0
	for i := 0; want.Len() < 64*limit; i++ {
		f := serverFrame(sizes[i%len(sizes)]%(limit/2), byte(i))
		for q.pending()+len(f) > 3*limit/4 { // the reader takes some, never all
			a, b := q.segments()
			k := min(q.pending()-limit/4, 700+step%5000)
			step += 977
			got.Write(a[:min(k, len(a))])
			if k > len(a) {
				got.Write(b[:k-len(a)])
			}
			q.advance(k, bud)
		}
		if err := q.push(f, nil, nil, limit, bud, false); err != nil {
			t.Fatal(err)
		}
		want.Write(f)
		if len(q.ring()) > limit {
			t.Fatalf("after %d bytes through, %d pending: capacity %d over the %d bound", want.Len(), q.pending(), len(q.ring()), limit)
		}
		if bud.Used() != int64(len(q.ring())) {
			t.Fatalf("budget charged %d, queue holds %d", bud.Used(), len(q.ring()))
		}
	}
	a, b := q.segments()
	got.Write(a)
	got.Write(b)
	q.advance(q.pending(), bud)
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatal("bytes out differ from bytes in")
	}
	if q.ring() != nil || bud.Used() != 0 {
		t.Fatalf("drained queue holds %d, budget %d", len(q.ring()), bud.Used())
	}
}

// TestOutQueueDropUnstarted keeps the rest of the frame in flight and
// drops every frame not begun.
func TestOutQueueDropUnstarted(t *testing.T) {
	bud := budget.New(1 << 30)
	var q outQueue
	for i := range 100 {
		if err := q.push(serverFrame(1000, byte(i)), nil, nil, 1<<20, bud, false); err != nil {
			t.Fatal(err)
		}
	}
	q.advance(2500, bud) // two frames of 1004 and 492 bytes of the third
	q.dropUnstarted(bud)
	if q.pending() != 3*1004-2500 {
		t.Fatalf("pending %d, want the rest of the third frame (%d)", q.pending(), 3*1004-2500)
	}
	if bud.Used() != int64(len(q.ring())) || len(q.ring()) > wqPooledCap {
		t.Fatalf("after the cut: capacity %d, budget %d", len(q.ring()), bud.Used())
	}
	a, b := q.segments()
	if rest := append(a, b...); !bytes.Equal(rest, bytes.Repeat([]byte{2}, len(rest))) {
		t.Fatal("kept bytes are not the third frame's")
	}
	q.advance(q.pending(), bud)
	q.dropUnstarted(bud) // at a frame start: nothing is kept
	if q.ring() != nil || bud.Used() != 0 {
		t.Fatal("empty queue holds memory")
	}
}

// TestOutQueueBudgetRefusesGrowth: a queue may not grow past the shard's
// budget (the connection is then a slow consumer), except for a close frame.
func TestOutQueueBudgetRefusesGrowth(t *testing.T) {
	bud := budget.New(budget.MinLimit)
	var q outQueue
	var err error
	for i := 0; err == nil && i < 2000; i++ {
		err = q.push(serverFrame(1000, 1), nil, nil, 4<<20, bud, false)
	}
	if err != ErrSlowConsumer || bud.Used() > bud.Limit() {
		t.Fatalf("err %v, budget %d of %d", err, bud.Used(), bud.Limit())
	}
	select {
	case <-bud.Pressure():
	default:
		t.Fatal("no pressure signal")
	}
	q.release(bud)
	if bud.Used() != 0 {
		t.Fatal("release left a charge")
	}
}

// The write bound is at most 1 GiB, so that a ring (the bound, a frame and
// a close frame) fits the queue's 32-bit offsets.
func TestWriteQueueBytesBounded(t *testing.T) {
	if got := (Config{WriteQueueBytes: 4 << 30}).withDefaults().WriteQueueBytes; got != maxWriteQueueBytes {
		t.Fatalf("WriteQueueBytes 4 GiB became %d, want %d", got, maxWriteQueueBytes)
	}
	if got := (Config{WriteQueueBytes: 64 << 10}).withDefaults().WriteQueueBytes; got != 64<<10 {
		t.Fatalf("WriteQueueBytes 64 KiB became %d", got)
	}
}
