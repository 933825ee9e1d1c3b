package stats

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Hist is a log-linear latency histogram in microseconds, safe for
// concurrent Record calls (atomic counters, no lock) so that thousands of
// reader goroutines can record without contending on a mutex. Each power of
// two is cut into 64 sub-buckets: a quantile is exact to within about 1.6%.
// Values above 2^36 µs (~19 h) land in the last bucket.
type Hist struct {
	counts [subBuckets * (maxExp + 1)]atomic.Uint64
	total  atomic.Uint64
}

const (
	subBits    = 6
	subBuckets = 1 << subBits
	maxExp     = 36 - subBits
)

func bucketOf(us uint64) int {
	if us < subBuckets {
		return int(us)
	}
	e := bits.Len64(us) - subBits // >= 1
	if e > maxExp {
		return len(Hist{}.counts) - 1
	}
	return e*subBuckets + int(us>>uint(e-1)) - subBuckets
}

// lowOf is the smallest value of bucket i.
func lowOf(i int) uint64 {
	if i < subBuckets {
		return uint64(i)
	}
	e := i / subBuckets
	sub := uint64(i%subBuckets) + subBuckets
	return sub << uint(e-1)
}

// Record adds one latency; negative values count as zero.
func (h *Hist) Record(d time.Duration) {
	us := uint64(0)
	if d > 0 {
		us = uint64(d / time.Microsecond)
	}
	h.counts[bucketOf(us)].Add(1)
	h.total.Add(1)
}

// Count is the number of recorded values.
func (h *Hist) Count() uint64 { return h.total.Load() }

// Reset empties the histogram. Records racing with Reset may be lost or kept;
// callers reset between measurement windows, where that does not matter.
func (h *Hist) Reset() {
	for i := range h.counts {
		h.counts[i].Store(0)
	}
	h.total.Store(0)
}

// Quantile returns the q-quantile (0..1), 0 when empty. It reports the
// middle of the bucket holding the quantile.
func (h *Hist) Quantile(q float64) time.Duration {
	total := h.total.Load()
	if total == 0 {
		return 0
	}
	rank := uint64(q*float64(total-1)) + 1
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			lo := lowOf(i)
			hi := lo
			if i+1 < len(h.counts) {
				hi = lowOf(i+1) - 1
			}
			return time.Duration((lo+hi)/2) * time.Microsecond
		}
	}
	return time.Duration(lowOf(len(h.counts)-1)) * time.Microsecond
}
