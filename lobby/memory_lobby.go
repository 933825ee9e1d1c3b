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
	now := s.nowMS()
	l := &lobby{
		id:         s.newID(),
		createdAt:  now,
		mode:       p.Mode,
		region:     p.Region,
		name:       p.Name,
		host:       a.UserID,
		visibility: p.Visibility,
		state:      protocol.StateOpen,
		maxPlayers: p.MaxPlayers,
		attrs:      p.Attrs,
		data:       p.Data,
		byID:       make(map[string]*member, 1),
	}
	if p.Password != "" {
		h := HashPassword(s.pepper, p.Password)
		l.pw = &h
	}
	m := &member{userID: a.UserID, name: a.Name, connected: true, joinedAt: now}
	l.members = append(l.members, m)
	l.byID[m.userID] = m

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
	return l.view(true), nil
}

// Update implements Store. Bounds are checked first (bad_request), then
// not_in_lobby, not_host, and max_players against the member count.
func (s *MemoryStore) Update(_ context.Context, userID string, p protocol.UpdateLobby) (protocol.LobbyView, error) {
	p, err := CheckUpdate(p)
	if err != nil {
		return protocol.LobbyView{}, err
	}
	l, err := s.lockHost(userID)
	if err != nil {
		return protocol.LobbyView{}, err
	}
	defer l.mu.Unlock()
	if p.MaxPlayers != nil {
		if err := CheckMaxPlayers(*p.MaxPlayers, len(l.members)); err != nil {
			return protocol.LobbyView{}, err
		}
	}
	if UpdateIsEmpty(p) {
		return l.view(true), nil
	}
	if p.Name != nil {
		l.name = *p.Name
	}
	if p.MaxPlayers != nil {
		l.maxPlayers = *p.MaxPlayers
	}
	if p.Visibility != nil {
		l.visibility = *p.Visibility
	}
	if p.Password != nil {
		if *p.Password == "" {
			l.pw = nil
		} else {
			h := HashPassword(s.pepper, *p.Password)
			l.pw = &h
		}
	}
	if p.Locked != nil {
		l.locked = *p.Locked
	}
	if p.Attrs != nil {
		l.attrs = p.Attrs // a fresh map from CheckAttrs: views of the old one stay valid
	}
	if p.Data != nil {
		l.data = p.Data
	}
	if p.MaxPlayers != nil || p.Visibility != nil || p.Attrs != nil {
		ls := l.listingOf()
		s.mu.Lock()
		s.setListingLocked(l, ls)
		s.mu.Unlock()
	}
	v := l.view(true)
	ev := v
	s.emit(l, Event{Name: protocol.EvLobbyUpdated, To: l.others(userID), Lobby: &ev})
	return v, nil
}

// Start implements Store: lobby.started goes to every member, the host
// included. A lobby already in_game: bad_request.
func (s *MemoryStore) Start(_ context.Context, hostID string) (string, error) {
	l, err := s.lockHost(hostID)
	if err != nil {
		return "", err
	}
	defer l.mu.Unlock()
	if l.state == protocol.StateInGame {
		return "", badRequest("the lobby is already in game")
	}
	l.state = protocol.StateInGame
	l.matchID = s.newID()
	ls := l.listingOf()
	s.mu.Lock()
	s.setListingLocked(l, ls)
	s.mu.Unlock()
	s.emit(l, Event{Name: protocol.EvStarted, To: l.everyone(), MatchID: l.matchID})
	return l.matchID, nil
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
	for _, m := range l.members {
		s.emit(l, Event{Name: protocol.EvMemberLeft, To: l.everyone(), UserID: m.userID, Reason: protocol.ReasonClosed})
	}
	l.members, l.byID = nil, nil
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
	now := s.nowMS()
	l := &lobby{
		id:         s.newID(),
		createdAt:  now,
		mode:       p.Mode,
		region:     p.Region,
		name:       p.Name,
		host:       p.Members[0].UserID,
		visibility: protocol.VisibilityPrivate,
		state:      protocol.StateInGame,
		maxPlayers: p.MaxPlayers,
		attrs:      protocol.Attrs{},
		matchID:    p.MatchID,
		members:    make([]*member, len(p.Members)),
		byID:       make(map[string]*member, len(p.Members)),
	}
	for i, a := range p.Members {
		m := &member{userID: a.UserID, name: a.Name, connected: !a.Offline, joinedAt: now}
		l.members[i] = m
		l.byID[a.UserID] = m
	}
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
			return l.view(true), nil
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
	return l.view(true), true, nil
}
