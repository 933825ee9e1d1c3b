package lobby

import (
	"context"

	"github.com/lobbyd/lobbyd/protocol"
)

// Join implements Store, with the checks of Doc.CheckJoin.
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
		if l != nil && p.LobbyID != "" && l.ID != p.LobbyID {
			l = nil
		}
	}
	if l == nil {
		return protocol.LobbyView{}, ErrNotFound
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.gone {
		return protocol.LobbyView{}, ErrNotFound
	}
	s.mu.RLock()
	_, inLobby := s.users[a.UserID]
	s.mu.RUnlock()
	if err := l.CheckJoin(byID, inLobby, p.Password, s.pepper); err != nil {
		return protocol.LobbyView{}, err
	}
	s.mu.Lock()
	if _, raced := s.users[a.UserID]; raced { // joined elsewhere since the check
		s.mu.Unlock()
		return protocol.LobbyView{}, ErrAlreadyInLobby
	}
	s.users[a.UserID] = l
	s.mu.Unlock()

	l.Join(s.sink, a, s.nowMS(), "")
	s.countMembers(l)
	return l.View(true), nil
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
	s.unfileMember(l, userID, l.Remove(s.sink, userID, reason, ""))
	return nil
}

// unfileMember unfiles userID, who has left l (l.mu held); empty: they were
// the last member, which deletes the lobby.
func (s *MemoryStore) unfileMember(l *lobby, userID string, empty bool) {
	s.mu.Lock()
	delete(s.users, userID)
	if empty {
		s.deleteLocked(l)
	}
	s.mu.Unlock()
	if !empty {
		s.countMembers(l)
	}
}

// Kick implements Store. The target gets lobby.kicked; the others (not the
// host) get lobby.member_left reason kicked.
func (s *MemoryStore) Kick(_ context.Context, hostID, targetID string) error {
	l, err := s.lockLobbyOf(hostID)
	if err != nil {
		return err
	}
	defer l.mu.Unlock()
	if err := l.Kick(s.sink, hostID, targetID); err != nil {
		return err
	}
	s.unfileMember(l, targetID, false) // the host stays
	return nil
}

// TransferHost implements Store.
func (s *MemoryStore) TransferHost(_ context.Context, hostID, targetID string) error {
	l, err := s.lockLobbyOf(hostID)
	if err != nil {
		return err
	}
	defer l.mu.Unlock()
	return l.TransferHost(s.sink, hostID, targetID)
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
	mv, _, err := l.SetMember(s.sink, userID, p)
	return mv, err
}

// SetConnected implements Store.
func (s *MemoryStore) SetConnected(_ context.Context, userID string, connected bool) error {
	l, err := s.lockLobbyOf(userID)
	if err != nil {
		return nil // not in a lobby: nothing to show
	}
	defer l.mu.Unlock()
	l.Doc.SetConnected(s.sink, userID, connected, "")
	return nil
}

// Chat implements Store: lobby.chat to every member, the sender included.
func (s *MemoryStore) Chat(_ context.Context, userID, text string) error {
	if err := CheckChat(text); err != nil {
		return err
	}
	l, err := s.lockLobbyOf(userID)
	if err != nil {
		return err
	}
	defer l.mu.Unlock()
	l.Doc.Chat(s.sink, userID, text, s.nowMS())
	return nil
}

// Send implements Store, the hot path: no allocation in steady state (see
// Doc.Send).
func (s *MemoryStore) Send(_ context.Context, userID string, data []byte, to [][]byte) error {
	l, err := s.lockLobbyOf(userID)
	if err != nil {
		return err
	}
	defer l.mu.Unlock()
	l.Doc.Send(s.sink, userID, data, to)
	return nil
}
