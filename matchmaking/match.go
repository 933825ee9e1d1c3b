package matchmaking

import (
	"cmp"
	"slices"
)

// Match is one match found by the matcher.
type Match struct {
	Tickets     []int      // indexes into the tickets given to Match; Tickets[0] is the anchor
	TeamOf      []int      // TeamOf[i] is the team of tickets[Tickets[i]]
	Teams       [][]string // user ids per team; every team holds exactly TeamSize
	TeamSkill   []float64  // mean skill per team
	SkillSpread float64    // highest minus lowest skill among Tickets
	Region      string     // the region most of the match's players asked for ("" none)
}

// FindMatches is the matcher as one pure function: the matches among
// tickets at nowMs, and the tickets left waiting (rest, in input order). It
// uses a fresh Matcher, so it allocates scratch on every call; a matching
// loop keeps a Matcher instead.
func FindMatches(tickets []Ticket, nowMs int64, q QueueConfig) (matches []Match, rest []Ticket) {
	var m Matcher
	matches = m.Match(tickets, nowMs, q)
	return matches, Rest(tickets, matches)
}

// Rest is the tickets that are in none of matches, in input order.
func Rest(tickets []Ticket, matches []Match) []Ticket {
	in := make([]bool, len(tickets))
	n := 0
	for i := range matches {
		for _, t := range matches[i].Tickets {
			in[t] = true
			n++
		}
	}
	rest := make([]Ticket, 0, len(tickets)-n)
	for i := range tickets {
		if !in[i] {
			rest = append(rest, tickets[i])
		}
	}
	return rest
}

// Matcher finds matches among waiting tickets. Its zero value is ready; it
// keeps scratch memory between calls, so one Matcher per matching goroutine
// makes a pass over 100k tickets allocate only its results.
//
// The rules (docs/protocol.md §3):
//
//   - Tickets are served oldest first (CreatedAt, then input order). Each
//     ticket in turn is the anchor of a search; a ticket not matched as
//     anchor may still be picked up later by a younger anchor.
//   - A match's skills span at most the window of the anchor, which is never
//     wider than the window of the match's oldest ticket, as the rule asks.
//   - Candidates are taken from the anchor outwards in skill order, always
//     the one that widens the spread least, so a match is as tight as a
//     greedy choice can make it. A candidate whose party does not fit in
//     any team's free room is passed over (it stays for another match).
//   - Region: with "strict", every ticket of a match has the anchor's region
//     (an empty region is a region of its own), unless the anchor has
//     waited RegionRelaxAfterMs: then the whole match is drawn from every
//     region. We decide with the anchor (the match's oldest ticket in
//     practice) because it is the player who has waited longest; younger
//     tickets pulled in get a match sooner, which is what relaxing is for.
//     With "any", regions are ignored.
//   - Parties stay whole on one team; every team gets exactly TeamSize
//     players. Teams are then balanced: tickets by size and then skill,
//     largest first, each to the team with the lowest skill total that has
//     room (the LPT heuristic); if that greedy packing cannot place a party,
//     the packing found while collecting is kept.
//   - Tickets that can never match q (empty, larger than MaxParty or
//     TeamSize, NaN or infinite skill) are returned in rest.
//
// Cost: one sort of the eligible tickets (O(n log n)), then per anchor at
// most scanLimit candidates, each found in amortised O(1) through skipOrder.
// The scan bound keeps a pass linear in pathological populations (a window
// full of parties that fit nowhere): the anchor simply waits for the next
// pass.
type Matcher struct {
	// Per call; owned by the goroutine calling Match.
	q       QueueConfig
	skill   []float64
	created []int64
	size    []int32
	region  []int32
	used    []bool  // matched or never matchable
	order   []int32 // eligible tickets, oldest first
	keys    []sortKey
	keysTmp []sortKey
	count   []int
	players int // eligible players
	byR     skipOrder
	byS     skipOrder // every region, when a relaxed anchor may need it
	hasS    bool
	bLo     []int32 // first position of region id r in byR
	bHi     []int32
	regions map[string]int32

	// Per match.
	sel     []int32   // tickets of the match being collected; sel[0] is the anchor
	selTeam []int     // team of sel[i] while collecting
	rem     []int     // free room per team
	total   []float64 // skill total per team
	bal     []int32   // sel sorted for balancing
	balTeam []int

	found []Match // scratch for the matches of one call

	// Result slabs: allocated per call in chunks and handed to the caller.
	out outSlabs
}

