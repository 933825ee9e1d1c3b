package protocol

// Payloads ("d") of the server's events (docs/protocol.md §3), encoded with
// AppendEvent. The names end in Ev because names.go already uses the Ev
// prefix for the event name constants. lobby.data is encoded by hand
// (AppendDataEvent); DataEv is its shape for clients and tests.

// WelcomeEv is the first frame of every connection (seq 0).
type WelcomeEv struct {
	SessionID   string     `msgpack:"session_id" json:"session_id"`
	UserID      string     `msgpack:"user_id" json:"user_id"`
	Name        string     `msgpack:"name" json:"name"`
	ResumeToken string     `msgpack:"resume_token" json:"resume_token"`
	Resumed     bool       `msgpack:"resumed" json:"resumed"`
	Shard       string     `msgpack:"shard" json:"shard"`
	HeartbeatMs int64      `msgpack:"heartbeat_ms" json:"heartbeat_ms"`
	Lobby       *LobbyView `msgpack:"lobby" json:"lobby"` // nil: encoded as nil
}

// MemberJoinedEv is lobby.member_joined.
type MemberJoinedEv struct {
	Member Member `msgpack:"member" json:"member"`
}

// MemberLeftEv is lobby.member_left; Reason is one of the Reason* names.
type MemberLeftEv struct {
	UserID string `msgpack:"user_id" json:"user_id"`
	Reason string `msgpack:"reason" json:"reason"`
}

// LobbyUpdatedEv is lobby.updated.
type LobbyUpdatedEv struct {
	Lobby LobbyView `msgpack:"lobby" json:"lobby"`
}

// MemberUpdatedEv is lobby.member_updated.
type MemberUpdatedEv struct {
	Member Member `msgpack:"member" json:"member"`
}

// KickedEv is lobby.kicked, sent to the kicked user only.
type KickedEv struct {
	LobbyID string `msgpack:"lobby_id" json:"lobby_id"`
}

// HostChangedEv is lobby.host_changed.
type HostChangedEv struct {
	Host string `msgpack:"host" json:"host"`
}

// ChatEv is lobby.chat; Ts is unix milliseconds.
type ChatEv struct {
	From string `msgpack:"from" json:"from"`
	Text string `msgpack:"text" json:"text"`
	Ts   int64  `msgpack:"ts" json:"ts"`
}

// DataEv is lobby.data (see AppendDataEvent).
type DataEv struct {
	From string `msgpack:"from" json:"from"`
	Data []byte `msgpack:"data" json:"data"`
}

// StartedEv is lobby.started.
type StartedEv struct {
	LobbyID string `msgpack:"lobby_id" json:"lobby_id"`
	MatchID string `msgpack:"match_id" json:"match_id"`
}

// QueuedEv is mm.queued.
type QueuedEv struct {
	Ticket Ticket `msgpack:"ticket" json:"ticket"`
}

// MatchedEv is mm.matched: Teams lists each team's user ids.
type MatchedEv struct {
	TicketID string     `msgpack:"ticket_id" json:"ticket_id"`
	MatchID  string     `msgpack:"match_id" json:"match_id"`
	Queue    string     `msgpack:"queue" json:"queue"`
	Lobby    LobbyView  `msgpack:"lobby" json:"lobby"`
	Teams    [][]string `msgpack:"teams" json:"teams"`
}

// TicketCancelledEv is mm.cancelled; Reason is ReasonCancelled,
// ReasonTimeout or ReasonDisconnected.
type TicketCancelledEv struct {
	TicketID string `msgpack:"ticket_id" json:"ticket_id"`
	Reason   string `msgpack:"reason" json:"reason"`
}

// DrainingEv is server.draining.
type DrainingEv struct {
	ReconnectAfterMs int64 `msgpack:"reconnect_after_ms" json:"reconnect_after_ms"`
}

// Reply payloads of the ops that return a view (docs/protocol.md §3), for
// AppendReplyValue.

// LobbyReply is the reply d of lobby.create, lobby.join and lobby.update.
type LobbyReply struct {
	Lobby LobbyView `msgpack:"lobby" json:"lobby"`
}

// MemberReply is the reply d of lobby.set_member.
type MemberReply struct {
	Member Member `msgpack:"member" json:"member"`
}

// TicketReply is the reply d of mm.enqueue (and of its HTTP twin).
type TicketReply struct {
	Ticket Ticket `msgpack:"ticket" json:"ticket"`
}
