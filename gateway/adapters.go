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
	var absent []string // no session at all: this shard runs their grace
	for i, pl := range p.Members {
		online, anywhere, err := m.g.sessionOf(ctx, pl.UserID)
		if err != nil {
			return protocol.LobbyView{}, err
		}
		members[i] = lobby.Actor{UserID: pl.UserID, Name: pl.Name, Offline: !online}
		if !anywhere {
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
	if g.cl != nil {
		// A session on another shard: that shard shows it connected when
		// it opens, and runs its grace when it drops.
		ctx, cancel := context.WithTimeout(g.ctx, clusterOpTimeout)
		_, ok, err := g.cl.sessions.Get(ctx, userID)
		cancel()
		if err != nil || ok {
			g.logStoreErr("sessions.Get", "", userID, err)
			return
		}
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

// sessionOf reports whether the user has a connected session (online) and
// a session at all (anywhere): on this shard, or, in a cluster, on any
// shard — a player matched by another shard's matcher is no less online.
func (g *Gateway) sessionOf(ctx context.Context, userID string) (online, anywhere bool, err error) {
	if s := g.hub.lookup(userID); s != nil {
		return s.connected(), true, nil
	}
	if g.cl == nil {
		return false, false, nil
	}
	s, ok, err := g.cl.sessions.Get(ctx, userID)
	return ok && s.Connected, ok, err
}
