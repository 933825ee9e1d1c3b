package lobby

import (
	"context"

	gojson "github.com/goccy/go-json"

	"github.com/lobbyd/lobbyd/protocol"
)

// The MemoryStore files its public lobbies in an Index (index.go). Each
// lobby is its own ListedView: a page builds the view under the lobby's
// lock, and the JSON view is encoded once and kept until the lobby next
// changes (Doc.emit drops it).

// Listed is the listing record of d.
func (d *Doc) Listed() Listed {
	return listedOf(d.Mode, d.Region, d.State, len(d.Members), d.MaxPlayers, d.Attrs)
}

// refile files l in the index as it is now, or unfiles it when it is not
// public; l.mu must be held.
func (s *MemoryStore) refile(l *lobby) {
	if l.Public() {
		s.index.Put(l.ID, l.Seq, l.Listed(), l)
	} else {
		s.index.Remove(l.ID)
	}
}

// countMembers tells the index l's member count (has_space), the one
// listed field a join or leave changes; l.mu must be held.
func (s *MemoryStore) countMembers(l *lobby) {
	if l.Public() {
		s.index.SetMembers(l.ID, len(l.Members))
	}
}

// ListView implements ListedView.
func (l *lobby) ListView() (protocol.LobbyView, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.gone || !l.Public() {
		return protocol.LobbyView{}, false
	}
	return l.View(false), true
}

// AppendViewJSON implements ListedView from the cached JSON view. A lobby
// whose view cannot be encoded (the validators keep NaN and infinities
// out, so this would be a bug) is left out of the page and logged once per
// change: one lobby must never make a page unanswerable.
func (l *lobby) AppendViewJSON(dst []byte) ([]byte, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.gone || !l.Public() || l.viewUnlistable {
		return dst, false
	}
	if l.viewJSON == nil {
		b, err := gojson.Marshal(l.View(false))
		if err != nil {
			l.viewUnlistable = true
			l.log.Error("lobby left out of listings: its view cannot be written as JSON", "lobby", l.ID, "err", err)
			return dst, false
		}
		l.viewJSON = b
	}
	return append(dst, l.viewJSON...), true
}

// List implements Store.
func (s *MemoryStore) List(_ context.Context, q ListQuery) (ListPage, error) {
	return s.index.List(q)
}

// AppendListJSON implements JSONLister.
func (s *MemoryStore) AppendListJSON(_ context.Context, dst []byte, q ListQuery) ([]byte, error) {
	return s.index.AppendListJSON(dst, q)
}

// Get implements Store.
func (s *MemoryStore) Get(_ context.Context, lobbyID string) (protocol.LobbyView, error) {
	s.mu.RLock()
	l := s.lobbies[lobbyID]
	s.mu.RUnlock()
	if l == nil {
		return protocol.LobbyView{}, ErrNotFound
	}
	v, ok := l.ListView()
	if !ok {
		return protocol.LobbyView{}, ErrNotFound
	}
	return v, nil
}

var _ ListingFeed = (*MemoryStore)(nil)

// ListingIndex implements ListingFeed.
func (s *MemoryStore) ListingIndex() *Index { return s.index }

// WatchListing implements ListingFeed: every change of a public lobby
// re-files it, changes its member count or emits an event (Doc.emit),
// and each of those tells the index.
func (s *MemoryStore) WatchListing(fn func(id string)) { s.index.SetOnChange(fn) }
