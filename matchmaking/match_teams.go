package matchmaking

import "slices"

// emit builds the Match for the tickets in m.sel: balanced teams, per-team
// mean skill, spread and region.
func (m *Matcher) emit(tickets []Ticket) Match {
	q := &m.q
	k := len(m.sel)
	mt := Match{
		Tickets:   m.out.ints(k),
		TeamOf:    m.out.ints(k),
		Teams:     m.out.teams(q.Teams),
		TeamSkill: m.out.floats(q.Teams),
	}
	team := m.balance()
	if team == nil {
		team = m.selTeam // the greedy packing failed; keep the one from collect
	}
	minS, maxS := m.skill[m.sel[0]], m.skill[m.sel[0]]
	for i, t := range m.sel {
		mt.Tickets[i] = int(t)
		mt.TeamOf[i] = team[i]
		minS, maxS = min(minS, m.skill[t]), max(maxS, m.skill[t])
	}
	mt.SkillSpread = maxS - minS
	for j := range mt.Teams {
		mt.Teams[j] = m.out.strs(q.TeamSize)[:0]
	}
	for i, t := range m.sel {
		j, tk := team[i], &tickets[t]
		for _, u := range tk.Members { // a loop: parties are small, a typed copy call is not
			mt.Teams[j] = append(mt.Teams[j], u)
		}
		mt.TeamSkill[j] += tk.Skill * float64(len(tk.Members))
	}
	for j := range mt.TeamSkill {
		mt.TeamSkill[j] /= float64(q.TeamSize)
	}
	mt.Region = majorityRegion(tickets, mt.Tickets)
	return mt
}

// balance assigns m.sel to teams, largest ticket first and then highest
// skill first, each to the team with the lowest skill total that has room.
// It returns team per m.sel index, or nil if some party found no room.
func (m *Matcher) balance() []int {
	k := len(m.sel)
	if k == m.q.Teams { // k tickets fill k teams: each is a whole team (a duel, party v party)
		m.balTeam = slices.Grow(m.balTeam[:0], k)[:k]
		for i := range m.balTeam {
			m.balTeam[i] = i
		}
		return m.balTeam
	}
	m.bal = append(m.bal[:0], m.sel...)
	// Insertion sort: k is a match's ticket count (2..256, mostly tiny),
	// where it beats pdqsort and needs no closure.
	for i := 1; i < k; i++ {
		for j := i; j > 0 && m.heavier(m.bal[j], m.bal[j-1]); j-- {
			m.bal[j], m.bal[j-1] = m.bal[j-1], m.bal[j]
		}
	}
	for j := range m.rem {
		m.rem[j], m.total[j] = m.q.TeamSize, 0
	}
	m.balTeam = slices.Grow(m.balTeam[:0], k)[:k]
	for _, t := range m.bal {
		sz, best := int(m.size[t]), -1
		for j := range m.rem {
			if m.rem[j] >= sz && (best < 0 || m.total[j] < m.total[best]) {
				best = j
			}
		}
		if best < 0 {
			return nil
		}
		m.rem[best] -= sz
		m.total[best] += m.skill[t] * float64(sz)
		// Record by position in m.sel (k ≤ 256: a linear search is cheaper
		// than a map).
		for i, s := range m.sel {
			if s == t {
				m.balTeam[i] = best
				break
			}
		}
	}
	return m.balTeam
}

// heavier orders tickets for balancing: larger parties first, then higher
// skill, then input order.
func (m *Matcher) heavier(a, b int32) bool {
	if m.size[a] != m.size[b] {
		return m.size[a] > m.size[b]
	}
	if m.skill[a] != m.skill[b] {
		return m.skill[a] > m.skill[b]
	}
	return a < b
}

// majorityRegion is the region asked for by the most players, ties going to
// the earlier ticket (the anchor first).
func majorityRegion(ts []Ticket, idx []int) string {
	best, bestN := "", -1
	for i, ti := range idx {
		r, seen := ts[ti].Region, false
		for j := 0; j < i && !seen; j++ {
			seen = ts[idx[j]].Region == r
		}
		if seen {
			continue
		}
		n := 0
		for _, tj := range idx[i:] {
			if ts[tj].Region == r {
				n += len(ts[tj].Members)
			}
		}
		if n > bestN {
			best, bestN = r, n
		}
	}
	return best
}

// outSlabs hands out result memory carved from a few large allocations, so
// a pass producing 50,000 matches does not make 250,000 small ones. Slabs
// are never reused by the Matcher: the caller owns them.
type outSlabs struct {
	i  []int
	f  []float64
	s  []string
	tt [][]string
}

const slabChunk = 4096

func (o *outSlabs) ints(k int) []int       { return carve(&o.i, k) }
func (o *outSlabs) floats(k int) []float64 { return carve(&o.f, k) }
func (o *outSlabs) strs(k int) []string    { return carve(&o.s, k) }
func (o *outSlabs) teams(k int) [][]string { return carve(&o.tt, k) }

// carve takes k elements off the front of *slab (capacity capped, so an
// append by the caller cannot run into the next carving), starting a new
// slab of at least slabChunk when this one is short.
func carve[T any](slab *[]T, k int) []T {
	if len(*slab) < k {
		*slab = make([]T, max(k, slabChunk))
	}
	s := (*slab)[:k:k]
	*slab = (*slab)[k:]
	return s
}

func growF(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}
