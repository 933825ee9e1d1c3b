package lobby

import (
	"context"
	"slices"
	"sort"

	"github.com/lobbyd/lobbyd/protocol"
)

// Listing indexes. Every public lobby is filed, by creation sequence, under
// the global index and one index per mode, region, state and attr
// key=value. A listing walks the smallest index that its filters name, from
// the cursor downwards, and checks the other filters on the listing record,
// so a filtered request over 10,000 lobbies touches only its candidates.
// has_space is not indexed (it changes with every join): it is checked on
// the way.
//
// An index is a slice sorted by sequence. New lobbies have the highest
// sequence, so filing one is an append; a lobby re-filed (visibility, state
// or attrs changed) or deleted costs one binary search and one memmove,
// which at 10,000 lobbies is a few microseconds. A tree would need a
// dependency or code of our own for no measurable gain at this size.

// listing is what listings filter on, copied from the lobby under its lock
// and kept under MemoryStore.mu so that a listing need not take lobby locks
// while it walks.
type listing struct {
	public     bool // false: filed nowhere
	state      string
	members    int
	maxPlayers int
	attrs      map[string]string // AttrString of each value
}

type seqIndex struct{ items []*lobby } // ascending seq

func (x *seqIndex) search(seq uint64) int {
	return sort.Search(len(x.items), func(i int) bool { return x.items[i].Seq >= seq })
}

func (x *seqIndex) insert(l *lobby) {
	i := x.search(l.Seq)
	if i < len(x.items) && x.items[i] == l {
		return
	}
	x.items = slices.Insert(x.items, i, l)
}

func (x *seqIndex) remove(l *lobby) {
	i := x.search(l.Seq)
	if i < len(x.items) && x.items[i] == l {
		x.items = slices.Delete(x.items, i, i+1)
	}
}

const (
	keyAll    = ""
	keyMode   = "m\x00"
	keyRegion = "r\x00"
	keyState  = "s\x00"
	keyAttr   = "a\x00"
)

func attrKey(k, v string) string { return keyAttr + k + "\x00" + v }

func (l *lobby) indexKeys(ls *listing) []string {
	if !ls.public {
		return nil
	}
	keys := make([]string, 0, 4+len(ls.attrs))
	keys = append(keys, keyAll, keyState+ls.state)
	if l.Mode != "" {
		keys = append(keys, keyMode+l.Mode)
	}
	if l.Region != "" {
		keys = append(keys, keyRegion+l.Region)
	}
	for k, v := range ls.attrs {
		keys = append(keys, attrKey(k, v))
	}
	return keys
}

// setListingLocked stores ls as l's listing record and re-files l where
// its keys changed; s.mu (write) must be held. The zero listing unfiles l.
func (s *MemoryStore) setListingLocked(l *lobby, ls listing) {
	keys := l.indexKeys(&ls)
	for _, k := range l.keys {
		if !slices.Contains(keys, k) {
			if x := s.indexes[k]; x != nil {
				x.remove(l)
				if len(x.items) == 0 {
					delete(s.indexes, k)
				}
			}
		}
	}
	for _, k := range keys {
		if !slices.Contains(l.keys, k) {
			x := s.indexes[k]
			if x == nil {
				x = &seqIndex{}
				s.indexes[k] = x
			}
			x.insert(l)
		}
	}
	l.ls = ls
	l.keys = keys
}

func (l *lobby) matches(q *ListQuery) bool {
	ls := &l.ls
	if !ls.public ||
		(q.Mode != "" && l.Mode != q.Mode) ||
		(q.Region != "" && l.Region != q.Region) ||
		(q.State != "" && ls.state != q.State) ||
		(q.HasSpace && ls.members >= ls.maxPlayers) {
		return false
	}
	for k, v := range q.Attrs {
		if got, ok := ls.attrs[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// List implements Store.
func (s *MemoryStore) List(_ context.Context, q ListQuery) (ListPage, error) {
	q, before, err := CheckListQuery(q)
	if err != nil {
		return ListPage{}, err
	}
	cands := s.candidates(&q, before)
	page := ListPage{Lobbies: make([]protocol.LobbyView, 0, min(len(cands), q.Limit))}
	if len(cands) > q.Limit {
		cands = cands[:q.Limit]
		page.NextCursor = EncodeCursor(cands[len(cands)-1].Seq)
	}
	// Views are built under each lobby's own lock, after the store lock is
	// released (lock order). A lobby that went away or private meanwhile is
	// left out; the cursor still follows the candidates, so nothing that
	// existed throughout is skipped.
	for _, l := range cands {
		l.mu.Lock()
		if !l.gone && l.Public() {
			page.Lobbies = append(page.Lobbies, l.View(false))
		}
		l.mu.Unlock()
	}
	return page, nil
}

// candidates returns up to q.Limit+1 matching lobbies below the sequence
// before, newest first.
func (s *MemoryStore) candidates(q *ListQuery, before uint64) []*lobby {
	s.mu.RLock()
	defer s.mu.RUnlock()
	best := s.indexes[keyAll]
	pick := func(key string) bool {
		x := s.indexes[key]
		if x == nil {
			return false // nothing is filed there: no lobby matches
		}
		if best == nil || len(x.items) < len(best.items) {
			best = x
		}
		return true
	}
	if best == nil ||
		(q.Mode != "" && !pick(keyMode+q.Mode)) ||
		(q.Region != "" && !pick(keyRegion+q.Region)) ||
		(q.State != "" && !pick(keyState+q.State)) {
		return nil
	}
	for k, v := range q.Attrs {
		if !pick(attrKey(k, v)) {
			return nil
		}
	}
	out := make([]*lobby, 0, q.Limit+1)
	for i := best.search(before) - 1; i >= 0 && len(out) <= q.Limit; i-- {
		if l := best.items[i]; l.matches(q) {
			out = append(out, l)
		}
	}
	return out
}

// Get implements Store.
func (s *MemoryStore) Get(_ context.Context, lobbyID string) (protocol.LobbyView, error) {
	s.mu.RLock()
	l := s.lobbies[lobbyID]
	s.mu.RUnlock()
	if l == nil {
		return protocol.LobbyView{}, ErrNotFound
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.gone || !l.Public() {
		return protocol.LobbyView{}, ErrNotFound
	}
	return l.View(false), nil
}
