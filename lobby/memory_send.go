package lobby

import (
	"context"

	"github.com/lobbyd/lobbyd/protocol"
)

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
	s.emit(l, Event{Name: protocol.EvChat, To: l.everyone(), From: userID, Text: text, TS: s.nowMS()})
	return nil
}

// Send implements Store, the hot path: no allocation in steady state. The
// recipients go into the lobby's scratch slice and the event is the lobby's
// scratch Event, both reused under the lobby lock; member lookups by a
// []byte id use the map[string(b)] form, which the compiler does without
// converting.
//
// With to empty, everyone but the sender gets the data. Otherwise only the
// members named in to, each once; the sender and ids that are not members
// (they may have left a moment ago) are skipped.
func (s *MemoryStore) Send(_ context.Context, userID string, data []byte, to [][]byte) error {
	l, err := s.lockLobbyOf(userID)
	if err != nil {
		return err
	}
	defer l.mu.Unlock()
	if len(to) == 0 {
		l.others(userID)
	} else {
		l.to = l.to[:0]
		l.sendGen++ // a mark per member instead of a search: to may name 256 ids
		for _, id := range to {
			m := l.byID[string(id)]
			if m == nil || m.userID == userID || m.sendMark == l.sendGen {
				continue
			}
			m.sendMark = l.sendGen
			l.to = append(l.to, m.userID)
		}
	}
	if len(l.to) == 0 {
		return nil
	}
	ev := &l.ev
	ev.LobbyID, ev.Name, ev.To, ev.From, ev.Data = l.id, protocol.EvData, l.to, userID, data
	s.sink.Deliver(ev)
	*ev = Event{}
	return nil
}
