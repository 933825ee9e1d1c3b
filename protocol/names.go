package protocol

// Ops a client may send (docs/protocol.md §3).
const (
	OpPing               = "ping"
	OpLobbyCreate        = "lobby.create"
	OpLobbyJoin          = "lobby.join"
	OpLobbyLeave         = "lobby.leave"
	OpLobbyUpdate        = "lobby.update"
	OpLobbySetMember     = "lobby.set_member"
	OpLobbyKick          = "lobby.kick"
	OpLobbyTransferHost  = "lobby.transfer_host"
	OpLobbyChat          = "lobby.chat"
	OpLobbySend          = "lobby.send"
	OpLobbyStart         = "lobby.start"
	OpMatchmakingEnqueue = "mm.enqueue"
	OpMatchmakingCancel  = "mm.cancel"
)

// Events the server sends (docs/protocol.md §3).
const (
	EvWelcome         = "welcome"
	EvMemberJoined    = "lobby.member_joined"
	EvMemberLeft      = "lobby.member_left"
	EvLobbyUpdated    = "lobby.updated"
	EvMemberUpdated   = "lobby.member_updated"
	EvKicked          = "lobby.kicked"
	EvHostChanged     = "lobby.host_changed"
	EvChat            = "lobby.chat"
	EvData            = "lobby.data"
	EvStarted         = "lobby.started"
	EvQueued          = "mm.queued"
	EvMatched         = "mm.matched"
	EvTicketCancelled = "mm.cancelled"
	EvServerDraining  = "server.draining"
)

// Reasons carried by lobby.member_left and mm.cancelled.
const (
	ReasonLeft         = "left"
	ReasonKicked       = "kicked"
	ReasonDisconnected = "disconnected"
	ReasonClosed       = "closed"
	ReasonCancelled    = "cancelled"
	ReasonTimeout      = "timeout"
)

// Lobby visibility and state values.
const (
	VisibilityPublic  = "public"
	VisibilityPrivate = "private"
	StateOpen         = "open"
	StateInGame       = "in_game"
)

// Ticket states.
const (
	TicketQueued    = "queued"
	TicketMatched   = "matched"
	TicketCancelled = "cancelled"
)
