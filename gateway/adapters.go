package gateway

import (
	"context"
	"time"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/matchmaking"
	"github.com/lobbyd/lobbyd/protocol"
)

// MatchLobbies adapts a lobby.Store to what the matchmaker needs of lobbies
// (so that neither package imports the other), knowing this shard's
// sessions: a matched player with no live connection
// here (a ticket made over HTTP by a user who never connected, or one who
// dropped meanwhile) enters the match lobby connected: false, and one with
// no session at all leaves it after the resume grace, as a dropped player
// would (reason "disconnected").
func (w Wiring) MatchLobbies(s lobby.Store) matchmaking.Lobbies { return matchLobbies{s: s, g: w.g} }

type matchLobbies struct {
	s lobby.Store
	g *Gateway
}

func (m matchLobbies) LobbyOf(ctx context.Context, userID string) (protocol.LobbyView, bool, error) {
	return m.s.LobbyOf(ctx, userID)
}

func (m matchLobbies) CreateMatch(ctx context.Context, p matchmaking.MatchLobbyParams) (protocol.LobbyView, error) {
	members := make([]lobby.Actor, len(p.Members))
	var absent []string // no session on this shard at all
	for i, pl := range p.Members {
		s := m.g.hub.lookup(pl.UserID)
		members[i] = lobby.Actor{UserID: pl.UserID, Name: pl.Name, Offline: s == nil || !s.connected()}
		if s == nil {
			absent = append(absent, pl.UserID)
		}
	}
	lv, err := m.s.CreateMatch(ctx, lobby.MatchParams{
		MatchID: p.MatchID, Name: p.Name, Mode: p.Mode, Region: p.Region,
		MaxPlayers: p.MaxPlayers, Members: members,
	})
	if err == nil {
		for _, uid := range absent {
			time.AfterFunc(m.g.opts.ResumeGrace, func() { m.g.absentGraceOver(uid, lv.ID) })
		}
	}
	return lv, err
}

// absentGraceOver runs a resume grace after a user with no session was put
// in a match lobby. Still no session: the user leaves the lobby, as a
// dropped player would. A session that came meanwhile may have opened
// before the lobby existed (so OnOpen did not mark it connected): it is
// marked now.
func (g *Gateway) absentGraceOver(userID, lobbyID string) {
	if s := g.hub.lookup(userID); s != nil {
		if s.connected() {
			g.logStoreErr("SetConnected", "", userID, g.lobbies.SetConnected(g.ctx, userID, true))
		}
		return
	}
	v, ok, err := g.lobbies.LobbyOf(g.ctx, userID)
	g.logStoreErr("LobbyOf", "", userID, err)
	if ok && v.ID == lobbyID {
		g.logStoreErr("Leave", "", userID, g.lobbies.Leave(g.ctx, userID, protocol.ReasonDisconnected))
	}
}

func (m matchLobbies) CheckPlayer(p matchmaking.Player) error {
	_, err := lobby.CheckActor(lobby.Actor{UserID: p.UserID, Name: p.Name})
	return err
}

func playerOf(id Identity) matchmaking.Player {
	return matchmaking.Player{UserID: id.UserID, Name: id.Name}
}
