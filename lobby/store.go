package lobby

import (
	"context"

	"github.com/lobbyd/lobbyd/protocol"
)

// Actor is the user doing something: the session's user id (JWT sub) and
// display name.
type Actor struct {
	UserID, Name string
	// Offline: the user has no live connection (a match made for a ticket
	// created over HTTP). CreateMatch makes such a member connected: false;
	// other calls ignore it.
	Offline bool
}

// Store applies the lobby rules. Every mutation is one call: it checks the
// rules, changes the lobby, delivers the events to the Sink in the lobby's
// order and returns the new state. Refusals a client can cause are
// *protocol.Error with the codes of docs/protocol.md §5.
type Store interface {
	// Create makes a lobby with a as its host and only member.
	Create(ctx context.Context, a Actor, p protocol.CreateLobby) (protocol.LobbyView, error)
	// Join adds a to a lobby named by id (public only) or code.
	Join(ctx context.Context, a Actor, p protocol.JoinLobby) (protocol.LobbyView, error)
	// Leave removes the user from their lobby; reason is
	// protocol.ReasonLeft or protocol.ReasonDisconnected.
	Leave(ctx context.Context, userID, reason string) error
	// Update changes the fields present in p (host only).
	Update(ctx context.Context, userID string, p protocol.UpdateLobby) (protocol.LobbyView, error)
	// SetMember changes the caller's ready flag and/or data.
	SetMember(ctx context.Context, userID string, p protocol.SetMember) (protocol.Member, error)
	// SetConnected marks the user's member entry (dis)connected. A user in no
	// lobby is not an error: it returns nil.
	SetConnected(ctx context.Context, userID string, connected bool) error
	// Kick removes targetID from the host's lobby.
	Kick(ctx context.Context, hostID, targetID string) error
	// TransferHost makes targetID the host.
	TransferHost(ctx context.Context, hostID, targetID string) error
	// Chat sends lobby.chat to every member, the sender included.
	Chat(ctx context.Context, userID, text string) error
	// Send relays lobby.data. Hot path: 0 allocs/op in steady state. data and
	// to are only read during the call.
	Send(ctx context.Context, userID string, data []byte, to [][]byte) error
	// Start puts the host's lobby in_game and returns the new match id.
	Start(ctx context.Context, hostID string) (matchID string, err error)
	// Close is the operator's close: members get lobby.member_left reason
	// closed, then the lobby is deleted. Private lobbies included.
	Close(ctx context.Context, lobbyID string) error
	// CreateMatch moves the members out of their lobbies into one new
	// private lobby in state in_game, Members[0] its host, without
	// member_joined events.
	CreateMatch(ctx context.Context, p MatchParams) (protocol.LobbyView, error)
	// Get is the public view (no code); private or absent: not_found.
	Get(ctx context.Context, lobbyID string) (protocol.LobbyView, error)
	// LobbyOf is the member view (with code) of the user's lobby; false
	// when the user is in none. An error means the store could not answer,
	// not that the user is in no lobby. The view's Version is that of the
	// last event of the lobby delivered before it was read (Event.Version).
	LobbyOf(ctx context.Context, userID string) (protocol.LobbyView, bool, error)
	// List pages through the public lobbies, newest first.
	List(ctx context.Context, q ListQuery) (ListPage, error)
	// Stats counts lobbies and members, for metrics.
	Stats() Stats
}

// Sink receives every event, in each lobby's order. It is called
// synchronously under the lobby's lock (memory store), so it must not call
// back into the Store, should not block, and must not keep ev, ev.To or
// ev.Data after it returns.
type Sink interface {
	Deliver(ev *Event)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(ev *Event)

// Deliver calls f(ev).
func (f SinkFunc) Deliver(ev *Event) { f(ev) }

// MatchParams describe the lobby CreateMatch makes for a formed match.
type MatchParams struct {
	MatchID    string // the matchmaker's id, 1-64 bytes
	Name       string // 1-64 characters; empty: "match"
	Mode       string // at most 64 bytes
	Region     string // at most 64 bytes
	MaxPlayers int    // 2-256 and not below len(Members); 0: max(2, len(Members))
	Members    []Actor
}

// ListQuery is GET /v1/lobbies. Empty strings and false mean "no filter".
type ListQuery struct {
	Mode, Region, State string
	HasSpace            bool
	Attrs               map[string]string // attr.<key>=<value>, compared with protocol.AttrString
	Limit               int               // 1..100; 0: DefaultListLimit
	Cursor              string            // from ListPage.NextCursor; "" is the first page
}

// ListPage is one page of a listing. NextCursor "" means the last page (JSON
// null at the HTTP layer).
type ListPage struct {
	Lobbies    []protocol.LobbyView
	NextCursor string
}

// JSONLister is a Store that can write a List page as JSON itself, from
// lobby views it keeps encoded: the lobby browser's hot path, where
// building and encoding twenty views per request made most of the garbage
// of a busy shard. The bytes appended to dst are
// {"lobbies":[view...],"next_cursor":"..." or null}, each view exactly as
// encoding the protocol.LobbyView of List would give.
type JSONLister interface {
	AppendListJSON(ctx context.Context, dst []byte, q ListQuery) ([]byte, error)
}

// Stats are gauges for metrics.
type Stats struct {
	Lobbies      int // Open + InGame
	Members      int
	Open         int // lobbies in state open
	InGame       int // lobbies in state in_game
	Disconnected int // members shown disconnected (waiting for a resume)
}

// Count adds d, a lobby with the members counted by member (nil: all), to st.
// Caller holds whatever guards d.
func (st *Stats) Count(d *Doc, member func(userID string) bool) {
	if d.State == protocol.StateInGame {
		st.InGame++
	} else {
		st.Open++
	}
	for _, m := range d.Members {
		if member != nil && !member(m.UserID) {
			continue
		}
		if !m.Connected {
			st.Disconnected++
		}
	}
}

// ListingFeed is a store whose listing can be followed live (GET
// /v1/lobbies/watch): the index its listings are answered from, and a
// notice for every change of a public lobby.
type ListingFeed interface {
	// ListingIndex is the index the store lists from now. A feed may swap
	// it (the cluster's replica after a rebuild); it then calls the
	// function of WatchListing with "".
	ListingIndex() *Index
	// WatchListing sets fn to be told the id of each public lobby, or
	// lobby that was public, whose listing or view changed; "" means any
	// lobby may have changed (the index was replaced). fn has the rules of
	// Index.SetOnChange: note the id and return.
	WatchListing(fn func(id string))
}

// ViewPrefetcher is a ListingFeed whose views are not all in memory (a
// cluster's listing replica keeps a bounded cache and reads the others
// from Redis): before reading the views of several lobbies one by one
// (ListedView.AppendViewJSON), the live lobby list hands their ids to
// PrefetchViews, which reads the missing ones at once. It reports nothing:
// a view it could not read is read again, alone, when asked for.
type ViewPrefetcher interface {
	PrefetchViews(ctx context.Context, ids []string)
}
