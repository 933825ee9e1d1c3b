package lobby

import (
	"crypto/rand"
	"log/slog"
	"sync"
	"time"

	"github.com/lobbyd/lobbyd/protocol"
)

// MemoryOptions configure a MemoryStore. The zero value is ready for use.
type MemoryOptions struct {
	// Now is the clock for created_at, joined_at and chat ts.
	// nil: time.Now.
	Now func() time.Time
	// NewID makes lobby and match ids; they must be unique and unguessable.
	// nil: NewID (16 random bytes, hex).
	NewID func() string
	// NewCode makes candidate lobby codes; the store retries on a collision
	// with a live lobby. nil: NewCode (6 characters of CodeAlphabet).
	NewCode func() string
	// PasswordPepper keys the password HMAC. nil: 32 random bytes made at
	// construction (fine for one process; stores sharing lobbies must share
	// it).
	PasswordPepper []byte
	// Logger reports a lobby whose view cannot be written as JSON (it is
	// left out of listings). nil: slog.Default().
	Logger *slog.Logger
}

// maxCodeTries bounds the search for a free code. With 887 million codes a
// collision is rare until hundreds of millions of lobbies are live; the
// bound only stops a broken NewCode from spinning for ever.
const maxCodeTries = 64

// MemoryStore is the single-shard Store: all state in this process.
type MemoryStore struct {
	sink    Sink
	now     func() time.Time
	newID   func() string
	newCode func() string
	pepper  []byte
	log     *slog.Logger

	// Guarded by mu. A lobby's entries here change only while its own lock
	// is held too (lock order: lobby.mu, then mu), so a lobby's members and
	// users[member] always agree under the lobby lock.
	mu      sync.RWMutex
	users   map[string]*lobby    // user id → their lobby
	lobbies map[string]*lobby    // id → lobby
	codes   map[string]*lobby    // code → lobby
	indexes map[string]*seqIndex // listing indexes of public lobbies (index.go)
	seq     uint64               // last creation sequence given
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store that delivers events to sink (nil:
// events are dropped).
func NewMemoryStore(sink Sink, opts MemoryOptions) *MemoryStore {
	s := &MemoryStore{
		sink:    sink,
		now:     opts.Now,
		newID:   opts.NewID,
		newCode: opts.NewCode,
		pepper:  opts.PasswordPepper,
		log:     opts.Logger,
		users:   make(map[string]*lobby),
		lobbies: make(map[string]*lobby),
		codes:   make(map[string]*lobby),
		indexes: make(map[string]*seqIndex),
	}
	if s.sink == nil {
		s.sink = SinkFunc(func(*Event) {})
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.newID == nil {
		s.newID = NewID
	}
	if s.newCode == nil {
		s.newCode = NewCode
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.pepper == nil {
		s.pepper = make([]byte, 32)
		rand.Read(s.pepper)
	}
	return s
}

// lobby is one live lobby of a MemoryStore.
type lobby struct {
	// Immutable once published.
	id, code     string
	seq          uint64 // creation sequence: listing order and cursor
	createdAt    int64
	mode, region string

	// Guarded by MemoryStore.mu: what listings filter on, and the index
	// keys the lobby is filed under.
	ls   listing
	keys []string

	mu sync.Mutex
	// Guarded by mu.
	gone       bool // deleted; a lookup that raced with the deletion retries or fails
	name       string
	host       string
	visibility string
	pw         *PasswordHash // nil: no password
	locked     bool
	state      string
	maxPlayers int
	attrs      protocol.Attrs // never mutated in place: views share it
	data       protocol.RawMap
	matchID    string    // set for lobbies made by CreateMatch
	members    []*member // join order: members[0] is the longest present
	byID       map[string]*member
	to         []string // recipients scratch, reused for every event
	ev         Event    // event scratch, reused for every event
	sendGen    uint64   // bumped per targeted Send, to drop duplicate ids in O(1)
	// viewJSON is the public view as JSON, built by a listing and dropped
	// by emit: every change to what the view shows emits an event.
	viewJSON []byte
	// viewUnlistable is set when the view could not be written as JSON:
	// listings skip the lobby (and log it once) until the next change.
	viewUnlistable bool
}

type member struct {
	userID, name string
	ready        bool
	connected    bool
	data         protocol.RawMap // never mutated in place: views share it
	joinedAt     int64
	sendMark     uint64 // == lobby.sendGen while this member is already in a Send's to list
}

func (s *MemoryStore) nowMS() int64 { return s.now().UnixMilli() }

// lockLobbyOf returns the user's lobby, locked, with the user a member.
// A user who moves between the lookup and the lock is looked up again; the
// bound only guards against a pathological livelock.
func (s *MemoryStore) lockLobbyOf(userID string) (*lobby, error) {
	for range 8 {
		s.mu.RLock()
		l := s.users[userID]
		s.mu.RUnlock()
		if l == nil {
			return nil, ErrNotInLobby
		}
		l.mu.Lock()
		if !l.gone && l.byID[userID] != nil {
			return l, nil
		}
		l.mu.Unlock()
	}
	return nil, ErrNotInLobby
}

// others fills the recipients scratch with every member but except.
func (l *lobby) others(except string) []string {
	l.to = l.to[:0]
	for _, m := range l.members {
		if m.userID != except {
			l.to = append(l.to, m.userID)
		}
	}
	return l.to
}

// everyone fills the recipients scratch with every member.
func (l *lobby) everyone() []string {
	l.to = l.to[:0]
	for _, m := range l.members {
		l.to = append(l.to, m.userID)
	}
	return l.to
}

// emit hands one event to the sink; l.mu must be held. Events without
// recipients are dropped.
func (s *MemoryStore) emit(l *lobby, ev Event) {
	if ev.Name != protocol.EvChat {
		l.viewJSON, l.viewUnlistable = nil, false // before the early return: a change nobody hears of is still a change
	}
	if len(ev.To) == 0 {
		return
	}
	ev.LobbyID = l.id
	l.ev = ev
	s.sink.Deliver(&l.ev)
	l.ev = Event{} // keep no reference to the caller's buffers
}

func (l *lobby) memberView(m *member) protocol.Member {
	return protocol.Member{
		UserID:    m.userID,
		Name:      m.name,
		Ready:     m.ready,
		Connected: m.connected,
		IsHost:    m.userID == l.host,
		Data:      m.data,
		JoinedAt:  m.joinedAt,
	}
}

// view is the lobby as clients see it; withCode for members only.
func (l *lobby) view(withCode bool) protocol.LobbyView {
	v := protocol.LobbyView{
		ID:          l.id,
		Name:        l.name,
		Host:        l.host,
		Mode:        l.mode,
		Region:      l.region,
		Visibility:  l.visibility,
		HasPassword: l.pw != nil,
		Locked:      l.locked,
		State:       l.state,
		MaxPlayers:  l.maxPlayers,
		Attrs:       l.attrs,
		Data:        l.data,
		Members:     make([]protocol.Member, len(l.members)),
		CreatedAt:   l.createdAt,
	}
	if withCode {
		v.Code = l.code
	}
	for i, m := range l.members {
		v.Members[i] = l.memberView(m)
	}
	return v
}

// listingOf is the listing record of l; l.mu must be held.
func (l *lobby) listingOf() listing {
	ls := listing{
		public:     l.visibility == protocol.VisibilityPublic,
		state:      l.state,
		members:    len(l.members),
		maxPlayers: l.maxPlayers,
		attrs:      make(map[string]string, len(l.attrs)),
	}
	for k, v := range l.attrs {
		ls.attrs[k], _ = protocol.AttrString(v) // CheckAttrs stored strings and numbers only
	}
	return ls
}

// publishLocked files a fully built lobby under its id, code, members and
// indexes; s.mu (write) must be held. It picks the code and the sequence.
func (s *MemoryStore) publishLocked(l *lobby) error {
	for i := 0; ; i++ {
		if i == maxCodeTries {
			return protocol.NewError(protocol.CodeInternal, "no free lobby code")
		}
		c := s.newCode()
		if _, taken := s.codes[c]; !taken {
			l.code = c
			break
		}
	}
	for i := 0; ; i++ {
		if i == maxCodeTries {
			return protocol.NewError(protocol.CodeInternal, "no free lobby id")
		}
		if _, taken := s.lobbies[l.id]; !taken {
			break
		}
		l.id = s.newID()
	}
	s.seq++
	l.seq = s.seq
	s.lobbies[l.id] = l
	s.codes[l.code] = l
	for _, m := range l.members {
		s.users[m.userID] = l
	}
	s.setListingLocked(l, l.listingOf())
	return nil
}

// deleteLocked removes l from every map and index; s.mu (write) and l.mu
// must be held.
func (s *MemoryStore) deleteLocked(l *lobby) {
	for _, m := range l.members {
		if s.users[m.userID] == l {
			delete(s.users, m.userID)
		}
	}
	delete(s.lobbies, l.id)
	delete(s.codes, l.code)
	s.setListingLocked(l, listing{})
	l.gone = true
}

// Stats implements Store.
func (s *MemoryStore) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return Stats{Lobbies: len(s.lobbies), Members: len(s.users)}
}
