package lobby

import (
	"context"

	"github.com/lobbyd/lobbyd/protocol"
)

// An operator looks inside a shard's lobbies through GET /admin/lobbies and
// GET /admin/lobbies/{id} (docs/protocol.md §4): every lobby, private ones
// and matches too, with its code, its match id, its version and the shard
// of each member. Players never see this view; it exists so that a person
// on call can answer "where is this player and what is their lobby doing"
// without reading Redis by hand.

// Bounds of an operator's listing. A page is larger than a player's (an
// operator's table, not a lobby browser) but still bounded: each lobby on
// it carries up to 256 members.
const (
	DefaultAdminLimit = 50
	MaxAdminLimit     = 200
)

// AdminQuery is GET /admin/lobbies. Empty strings mean "no filter".
type AdminQuery struct {
	State      string // open or in_game
	Mode       string
	Region     string
	Visibility string // public or private
	// Shard keeps lobbies with a member whose session is on that shard.
	// Only stores that record members' shards (the cluster's) apply it;
	// the gateway answers it for a single shard, whose members are all its
	// own.
	Shard string
	// User keeps the lobby the user is a member of (at most one).
	User   string
	Limit  int    // 1..MaxAdminLimit; 0: DefaultAdminLimit
	Cursor string // from AdminPage.NextCursor; "" is the first page
}

// AdminLobby is one lobby as an operator sees it.
type AdminLobby struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Code        string          `json:"code"`
	Host        string          `json:"host"`
	Mode        string          `json:"mode"`
	Region      string          `json:"region"`
	Visibility  string          `json:"visibility"`
	HasPassword bool            `json:"has_password"`
	Locked      bool            `json:"locked"`
	State       string          `json:"state"`
	MaxPlayers  int             `json:"max_players"`
	Attrs       protocol.Attrs  `json:"attrs"`
	Data        protocol.RawMap `json:"data"`
	MatchID     string          `json:"match_id"` // "" until started or made by the matchmaker
	CreatedAt   int64           `json:"created_at"`
	// Version grows with every change of the lobby: compare two answers
	// about one lobby to see whether it moved. The memory store counts the
	// lobby's events; the cluster's store the commits of its document.
	Version uint64        `json:"version"`
	Members []AdminMember `json:"members"`
}

// AdminMember is one member of an AdminLobby.
type AdminMember struct {
	UserID    string `json:"user_id"`
	Name      string `json:"name"`
	Ready     bool   `json:"ready"`
	Connected bool   `json:"connected"`
	IsHost    bool   `json:"is_host"`
	JoinedAt  int64  `json:"joined_at"`
	// Shard is where the member's session is: events to the member are
	// delivered there. "" from a single-shard store (the gateway fills in
	// its own id).
	Shard string `json:"shard"`
}

// AdminPage is one page of GET /admin/lobbies, newest first. NextCursor
// "" means the last page.
type AdminPage struct {
	Lobbies    []AdminLobby
	NextCursor string
}

// Inspector is a Store an operator can look inside. Both stores implement
// it; lobbytest.Run checks them.
type Inspector interface {
	// Inspect is one lobby, private or not; absent: ErrNotFound.
	Inspect(ctx context.Context, lobbyID string) (AdminLobby, error)
	// InspectList pages through every lobby, newest first, with q's
	// filters. A store may stop a page short after walking a bounded
	// number of lobbies; it then still returns a cursor.
	InspectList(ctx context.Context, q AdminQuery) (AdminPage, error)
}

// CheckAdminQuery applies the default limit and checks q's bounds; it
// returns the creation sequence to list below (the decoded cursor).
func CheckAdminQuery(q AdminQuery) (AdminQuery, uint64, error) {
	if q.Limit == 0 {
		q.Limit = DefaultAdminLimit
	}
	if q.Limit < 1 || q.Limit > MaxAdminLimit {
		return q, 0, badRequest("limit must be 1-200")
	}
	if q.State != "" && q.State != protocol.StateOpen && q.State != protocol.StateInGame {
		return q, 0, badRequest(`state must be "open" or "in_game"`)
	}
	if q.Visibility != "" && q.Visibility != protocol.VisibilityPublic && q.Visibility != protocol.VisibilityPrivate {
		return q, 0, badRequest(`visibility must be "public" or "private"`)
	}
	for _, f := range [...]struct{ name, v string }{{"mode", q.Mode}, {"region", q.Region}, {"shard", q.Shard}} {
		if err := checkTag(f.name, f.v); err != nil {
			return q, 0, err
		}
	}
	if len(q.User) > MaxUserIDBytes {
		return q, 0, badRequest("user must be at most 64 bytes")
	}
	before, err := DecodeCursor(q.Cursor)
	if err != nil {
		return q, 0, err
	}
	return q, before, nil
}

// Inspect is d as an operator sees it.
func (d *Doc) Inspect() AdminLobby {
	a := AdminLobby{
		ID:          d.ID,
		Name:        d.Name,
		Code:        d.Code,
		Host:        d.Host,
		Mode:        d.Mode,
		Region:      d.Region,
		Visibility:  d.Visibility,
		HasPassword: d.PW != nil,
		Locked:      d.Locked,
		State:       d.State,
		MaxPlayers:  d.MaxPlayers,
		Attrs:       d.Attrs,
		Data:        d.Data,
		MatchID:     d.MatchID,
		CreatedAt:   d.CreatedAt,
		Version:     d.Version,
		Members:     make([]AdminMember, len(d.Members)),
	}
	if a.Attrs == nil {
		a.Attrs = protocol.Attrs{}
	}
	for i, m := range d.Members {
		a.Members[i] = AdminMember{UserID: m.UserID, Name: m.Name, Ready: m.Ready, Connected: m.Connected,
			IsHost: m.UserID == d.Host, JoinedAt: m.JoinedAt, Shard: m.Shard}
	}
	return a
}

// MatchesAdmin reports whether d passes q's filters (q passed
// CheckAdminQuery). The cursor is the caller's.
func (d *Doc) MatchesAdmin(q *AdminQuery) bool {
	if (q.State != "" && d.State != q.State) ||
		(q.Mode != "" && d.Mode != q.Mode) ||
		(q.Region != "" && d.Region != q.Region) ||
		(q.Visibility != "" && d.Visibility != q.Visibility) ||
		(q.User != "" && d.Member(q.User) == nil) {
		return false
	}
	if q.Shard != "" {
		for _, m := range d.Members {
			if m.Shard == q.Shard {
				return true
			}
		}
		return false
	}
	return true
}