// Match returns the matches found among tickets at time nowMs; Match.Tickets
// index into tickets, and the tickets in no match are still waiting. It
// does not modify tickets. The matches are new memory owned by the caller;
// their Teams share strings with the tickets' Members.
//
// Indexes rather than copies: a pass over 100k tickets that copied every
// ticket (and every waiting one into a "rest") would allocate 10+ MB of
// pointerful memory per pass for the GC to scan.
func (m *Matcher) Match(tickets []Ticket, nowMs int64, q QueueConfig) (matches []Match) {
	need := q.Players()
	if len(tickets) == 0 || need < 1 || q.TeamSize < 1 {
		return nil
	}
	m.prepare(tickets, nowMs, q)
	// Found matches collect in scratch, then move to an exactly sized
	// result: sizing for the most matches possible would allocate megabytes
	// on every pass over a big queue that finds few, and growing by append
	// copies the result many times over.
	found := m.found[:0]

	limit := scanLimit(need)
	for _, a := range m.order {
		if m.used[a] {
			continue
		}
		waited := nowMs - m.created[a]
		w := q.Window(waited)
		o, lo, hi := &m.byR, m.bLo[m.region[a]], m.bHi[m.region[a]]
		if m.hasS && q.relaxed(waited) {
			o, lo, hi = &m.byS, 0, int32(len(m.byS.idx))
		}
		if !m.collect(a, o, lo, hi, w, need, limit) {
			continue
		}
		found = append(found, m.emit(tickets))
		for _, t := range m.sel {
			m.used[t] = true
			m.byR.remove(t)
			if m.hasS {
				m.byS.remove(t)
			}
		}
	}
	m.out = outSlabs{} // the caller owns them now
	if len(found) > 0 {
		matches = make([]Match, len(found))
		copy(matches, found)
	}
	clear(found) // the scratch must not keep the caller's results alive
	m.found = found[:0]
	return matches
}

// scanLimit bounds the candidates one anchor may look at.
func scanLimit(need int) int { return 8*need + 64 }

// prepare fills the per-ticket arrays and the two skill orders.
func (m *Matcher) prepare(tickets []Ticket, nowMs int64, q QueueConfig) {
	n := len(tickets)
	m.q = q
	m.skill = growF(m.skill, n)
	m.created = slices.Grow(m.created[:0], n)[:n]
	m.size = grow32(m.size, n)
	m.region = grow32(m.region, n)
	m.used = slices.Grow(m.used[:0], n)[:n]
	m.order = m.order[:0]
	m.players = 0
	if m.regions == nil {
		m.regions = make(map[string]int32)
	}
	clear(m.regions)
	m.bLo, m.bHi = m.bLo[:0], m.bHi[:0]

	strict := q.Region != RegionAny
	for i := range tickets {
		t := &tickets[i]
		m.skill[i], m.created[i], m.size[i] = t.Skill, t.CreatedAt, int32(len(t.Members))
		m.region[i] = 0
		if strict {
			r, ok := m.regions[t.Region]
			if !ok {
				r = int32(len(m.regions))
				m.regions[t.Region] = r
			}
			m.region[i] = r
		}
		m.used[i] = !t.matchable(&q)
		if !m.used[i] {
			m.order = append(m.order, int32(i))
			m.players += len(t.Members)
		}
	}
	// Oldest first; equal times keep input order (a stable tie-break). The
	// store's snapshot is in creation order already: check before sorting.
	sorted := true
	for i := 1; i < len(m.order) && sorted; i++ {
		sorted = m.created[m.order[i-1]] <= m.created[m.order[i]]
	}
	if !sorted {
		slices.SortFunc(m.order, func(a, b int32) int {
			if c := cmp.Compare(m.created[a], m.created[b]); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		})
	}

	e := len(m.order)
	m.byR.reset(e, n)
	m.sortBySkill(m.byR.idx, true)
	m.byR.index(m.skill)
	nr := max(len(m.regions), 1)
	for range nr {
		m.bLo, m.bHi = append(m.bLo, 0), append(m.bHi, 0)
	}
	for p := 0; p < e; {
		r := m.region[m.byR.idx[p]]
		m.bLo[r] = int32(p)
		for p < e && m.region[m.byR.idx[p]] == r {
			p++
		}
		m.bHi[r] = int32(p)
	}

	m.hasS = strict && q.RegionRelaxAfterMs > 0 && len(m.regions) > 1
	if m.hasS {
		m.byS.reset(e, n)
		m.sortBySkill(m.byS.idx, false)
		m.byS.index(m.skill)
	}

	m.rem = slices.Grow(m.rem[:0], q.Teams)[:q.Teams]
	m.total = growF(m.total, q.Teams)
}

