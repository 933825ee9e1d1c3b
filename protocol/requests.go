package protocol

// Request bodies ("d") of the cold ops, decoded with DecodeBody after the
// bounds check. Shape and types are checked here; the rules (lengths, ranges,
// who may do what) belong to the lobby and matchmaking packages.
//
// In an update, an absent key leaves the field as it is: pointers stay nil,
// and maps/RawMap stay nil (a present empty map is non-nil and clears).

// CreateLobby is the body of lobby.create.
type CreateLobby struct {
	Name       string `msgpack:"name" json:"name"`
	MaxPlayers int    `msgpack:"max_players" json:"max_players"`
	Visibility string `msgpack:"visibility" json:"visibility"`
	Password   string `msgpack:"password" json:"password"` // empty: no password
	Mode       string `msgpack:"mode" json:"mode"`
	Region     string `msgpack:"region" json:"region"`
	Attrs      Attrs  `msgpack:"attrs" json:"attrs"`
	Data       RawMap `msgpack:"data" json:"data"`
}

// JoinLobby is the body of lobby.join: LobbyID or Code, and a password when
// the lobby has one.
type JoinLobby struct {
	LobbyID  string `msgpack:"lobby_id" json:"lobby_id"`
	Code     string `msgpack:"code" json:"code"`
	Password string `msgpack:"password" json:"password"`
}

// UpdateLobby is the body of lobby.update (host only). Password "" removes
// the password.
type UpdateLobby struct {
	Name       *string `msgpack:"name" json:"name"`
	MaxPlayers *int    `msgpack:"max_players" json:"max_players"`
	Visibility *string `msgpack:"visibility" json:"visibility"`
	Password   *string `msgpack:"password" json:"password"`
	Locked     *bool   `msgpack:"locked" json:"locked"`
	Attrs      Attrs   `msgpack:"attrs" json:"attrs"`
	Data       RawMap  `msgpack:"data" json:"data"`
}

// SetMember is the body of lobby.set_member.
type SetMember struct {
	Ready *bool  `msgpack:"ready" json:"ready"`
	Data  RawMap `msgpack:"data" json:"data"`
}

// UserTarget is the body of lobby.kick and lobby.transfer_host.
type UserTarget struct {
	UserID string `msgpack:"user_id" json:"user_id"`
}

// Chat is the body of lobby.chat.
type Chat struct {
	Text string `msgpack:"text" json:"text"`
}

// Enqueue is the body of mm.enqueue and of POST /v1/queues/{name}/tickets
// (where Queue comes from the path).
type Enqueue struct {
	Queue  string   `msgpack:"queue" json:"queue"`
	Skill  *float64 `msgpack:"skill" json:"skill"`
	Region string   `msgpack:"region" json:"region"`
	Attrs  Attrs    `msgpack:"attrs" json:"attrs"`
	Party  bool     `msgpack:"party" json:"party"`
}

// CancelTicket is the body of mm.cancel.
type CancelTicket struct {
	TicketID string `msgpack:"ticket_id" json:"ticket_id"`
}
