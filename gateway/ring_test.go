package gateway

import (
	"slices"
	"testing"
)

// The ring keeps no seq per slot: the seqs follow from the oldest one's.
// They come out as they went in, across wrap-around and growth, and an
// out-of-sequence push drops what is older rather than let a replay skip.
func TestReplayRingSeqs(t *testing.T) {
	var pool eventPool
	var r replayRing
	seqs := func(after uint64) (out []uint64) {
		r.each(after, func(seq uint64, ev *eventBuf) {
			if ev.version != seq {
				t.Errorf("seq %d carries the event pushed as %d", seq, ev.version)
			}
			out = append(out, seq)
		})
		return out
	}
	push := func(seq uint64) {
		ev := pool.copyOf(make([]byte, 20))
		ev.version = seq // to tell which event comes out where
		r.push(&pool, seq, ev, 6, 1<<20)
		pool.release(ev)
	}
	for seq := uint64(1); seq <= 10; seq++ {
		push(seq)
	}
	if got := seqs(0); !slices.Equal(got, []uint64{5, 6, 7, 8, 9, 10}) || r.oldest() != 5 {
		t.Fatalf("after 10 pushes into 6 slots: %v, oldest %d", got, r.oldest())
	}
	if got := seqs(8); !slices.Equal(got, []uint64{9, 10}) {
		t.Fatalf("after 8: %v", got)
	}
	for after, want := range map[uint64][]uint64{4: {5, 6, 7, 8, 9, 10}, 5: {6, 7, 8, 9, 10}, 9: {10}, 10: nil, 11: nil, 1 << 63: nil, ^uint64(0): nil} {
		if got := seqs(after); !slices.Equal(got, want) {
			t.Fatalf("after %d: %v, want %v", after, got, want)
		}
	}
	push(20)
	if got := seqs(0); !slices.Equal(got, []uint64{20}) || r.oldest() != 20 {
		t.Fatalf("after a gap: %v, oldest %d", got, r.oldest())
	}
	r.reset(&pool)
	if r.n != 0 || r.oldest() != 0 {
		t.Fatalf("reset left %d entries", r.n)
	}
}

// BenchmarkReplayRingEachNewest is what the release of a frame held for
// its delivery record costs the ring (Session.releaseLocked): the walk to
// the newest entry of a full ring of 1024.
func BenchmarkReplayRingEachNewest(b *testing.B) {
	var pool eventPool
	var r replayRing
	for seq := uint64(1); seq <= 1024; seq++ {
		ev := pool.copyOf(make([]byte, 20))
		r.push(&pool, seq, ev, 1024, 1<<20)
		pool.release(ev)
	}
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		r.each(1023, func(uint64, *eventBuf) { n++ })
	}
	if n != b.N {
		b.Fatalf("%d entries for %d walks", n, b.N)
	}
}
