package lobby

import (
	"context"
	"slices"

	"github.com/lobbyd/lobbyd/protocol"
)

// Join implements Store. Checks, in the order of PROTOCOL.md §3:
// not_found, already_in_lobby, lobby_locked, wrong_password, lobby_full.
func (s *MemoryStore) Join(_ context.Context, a Actor, p protocol.JoinLobby) (protocol.LobbyView, error) {
	a, err := CheckActor(a)
	if err != nil {
		return protocol.LobbyView{}, err
	}
	byID := p.Code == ""
	if byID && p.LobbyID == "" {
		return protocol.LobbyView{}, badRequest("lobby_id or code is required")
	}
	var l *lobby
	if byID {
		s.mu.RLock()
		l = s.lobbies[p.LobbyID]
		s.mu.RUnlock()
	} else if code, ok := NormalizeCode(p.Code); ok {
		s.mu.RLock()
		l = s.codes[code]
		s.mu.RUnlock()
		if l != nil && p.LobbyID != "" && l.id != p.LobbyID {
			l = nil
		}
	}
	if l == nil {
		return protocol.LobbyView{}, ErrNotFound
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// A private lobby joined by id answers exactly like an absent one.
	if l.gone || (byID && l.visibility != protocol.VisibilityPublic) {
		return protocol.LobbyView{}, ErrNotFound
	}
	s.mu.RLock()
	_, inLobby := s.users[a.UserID]
	s.mu.RUnlock()
	switch {
	case inLobby:
		return protocol.LobbyView{}, ErrAlreadyInLobby
	case l.locked || l.state == protocol.StateInGame:
		return protocol.LobbyView{}, ErrLocked
	case l.pw != nil && (p.Password == "" || len(p.Password) > MaxPasswordBytes || !l.pw.Check(s.pepper, p.Password)):
		return protocol.LobbyView{}, ErrWrongPassword
	case len(l.members) >= l.maxPlayers:
		return protocol.LobbyView{}, ErrFull
	}
	s.mu.Lock()
	if _, raced := s.users[a.UserID]; raced { // joined elsewhere since the check
		s.mu.Unlock()
		return protocol.LobbyView{}, ErrAlreadyInLobby
	}
	s.users[a.UserID] = l
	l.ls.members++
	s.mu.Unlock()

	m := &member{userID: a.UserID, name: a.Name, connected: true, joinedAt: s.nowMS()}
	l.members = append(l.members, m)
	l.byID[m.userID] = m
	mv := l.memberView(m)
	s.emit(l, Event{Name: protocol.EvMemberJoined, To: l.others(m.userID), Member: &mv})
	return l.view(true), nil
}

// Leave implements Store.
func (s *MemoryStore) Leave(_ context.Context, userID, reason string) error {
	if reason != protocol.ReasonLeft && reason != protocol.ReasonDisconnected {
		return badRequest(`reason must be "left" or "disconnected"`)
	}
	l, err := s.lockLobbyOf(userID)
	if err != nil {
		return err
	}
	defer l.mu.Unlock()
	s.removeLocked(l, userID, reason, "")
	return nil
}

// removeLocked takes userID out of l (l.mu held) and tells the others:
// lobby.member_left to everyone left but the actor, then, if the host left,
// lobby.host_changed to everyone left. The last member out deletes the
// lobby. actor is who did it ("" when the user left by themselves).
func (s *MemoryStore) removeLocked(l *lobby, userID, reason, actor string) {
	for i, m := range l.members {
		if m.userID == userID {
			l.members = slices.Delete(l.members, i, i+1) // zeroes the freed slot
			break
		}
	}
	delete(l.byID, userID)
	s.mu.Lock()
	delete(s.users, userID)
	if len(l.members) == 0 {
		s.deleteLocked(l)
	} else {
		l.ls.members--
	}
	s.mu.Unlock()
	if l.gone {
		return
	}
	s.emit(l, Event{Name: protocol.EvMemberLeft, To: l.others(actor), UserID: userID, Reason: reason})
	if l.host == userID {
		// Longest present: members keep join order.
		l.host = l.members[0].userID
		s.emit(l, Event{Name: protocol.EvHostChanged, To: l.everyone(), UserID: l.host})
	}
}

// Kick implements Store. The target gets lobby.kicked; the others (not the
// host) get lobby.member_left reason kicked.
func (s *MemoryStore) Kick(_ context.Context, hostID, targetID string) error {
	l, err := s.lockHost(hostID)
	if err != nil {
		return err
	}
	defer l.mu.Unlock()
	if targetID == hostID {
		return badRequest("the host cannot kick themselves")
	}
	if l.byID[targetID] == nil {
		return ErrUserNotFound
	}
	l.to = append(l.to[:0], targetID)
	s.emit(l, Event{Name: protocol.EvKicked, To: l.to})
	s.removeLocked(l, targetID, protocol.ReasonKicked, hostID)
	return nil
}

// TransferHost implements Store.
func (s *MemoryStore) TransferHost(_ context.Context, hostID, targetID string) error {
	l, err := s.lockHost(hostID)
	if err != nil {
		return err
	}
	defer l.mu.Unlock()
	if targetID == hostID {
		return badRequest("already the host")
	}
	if l.byID[targetID] == nil {
		return ErrUserNotFound
	}
	l.host = targetID
	s.emit(l, Event{Name: protocol.EvHostChanged, To: l.others(hostID), UserID: targetID})
	return nil
}

// lockHost is lockLobbyOf plus the host check.
func (s *MemoryStore) lockHost(userID string) (*lobby, error) {
	l, err := s.lockLobbyOf(userID)
	if err != nil {
		return nil, err
	}
	if l.host != userID {
		l.mu.Unlock()
		return nil, ErrNotHost
	}
	return l, nil
}

// SetMember implements Store. A body with no field changes nothing and
// emits nothing.
func (s *MemoryStore) SetMember(_ context.Context, userID string, p protocol.SetMember) (protocol.Member, error) {
	p, err := CheckSetMember(p)
	if err != nil {
		return protocol.Member{}, err
	}
	l, err := s.lockLobbyOf(userID)
	if err != nil {
		return protocol.Member{}, err
	}
	defer l.mu.Unlock()
	m := l.byID[userID]
	if p.Ready == nil && p.Data == nil {
		return l.memberView(m), nil
	}
	if p.Ready != nil {
		m.ready = *p.Ready
	}
	if p.Data != nil {
		m.data = p.Data
	}
	mv := l.memberView(m)
	ev := mv
	s.emit(l, Event{Name: protocol.EvMemberUpdated, To: l.others(userID), Member: &ev})
	return mv, nil
}

// SetConnected implements Store.
func (s *MemoryStore) SetConnected(_ context.Context, userID string, connected bool) error {
	l, err := s.lockLobbyOf(userID)
	if err != nil {
		return nil // not in a lobby: nothing to show
	}
	defer l.mu.Unlock()
	m := l.byID[userID]
	if m.connected == connected {
		return nil
	}
	m.connected = connected
	mv := l.memberView(m)
	s.emit(l, Event{Name: protocol.EvMemberUpdated, To: l.others(userID), Member: &mv})
	return nil
}
