package lobby

import (
	"context"
	"errors"

	"github.com/lobbyd/lobbyd/protocol"
)

// Create implements Store.
func (s *MemoryStore) Create(_ context.Context, a Actor, p protocol.CreateLobby) (protocol.LobbyView, error) {
	a, err := CheckActor(a)
	if err != nil {
		return protocol.LobbyView{}, err
	}
	if p, err = CheckCreate(p); err != nil {
		return protocol.LobbyView{}, err
	}
	l := &lobby{Doc: *NewDoc(s.newID(), s.nowMS(), a, "", p, s.pepper)}

	l.mu.Lock() // others can find l as soon as it is published
	defer l.mu.Unlock()
	s.mu.Lock()
	if _, in := s.users[a.UserID]; in {
		s.mu.Unlock()
		return protocol.LobbyView{}, ErrAlreadyInLobby
	}
	err = s.publishLocked(l)
	s.mu.Unlock()
	if err != nil {
		return protocol.LobbyView{}, err
	}
	return l.View(true), nil
}

// Update implements Store. Bounds are checked first (bad_request), then
// not_in_lobby, then the Doc's rules (not_host, max_players against the
// member count).
func (s *MemoryStore) Update(_ context.Context, userID string, p protocol.UpdateLobby) (protocol.LobbyView, error) {
	p, err := CheckUpdate(p)
	if err != nil {
		return protocol.LobbyView{}, err
	}
	l, err := s.lockLobbyOf(userID)
	if err != nil {
		return protocol.LobbyView{}, err
	}
	defer l.mu.Unlock()
	v, _, listed, err := l.Update(s.sink, userID, p, s.pepper)
	if listed {
		s.refile(l)
	}
	return v, err
}

// Start implements Store: lobby.started goes to every member, the host
// included. A lobby already in_game: bad_request.
func (s *MemoryStore) Start(_ context.Context, hostID string) (string, error) {
	l, err := s.lockLobbyOf(hostID)
	if err != nil {
		return "", err
	}
	defer l.mu.Unlock()
	matchID := s.newID()
	if err := l.Start(s.sink, hostID, matchID); err != nil {
		return "", err
	}
	s.refile(l)
	return matchID, nil
}

// Close implements Store: one lobby.member_left {user_id: m, reason:
// closed} per member m, each to every member, then the lobby is gone.
func (s *MemoryStore) Close(_ context.Context, lobbyID string) error {
	s.mu.RLock()
	l := s.lobbies[lobbyID]
	s.mu.RUnlock()
	if l == nil {
		return ErrNotFound
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.gone {
		return ErrNotFound
	}
	s.mu.Lock()
	s.deleteLocked(l)
	s.mu.Unlock()
	l.Doc.Close(s.sink)
	return nil
}

// maxMatchTries bounds how often CreateMatch moves members out of their
// lobbies again when one of them joins another lobby in between.
const maxMatchTries = 4

// CreateMatch implements Store. Each member first leaves their lobby
// (reason left, host migration as usual); then one new private lobby in
// state in_game holds them all, Members[0] its host, with no member_joined
// events: the matchmaker tells the players through mm.matched.
func (s *MemoryStore) CreateMatch(ctx context.Context, p MatchParams) (protocol.LobbyView, error) {
	p, err := CheckMatch(p)
	if err != nil {
		return protocol.LobbyView{}, err
	}
	l := &lobby{Doc: *NewMatchDoc(s.newID(), s.nowMS(), p, nil)}
	// l is locked before anyone can see it, so holding it while Leave locks
	// the members' old lobbies cannot deadlock: nobody waits for l until it
	// is published, and once it is, no other lobby lock is taken.
	l.mu.Lock()
	defer l.mu.Unlock()
	for range maxMatchTries {
		for _, a := range p.Members {
			if err := s.Leave(ctx, a.UserID, protocol.ReasonLeft); err != nil && !errors.Is(err, ErrNotInLobby) {
				return protocol.LobbyView{}, err
			}
		}
		s.mu.Lock()
		free := true
		for _, a := range p.Members {
			if _, in := s.users[a.UserID]; in {
				free = false
				break
			}
		}
		if free {
			err := s.publishLocked(l)
			s.mu.Unlock()
			if err != nil {
				return protocol.LobbyView{}, err
			}
			return l.View(true), nil
		}
		s.mu.Unlock()
	}
	return protocol.LobbyView{}, ErrAlreadyInLobby
}

// LobbyOf implements Store.
func (s *MemoryStore) LobbyOf(_ context.Context, userID string) (protocol.LobbyView, bool, error) {
	l, err := s.lockLobbyOf(userID)
	if err != nil {
		return protocol.LobbyView{}, false, nil // ErrNotInLobby, its only error
	}
	defer l.mu.Unlock()
	return l.View(true), true, nil
}
