package matchmaking

import "math"

// sortKey is what the skill orders sort by, packed together so a sort pass
// reads memory in order instead of reaching into three arrays.
type sortKey struct {
	bits   uint64 // orderedBits(skill)
	idx    int32
	region int32
}

// orderedBits maps a float64 to a uint64 with the same order (for finite
// values; the matcher never sorts NaN), so skills can be radix sorted.
func orderedBits(f float64) uint64 {
	b := math.Float64bits(f)
	if b>>63 == 1 {
		return ^b
	}
	return b | 1<<63
}

const (
	radixBits = 11
	radixSize = 1 << radixBits
)

// radixSort sorts a by (region, bits), stably, using tmp (len(a)) and
// count (radixSize entries, or the region count if larger) as scratch, and
// returns whichever of a or tmp holds the result.
//
// Why not slices.SortFunc: at 100k tickets a comparison sort was a third
// of the matcher's time; an LSD radix sort is linear, and passes where
// every key shares the digit (the high bits of skills in one range) are
// skipped. The standard library has no radix sort, and the 40 lines below
// beat a dependency.
func radixSort(a, tmp []sortKey, count []int, regions int) []sortKey {
	n := len(a)
	for shift := uint(0); shift < 64; shift += radixBits {
		clear(count[:radixSize])
		for i := range a {
			count[(a[i].bits>>shift)&(radixSize-1)]++
		}
		if count[(a[0].bits>>shift)&(radixSize-1)] == n {
			continue // every key has this digit: the pass would not move anything
		}
		sum := 0
		for d := range count[:radixSize] {
			c := count[d]
			count[d] = sum
			sum += c
		}
		for i := range a {
			d := (a[i].bits >> shift) & (radixSize - 1)
			tmp[count[d]] = a[i]
			count[d]++
		}
		a, tmp = tmp, a
	}
	if regions > 1 { // one stable counting pass puts regions in order
		clear(count[:regions])
		for i := range a {
			count[a[i].region]++
		}
		sum := 0
		for r := range count[:regions] {
			c := count[r]
			count[r] = sum
			sum += c
		}
		for i := range a {
			r := a[i].region
			tmp[count[r]] = a[i]
			count[r]++
		}
		a = tmp
	}
	return a
}