// sortBySkill fills dst with the eligible tickets sorted by skill, first by
// region when byRegion. Equal keys keep m.order's order (oldest first), so
// the result is deterministic.
func (m *Matcher) sortBySkill(dst []int32, byRegion bool) {
	e := len(m.order)
	m.keys = slices.Grow(m.keys[:0], e)[:e]
	m.keysTmp = slices.Grow(m.keysTmp[:0], e)[:e]
	regions := 0
	for i, t := range m.order {
		m.keys[i] = sortKey{bits: orderedBits(m.skill[t]), idx: t}
		if byRegion {
			m.keys[i].region = m.region[t]
		}
	}
	if byRegion {
		regions = len(m.regions)
	}
	m.count = slices.Grow(m.count[:0], max(radixSize, regions))[:max(radixSize, regions)]
	if e == 0 {
		return
	}
	for p, k := range radixSort(m.keys, m.keysTmp, m.count, regions) {
		dst[p] = k.idx
	}
}

// collect gathers, around anchor a in order o (positions lo..hi-1), tickets
// that fill every team exactly with a skill spread ≤ w. It leaves them in
// m.sel / m.selTeam and reports success.
func (m *Matcher) collect(a int32, o *skipOrder, lo, hi int32, w float64, need, limit int) bool {
	for k := range m.rem {
		m.rem[k] = m.q.TeamSize
	}
	m.sel, m.selTeam = m.sel[:0], m.selTeam[:0]
	m.place(a)
	got := int(m.size[a])
	minS, maxS := m.skill[a], m.skill[a]

	p := o.pos[a]
	l, r := o.prev(p-1), o.next(p+1)
	for steps := 0; got < need && steps < limit; steps++ {
		haveL, haveR := l >= lo, r < hi
		var c int32
		var s float64
		switch {
		case haveL && haveR && maxS-o.sk[l] <= o.sk[r]-minS, haveL && !haveR:
			c, s, l = o.idx[l], o.sk[l], o.prev(l-1)
		case haveR:
			c, s, r = o.idx[r], o.sk[r], o.next(r+1)
		default:
			return false
		}
		if max(maxS, s)-min(minS, s) > w {
			return false // the closer side is already too far: so is everything beyond
		}
		if got+int(m.size[c]) > need || !m.place(c) {
			continue
		}
		got += int(m.size[c])
		minS, maxS = min(minS, s), max(maxS, s)
	}
	return got == need
}

// place puts ticket t on the team with the least free room that still fits
// it (best fit keeps large gaps for large parties).
func (m *Matcher) place(t int32) bool {
	sz, best := int(m.size[t]), -1
	for k, r := range m.rem {
		if r >= sz && (best < 0 || r < m.rem[best]) {
			best = k
		}
	}
	if best < 0 {
		return false
	}
	m.rem[best] -= sz
	m.sel = append(m.sel, t)
	m.selTeam = append(m.selTeam, best)
	return true
}
