package cluster

import (
	"context"
	"fmt"
	"strconv"

	"github.com/lobbyd/lobbyd/lobby"
)

// ErrLogTrimmed: the events after the asked version are no longer all in
// the lobby's log (it keeps the last ~4096).
var ErrLogTrimmed = fmt.Errorf("cluster: lobby log trimmed past the asked version")

// EventsAfter calls fn, in order, with every event of the lobby's log whose
// version is above version, each with all its recipients (To) and its
// version: what a session that moved here from another shard may have
// missed on the way. Relay data sent on another shard's fast path is not
// in the log (docs/cluster.md). One read script; fn must not keep ev.
func (s *LobbyStore) EventsAfter(ctx context.Context, lobbyID string, version uint64, fn func(ev *lobby.Event)) error {
	return s.eachLogged(ctx, lobbyID, version>>32, func(off uint64, w *wireEvent) bool {
		ev := lobby.Event{
			LobbyID: lobbyID, Version: versionAt(off), Name: w.Name, To: w.To, Member: w.Member, Lobby: w.Lobby,
			UserID: w.UserID, Reason: w.Reason, From: w.From, Text: w.Text, TS: w.TS,
			Data: w.Data, MatchID: w.MatchID,
		}
		fn(&ev)
		return true
	})
}

// eachLogged calls fn, in order, with every event of the lobby's log after
// offset after, until fn returns false: one read script. ErrLogTrimmed
// when the log no longer starts right after after.
func (s *LobbyStore) eachLogged(ctx context.Context, lobbyID string, after uint64, fn func(off uint64, w *wireEvent) bool) error {
	l, err := s.read(ctx, lobbyID, strconv.FormatUint(after, 10))
	if err != nil {
		return err
	}
	for i, e := range l.entries {
		off, ok := entryOffset(e.ID)
		if !ok {
			return fmt.Errorf("cluster: lobby %s: bad log entry id %q", lobbyID, e.ID)
		}
		if i == 0 && off > after+1 {
			return ErrLogTrimmed
		}
		raw, _ := e.Values["e"].(string)
		w, _, err := decodeWireEventString(raw)
		if err != nil {
			return fmt.Errorf("cluster: lobby %s offset %d: %w", lobbyID, off, err)
		}
		if !fn(off, &w) {
			return nil
		}
	}
	return nil
}
