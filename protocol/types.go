package protocol

// Wire views (docs/protocol.md §3). They carry both msgpack tags (socket) and json
// tags (HTTP). Times are unix milliseconds.

// Member is one member of a lobby as clients see it.
type Member struct {
	UserID    string `msgpack:"user_id" json:"user_id"`
	Name      string `msgpack:"name" json:"name"`
	Ready     bool   `msgpack:"ready" json:"ready"`
	Connected bool   `msgpack:"connected" json:"connected"`
	IsHost    bool   `msgpack:"is_host" json:"is_host"`
	Data      RawMap `msgpack:"data" json:"data"`
	JoinedAt  int64  `msgpack:"joined_at" json:"joined_at"`
}

// LobbyView is a lobby as clients see it. Code is empty ("omitempty") for
// anyone who is not a member: listings and GET /v1/lobbies/{id} never show it.
type LobbyView struct {
	ID          string   `msgpack:"id" json:"id"`
	Name        string   `msgpack:"name" json:"name"`
	Host        string   `msgpack:"host" json:"host"`
	Mode        string   `msgpack:"mode" json:"mode"`
	Region      string   `msgpack:"region" json:"region"`
	Visibility  string   `msgpack:"visibility" json:"visibility"`
	Code        string   `msgpack:"code,omitempty" json:"code,omitempty"`
	HasPassword bool     `msgpack:"has_password" json:"has_password"`
	Locked      bool     `msgpack:"locked" json:"locked"`
	State       string   `msgpack:"state" json:"state"`
	MaxPlayers  int      `msgpack:"max_players" json:"max_players"`
	Attrs       Attrs    `msgpack:"attrs" json:"attrs"`
	Data        RawMap   `msgpack:"data" json:"data"`
	Members     []Member `msgpack:"members" json:"members"`
	CreatedAt   int64    `msgpack:"created_at" json:"created_at"`

	// Version is the lobby's event version this view shows (see
	// lobby.Event.Version): every event of the lobby with a Version up to
	// it is reflected here, none after. Never on the wire.
	Version uint64 `msgpack:"-" json:"-"`
}

// Ticket is a matchmaking ticket as clients see it.
type Ticket struct {
	ID        string   `msgpack:"id" json:"id"`
	Queue     string   `msgpack:"queue" json:"queue"`
	Members   []string `msgpack:"members" json:"members"`
	Skill     float64  `msgpack:"skill" json:"skill"`
	Region    string   `msgpack:"region" json:"region"`
	CreatedAt int64    `msgpack:"created_at" json:"created_at"`
	State     string   `msgpack:"state" json:"state"`
}

// Attrs are a lobby's searchable attributes: at most 16 keys, each value a
// string or a number (int64, uint64 or float64 after decoding). They are
// indexed for the lobby browser's attr.<key>=<value> filter, which compares
// AttrString of the value with the query text.
type Attrs map[string]any
