package matchmaking

import (
	"context"

	"github.com/lobbyd/lobbyd/protocol"
)

// Sink receives the Service's mm.* events. The Service calls Deliver
// without holding any lock of its own, from the goroutine that caused the
// event (Enqueue, Cancel, CancelUser, or the matching loop). Deliver must
// not block for long: the matching loop waits for it. The event and its
// slices are not modified after Deliver returns, but one Teams or Lobby may
// be shared by the events of a match.
type Sink interface {
	Deliver(ev *Event)
}

// MatchSink is a Sink that can deliver a match's mm.matched events (one
// per ticket) as one: the Service calls DeliverMatch instead of Deliver
// for each when its Sink has it. A Sink that numbers events per user
// should give every recipient its mm.matched before any of them can see
// anything after it: a player told first could otherwise act in the match
// lobby (chat) before its partners are told they are in it.
type MatchSink interface {
	Sink
	DeliverMatch(evs []*Event)
}

// Event is one mm.* event (docs/protocol.md §3 "Matchmaking") for the users in
// To. Which fields are set depends on Name:
//
//   - protocol.EvQueued: Ticket.
//   - protocol.EvMatched: TicketID, MatchID, Queue, Lobby, Teams.
//   - protocol.EvTicketCancelled: TicketID, Reason (protocol.ReasonCancelled,
//     ReasonTimeout or ReasonDisconnected).
type Event struct {
	Name     string
	To       []string // user ids: every member of the ticket, the asker included
	Ticket   *protocol.Ticket
	TicketID string
	MatchID  string
	Queue    string
	Reason   string
	Lobby    *protocol.LobbyView
	Teams    [][]string
}

// ErrMatchUnknown is wrapped by a Lobbies.CreateMatch error when the match
// lobby may have been made: the store lost the reply of its write and
// could not read back whether it took effect (Redis down for longer than it
// tries). It reads as unavailable.
var ErrMatchUnknown = protocol.NewError(protocol.CodeUnavailable, "match lobby: outcome unknown")

// Player is the user who asks.
type Player struct {
	UserID string
	Name   string // display name; empty: the user id
}

// MatchLobbyParams asks for a match's lobby: private, state in_game, with
// exactly Members (Members[0] the host), each moved out of any lobby they
// are in.
type MatchLobbyParams struct {
	MatchID    string
	Name       string // "<queue> match" (the queue's name alone if that is over 64 bytes)
	Mode       string // the queue's name
	Region     string // the match's region
	MaxPlayers int    // the match's player count (at least 2)
	Members    []Player
}

// Lobbies is what matchmaking needs from the lobby package; the gateway
// adapts lobby.Store to it, so this package does not import lobby.
type Lobbies interface {
	// LobbyOf returns the member view of the user's lobby; false when the
	// user is in none, an error when that cannot be known.
	LobbyOf(ctx context.Context, userID string) (protocol.LobbyView, bool, error)
	// CreateMatch creates the match's lobby and moves the players in. An
	// error means no match lobby was made (the tickets go back in the
	// queue), unless it wraps ErrMatchUnknown: the store could not tell
	// whether it was made (see Service.start).
	CreateMatch(ctx context.Context, p MatchLobbyParams) (protocol.LobbyView, error)
	// CheckPlayer reports, with a *protocol.Error, why p could never be a
	// member of a lobby (a user id or display name out of the lobby's
	// bounds); nil if it can. Enqueue refuses such players, and a match
	// whose lobby fails cancels the tickets it names instead of retrying
	// them for ever.
	CheckPlayer(p Player) error
}
