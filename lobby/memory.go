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
	// is held too (docs/locks.md), so a lobby's members and
	// users[member] always agree under the lobby lock.
	mu      sync.RWMutex
	users   map[string]*lobby // user id → their lobby
	lobbies map[string]*lobby // id → lobby
	codes   map[string]*lobby // code → lobby
	seq     uint64            // last creation sequence given

	// The public lobbies, for listings (memory_index.go). It has its own
	// lock, taken last (lobby.mu, then mu, then the index's); a lobby is
	// re-filed only while its own lock is held.
	index *Index
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
		index:   NewIndex(),
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

// lobby is one live lobby of a MemoryStore: its Doc (state and rules,
// rules.go) under its own lock, and what the store files it under.
type lobby struct {
	// Guarded by mu, except ID, Code, Seq, CreatedAt, Mode and Region,
	// which never change once the lobby is published.
	Doc

	log *slog.Logger // the store's: a view that cannot be listed is logged

	mu sync.Mutex
	// Guarded by mu.
	gone bool // deleted; a lookup that raced with the deletion retries or fails
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
		if !l.gone && l.Member(userID) != nil {
			return l, nil
		}
		l.mu.Unlock()
	}
	return nil, ErrNotInLobby
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
			l.Code = c
			break
		}
	}
	for i := 0; ; i++ {
		if i == maxCodeTries {
			return protocol.NewError(protocol.CodeInternal, "no free lobby id")
		}
		if _, taken := s.lobbies[l.ID]; !taken {
			break
		}
		l.ID = s.newID()
	}
	s.seq++
	l.Seq = s.seq
	s.lobbies[l.ID] = l
	s.codes[l.Code] = l
	for _, m := range l.Members {
		s.users[m.UserID] = l
	}
	l.log = s.log
	l.listing = s.index
	s.refile(l)
	return nil
}

// deleteLocked removes l from every map and index; s.mu (write) and l.mu
// must be held.
func (s *MemoryStore) deleteLocked(l *lobby) {
	for _, m := range l.Members {
		if s.users[m.UserID] == l {
			delete(s.users, m.UserID)
		}
	}
	delete(s.lobbies, l.ID)
	delete(s.codes, l.Code)
	s.index.Remove(l.ID)
	l.gone = true
}

// Stats implements Store.
func (s *MemoryStore) Stats() Stats {
	// The lobby locks come before the store's (docs/locks.md): copy the
	// lobbies out, then read each under its own lock. A scrape's cost, once
	// every few seconds, not the hot path's.
	s.mu.RLock()
	st := Stats{Lobbies: len(s.lobbies), Members: len(s.users)}
	list := make([]*lobby, 0, len(s.lobbies))
	for _, l := range s.lobbies {
		list = append(list, l)
	}
	s.mu.RUnlock()
	for _, l := range list {
		l.mu.Lock()
		if !l.gone {
			st.Count(&l.Doc, nil)
		}
		l.mu.Unlock()
	}
	return st
}
