package lobby

import "github.com/lobbyd/lobbyd/protocol"

// Event is one lobby event on its way to the Sink. It is flat, with the
// fields of every kind side by side, so that the hot path (lobby.data) can
// reuse one Event per lobby and allocate nothing. Which fields are set
// depends on Name:
//
//	lobby.member_joined   Member
//	lobby.member_left     UserID, Reason
//	lobby.updated         Lobby (member view, with code)
//	lobby.member_updated  Member
//	lobby.kicked          (LobbyID only)
//	lobby.host_changed    UserID (the new host)
//	lobby.chat            From, Text, TS
//	lobby.data            From, Data
//	lobby.started         MatchID
type Event struct {
	LobbyID string
	// Version orders the lobby's events: each event the store hands to the
	// Sink has a higher Version than the lobby's previous one, and a view of
	// the lobby (LobbyView.Version) carries the Version of the last event
	// handed over before the view was taken. A session that reads a view
	// while events stream in uses it to tell which events the view already
	// shows (docs/architecture.md, "Welcome snapshot").
	Version uint64
	Name    string   // a protocol.Ev* name
	To      []string // recipients (user ids); valid only during Deliver
	Member  *protocol.Member
	Lobby   *protocol.LobbyView
	UserID  string
	Reason  string
	From    string
	Text    string
	TS      int64  // unix ms
	Data    []byte // valid only during Deliver
	MatchID string
}
