package matchmaking

// skipOrder is the tickets in one sort order with removal marks, and the
// two "nearest alive position" queries the matcher needs. Removed positions
// are skipped with path-compressed forward and backward links (the
// union-find "next free slot" trick): a query costs amortised almost O(1),
// where a balanced tree or skip list would cost O(log n) and allocate per
// node. We write it ourselves because it is 30 lines over slices the Matcher
// reuses between calls; no library offers that without per-node garbage.
type skipOrder struct {
	idx []int32   // ticket index at each position
	sk  []float64 // skill at each position: the scan reads it in order, not through idx
	pos []int32   // position of each ticket index (-1: not in this order)
	nx  []int32   // len n+1; nx[p] == p: p alive (n is an always-alive sentinel)
	pv  []int32   // len n+1, shifted by one: pv[p+1] == p+1: p alive (pv[0] is position -1)
}

// reset sizes the order for n positions over nTickets ticket indexes, all
// positions alive.
func (o *skipOrder) reset(n, nTickets int) {
	o.idx = grow32(o.idx, n)
	o.pos = grow32(o.pos, nTickets)
	for i := range o.pos {
		o.pos[i] = -1
	}
	o.nx = grow32(o.nx, n+1)
	o.pv = grow32(o.pv, n+1)
	for i := range o.nx {
		o.nx[i] = int32(i)
		o.pv[i] = int32(i)
	}
}

// index records pos and sk for every entry of idx once idx is sorted.
func (o *skipOrder) index(skill []float64) {
	o.sk = growF(o.sk, len(o.idx))
	for p, t := range o.idx {
		o.pos[t] = int32(p)
		o.sk[p] = skill[t]
	}
}

// next is the first alive position ≥ p (len(idx) if none).
func (o *skipOrder) next(p int32) int32 {
	nx := o.nx
	for nx[p] != p {
		nx[p] = nx[nx[p]]
		p = nx[p]
	}
	return p
}

// prev is the last alive position ≤ p (-1 if none).
func (o *skipOrder) prev(p int32) int32 {
	pv := o.pv
	i := p + 1
	for pv[i] != i {
		pv[i] = pv[pv[i]]
		i = pv[i]
	}
	return i - 1
}

// remove marks ticket t's position dead.
func (o *skipOrder) remove(t int32) {
	p := o.pos[t]
	if p < 0 {
		return
	}
	o.nx[p] = p + 1
	o.pv[p+1] = p
}

func grow32(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}
