package gateway

import (
	"sync"
	"time"
)

// hub is the shard's registry of sessions: by user (a user has at most one)
// and by resume token (single-use).
type hub struct {
	pool        eventPool
	ringEntries int // replay ring bound: events
	ringBytes   int // replay ring bound: bytes

	mu sync.RWMutex
	// Guarded by mu.
	byUser  map[string]*Session
	byToken map[string]*Session
}

func newHub(ringEntries, ringBytes int) *hub {
	return &hub{
		ringEntries: ringEntries,
		ringBytes:   ringBytes,
		byUser:      make(map[string]*Session),
		byToken:     make(map[string]*Session),
	}
}

// lookup returns the user's session on this shard, or nil.
func (h *hub) lookup(userID string) *Session {
	h.mu.RLock()
	s := h.byUser[userID]
	h.mu.RUnlock()
	return s
}

// fanOut delivers one encoded event to each user's session on this shard.
// It takes the deliverer's reference of ev and releases it.
func (h *hub) fanOut(to []string, ev *eventBuf) {
	h.mu.RLock()
	for _, uid := range to {
		if s := h.byUser[uid]; s != nil {
			s.deliver(h, ev)
		}
	}
	h.mu.RUnlock()
	h.pool.release(ev)
}

// attachResult says what attach did.
type attachResult struct {
	session  *Session
	resumed  bool
	replaced writer // the user's previous connection, to close with 4009
}

// attach binds a new connection to a session: the one its resume token names
// when that can be honoured, else a new one that replaces the user's old
// session. It writes the welcome (built by welcome, given the session and
// whether it resumed) and, on resume, replays every event after lastSeq, all
// under the session's lock so no new event can slip in between.
func (h *hub) attach(cs *connState, conn writer, welcome func(s *Session, resumed bool) []byte) attachResult {
	uid := cs.id.UserID
	h.mu.Lock()
	defer h.mu.Unlock()

	old := h.byUser[uid]
	if old != nil && cs.resume != "" && h.byToken[cs.resume] == old {
		old.mu.Lock()
		if !old.closed && old.canReplayFrom(cs.lastSeq) {
			res := attachResult{session: old, resumed: true, replaced: old.conn}
			delete(h.byToken, old.resumeToken)
			old.resumeToken = randomID(24)
			h.byToken[old.resumeToken] = old
			if old.grace != nil {
				old.grace.Stop()
				old.grace = nil
			}
			old.conn, old.cs = conn, cs
			_ = conn.Write(welcome(old, true))
			old.ring.each(cs.lastSeq, old.writeEventLocked)
			old.mu.Unlock()
			return res
		}
		old.mu.Unlock()
	}

	s := &Session{id: randomID(16), userID: uid, name: cs.id.Name, resumeToken: randomID(24)}
	res := attachResult{session: s}
	if old != nil {
		old.mu.Lock()
		res.replaced = old.conn
		h.endLocked(old)
		old.mu.Unlock()
	}
	s.mu.Lock()
	s.conn, s.cs = conn, cs
	h.byUser[uid] = s
	h.byToken[s.resumeToken] = s
	_ = conn.Write(welcome(s, false))
	s.mu.Unlock()
	return res
}

// endLocked retires a session for good. Caller holds h.mu and s.mu.
func (h *hub) endLocked(s *Session) {
	s.closed = true
	s.conn, s.cs = nil, nil
	if s.grace != nil {
		s.grace.Stop()
		s.grace = nil
	}
	delete(h.byToken, s.resumeToken)
	if h.byUser[s.userID] == s {
		delete(h.byUser, s.userID)
	}
	s.ring.reset(&h.pool)
}

// detach is called when cs's connection closed. If cs was still the
// session's connection, the session waits for a resume for grace, then
// expire runs. It reports whether the session lost its connection (false
// when cs had already been replaced).
func (h *hub) detach(s *Session, cs *connState, grace time.Duration, expire func(*Session)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cs != cs || s.closed {
		return false
	}
	s.conn, s.cs = nil, nil
	s.grace = time.AfterFunc(grace, func() { expire(s) })
	return true
}

// expireIfIdle retires s if it is still disconnected and still the user's
// session; it reports whether it did.
func (h *hub) expireIfIdle(s *Session) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.conn != nil || h.byUser[s.userID] != s {
		return false
	}
	h.endLocked(s)
	return true
}

// connected reports whether the session has a live connection now.
func (s *Session) connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn != nil
}

// each calls f for every session on this shard (for drain and metrics).
func (h *hub) each(f func(*Session)) {
	h.mu.RLock()
	list := make([]*Session, 0, len(h.byUser))
	for _, s := range h.byUser {
		list = append(list, s)
	}
	h.mu.RUnlock()
	for _, s := range list {
		f(s)
	}
}

// expired appends the connections whose token expired before now.
func (h *hub) expired(now time.Time, out []writer) []writer {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, s := range h.byUser {
		s.mu.Lock()
		if s.conn != nil && !now.Before(s.cs.id.Expiry) {
			out = append(out, s.conn)
		}
		s.mu.Unlock()
	}
	return out
}

// count returns the number of sessions (connected or in grace).
func (h *hub) count() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.byUser)
}
