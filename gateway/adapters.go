package gateway

import (
	"context"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/matchmaking"
	"github.com/lobbyd/lobbyd/protocol"
)

// MatchLobbies adapts a lobby.Store to what the matchmaker needs of lobbies,
// so that neither package imports the other.
func MatchLobbies(s lobby.Store) matchmaking.Lobbies { return matchLobbies{s} }

type matchLobbies struct{ s lobby.Store }

func (m matchLobbies) LobbyOf(ctx context.Context, userID string) (protocol.LobbyView, bool, error) {
	return m.s.LobbyOf(ctx, userID)
}

func (m matchLobbies) CreateMatch(ctx context.Context, p matchmaking.MatchLobbyParams) (protocol.LobbyView, error) {
	members := make([]lobby.Actor, len(p.Members))
	for i, pl := range p.Members {
		members[i] = lobby.Actor{UserID: pl.UserID, Name: pl.Name}
	}
	return m.s.CreateMatch(ctx, lobby.MatchParams{
		MatchID: p.MatchID, Name: p.Name, Mode: p.Mode, Region: p.Region,
		MaxPlayers: p.MaxPlayers, Members: members,
	})
}

func (m matchLobbies) CheckPlayer(p matchmaking.Player) error {
	_, err := lobby.CheckActor(lobby.Actor{UserID: p.UserID, Name: p.Name})
	return err
}

func playerOf(id Identity) matchmaking.Player {
	return matchmaking.Player{UserID: id.UserID, Name: id.Name}
}
