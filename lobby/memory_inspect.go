package lobby

import (
	"cmp"
	"context"
	"slices"
)

var _ Inspector = (*MemoryStore)(nil)

// Inspect implements Inspector.
func (s *MemoryStore) Inspect(_ context.Context, lobbyID string) (AdminLobby, error) {
	s.mu.RLock()
	l := s.lobbies[lobbyID]
	s.mu.RUnlock()
	if l == nil {
		return AdminLobby{}, ErrNotFound
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.gone {
		return AdminLobby{}, ErrNotFound
	}
	return l.Inspect(), nil
}

// InspectList implements Inspector. It collects the lobbies below the
// cursor under the store's read lock (no lobby lock: a lobby's Seq never
// changes once published), sorts them newest first and builds the page
// taking one lobby lock at a time, so an operator's listing never holds up
// more than one lobby at once. Its cost grows with the number of lobbies
// (a sort of pointers): fine for an operator's table, not for players,
// whose listing is the Index's.
func (s *MemoryStore) InspectList(_ context.Context, q AdminQuery) (AdminPage, error) {
	q, before, err := CheckAdminQuery(q)
	if err != nil {
		return AdminPage{}, err
	}
	var cands []*lobby
	s.mu.RLock()
	if q.User != "" {
		if l := s.users[q.User]; l != nil && l.Seq < before {
			cands = append(cands, l)
		}
	} else {
		cands = make([]*lobby, 0, len(s.lobbies))
		for _, l := range s.lobbies {
			if l.Seq < before {
				cands = append(cands, l)
			}
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(cands, func(a, b *lobby) int { return cmp.Compare(b.Seq, a.Seq) })
	page := AdminPage{Lobbies: []AdminLobby{}}
	var last uint64
	for _, l := range cands {
		l.mu.Lock()
		ok := !l.gone && l.MatchesAdmin(&q)
		if ok && len(page.Lobbies) == q.Limit {
			l.mu.Unlock()
			page.NextCursor = EncodeCursor(last)
			return page, nil
		}
		if ok {
			page.Lobbies = append(page.Lobbies, l.Inspect())
			last = l.Seq
		}
		l.mu.Unlock()
	}
	return page, nil
}
