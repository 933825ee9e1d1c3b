package client

import (
	"github.com/vmihailenco/msgpack/v5"

	"github.com/lobbyd/lobbyd/protocol"
)

// Event is one event for the application: a server event of the session's
// numbered stream (Seq ≥ 1), server.draining (Seq 0), or one of the
// Client's own (Seq 0, names starting with "client.").
type Event struct {
	// Name is the event's name: protocol.Ev* or EvDisconnected,
	// EvResumed, EvSessionReset.
	Name string
	// Seq is the server's seq: 0 for events that are not numbered.
	Seq uint64
	// Data is the typed payload: a pointer to the protocol type of the
	// event (*protocol.ChatEv for lobby.chat, ...), *Disconnected,
	// *Resumed or *SessionReset; for an event this version does not know,
	// msgpack.RawMessage.
	Data any
}

// The Client's own events.
const (
	// EvDisconnected: the connection dropped; the Client reconnects.
	// Data: *Disconnected.
	EvDisconnected = "client.disconnected"
	// EvResumed: a new connection continues the session; every event
	// missed meanwhile follows, once. Data: *Resumed.
	EvResumed = "client.resumed"
	// EvSessionReset: the server could not resume the session (it
	// restarted, or the resume grace passed) and a new one began. Events
	// may have been lost: re-read your lobby (Welcome.Lobby) and tickets.
	// Data: *SessionReset.
	EvSessionReset = "client.session_reset"
)

// Disconnected is the data of EvDisconnected.
type Disconnected struct {
	Err       error // why: a close code (*websocket.CloseError) or a network error
	CloseCode int   // the WebSocket close code, 0 when the connection just dropped
}

// Resumed is the data of EvResumed.
type Resumed struct {
	Welcome protocol.WelcomeEv
}

// SessionReset is the data of EvSessionReset.
type SessionReset struct {
	Welcome protocol.WelcomeEv // the new session; Lobby is the user's lobby, if any
}

// payloadFor returns a new value of the payload type of the named server
// event, or nil for an unknown name.
func payloadFor(name string) any {
	switch name {
	case protocol.EvMemberJoined:
		return new(protocol.MemberJoinedEv)
	case protocol.EvMemberLeft:
		return new(protocol.MemberLeftEv)
	case protocol.EvLobbyUpdated:
		return new(protocol.LobbyUpdatedEv)
	case protocol.EvMemberUpdated:
		return new(protocol.MemberUpdatedEv)
	case protocol.EvKicked:
		return new(protocol.KickedEv)
	case protocol.EvHostChanged:
		return new(protocol.HostChangedEv)
	case protocol.EvChat:
		return new(protocol.ChatEv)
	case protocol.EvData:
		return new(protocol.DataEv)
	case protocol.EvStarted:
		return new(protocol.StartedEv)
	case protocol.EvQueued:
		return new(protocol.QueuedEv)
	case protocol.EvMatched:
		return new(protocol.MatchedEv)
	case protocol.EvTicketCancelled:
		return new(protocol.TicketCancelledEv)
	case protocol.EvServerDraining:
		return new(protocol.DrainingEv)
	case protocol.EvWelcome:
		return new(protocol.WelcomeEv)
	}
	return nil
}

// decodePayload decodes d into the event's typed payload.
func decodePayload(name string, d msgpack.RawMessage) (any, error) {
	v := payloadFor(name)
	if v == nil {
		return d, nil
	}
	if len(d) == 0 {
		return v, nil
	}
	if err := msgpack.Unmarshal(d, v); err != nil {
		return nil, err
	}
	return v, nil
}
