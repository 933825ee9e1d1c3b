package gateway

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lobbyd/lobbyd/cluster"
	"github.com/lobbyd/lobbyd/netcode"
)

// hub is the shard's registry of sessions, by user (a user has at most one).
// A resume token is single-use (the token a resume spent is honoured
// until the client confirms the new one: Session.confirmResumeLocked) and
// names the user's session: the connection's user id finds the session
// and the token is compared with it, so no map by token is kept (a second
// map cost about 40 bytes per player; docs/architecture.md, "Memory per
// idle player"). Its lock guards
// the map and nothing else: it is never held while anything is written to
// a connection, so a resume replaying a full ring cannot hold up the
// fan-out of other lobbies.
type hub struct {
	pool        eventPool
	ringEntries int    // replay ring bound: events
	ringBytes   int    // replay ring bound: bytes
	shed        func() // runs the shedding rule (shed.go); nil: none
	// records: the shard keeps delivery records (a cluster): sessions
	// note where they arrived (Session.arriveLocked). Set before serving.
	records bool
	// recordBreak queues a session's entry that ends its derived
	// positions (cluster.LobbyStore.RecordBreak); false: none is kept.
	// nil: the shard keeps no records. Set before serving.
	recordBreak func(*cluster.Delivery) bool
	place       *placer // lobbies' loops (place.go); nil: one loop, nothing to place
	// gapClose logs a connection closed 1011 "event backlog" (the stream
	// would have had a gap): where, and the session's numbers then. nil:
	// nothing logged. Set before serving.
	gapClose func(s *Session, why string, sent uint64)

	mu sync.RWMutex
	// Guarded by mu.
	byUser map[string]*Session
}

func newHub(ringEntries, ringBytes int) *hub {
	return &hub{
		ringEntries: ringEntries,
		ringBytes:   ringBytes,
		byUser:      make(map[string]*Session),
	}
}

// lookup returns the user's session on this shard, or nil.
func (h *hub) lookup(userID string) *Session {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.byUser[userID]
}

// fanOut delivers one encoded event to each user's session on this shard.
// It takes the deliverer's reference of ev and releases it.
func (h *hub) fanOut(to []string, ev *eventBuf) (sessions int) {
	h.pool.publish(ev)
	if b := h.pool.budget; b != nil && b.Used() > b.High() && h.shed != nil {
		// Before the event adds to any queue: replay (and, failing that,
		// the slowest consumers) makes room now, not when the shedder's
		// goroutine gets to run (docs/locks.md, gateway.Gateway.shedMu).
		h.shed()
	}
	h.mu.RLock()
	for _, uid := range to {
		if s := h.byUser[uid]; s != nil {
			s.deliver(h, ev)
			sessions++
		}
	}
	h.mu.RUnlock()
	h.pool.release(ev)
	return sessions
}

// fanOutTogether delivers several events, evs[i] to the users of to[i],
// so that no recipient can be given anything else between them: it holds
// every recipient's session lock (in user id order, so two such calls
// cannot deadlock) until all are numbered. A match's mm.matched, one per
// ticket, goes this way: the first player told must not be able to chat in
// the match lobby before its partners are told they are in it
// (matchmaking.MatchSink). It returns each event's recipient count.
func (h *hub) fanOutTogether(to [][]string, evs []*eventBuf) []int {
	for _, ev := range evs {
		h.pool.publish(ev)
	}
	counts := make([]int, len(evs))
	h.mu.RLock()
	var ss []*Session
	for _, users := range to {
		for _, uid := range users {
			if s := h.byUser[uid]; s != nil {
				ss = append(ss, s)
			}
		}
	}
	slices.SortFunc(ss, func(a, b *Session) int { return strings.Compare(a.userID, b.userID) })
	ss = slices.Compact(ss)
	for _, s := range ss {
		s.mu.Lock()
	}
	for i, users := range to {
		for _, uid := range users {
			if s := h.byUser[uid]; s != nil {
				s.deliverLocked(h, evs[i])
				counts[i]++
			}
		}
	}
	for _, s := range ss {
		s.mu.Unlock()
	}
	h.mu.RUnlock()
	for _, ev := range evs {
		h.pool.release(ev)
	}
	return counts
}

// gapLocked notes that s's connection is to be closed with 1011 "event
// backlog" (closeGap, once s.mu is let go): what it must be sent next is
// no longer in the ring (sent: the last seq it has), so its stream would
// have had a gap. The client resumes, or starts over from a welcome.
// Caller holds s.mu.
func (h *hub) gapLocked(s *Session, why string, sent uint64) {
	if h.gapClose != nil {
		h.gapClose(s, why, sent)
	}
}

// closeGap closes a connection whose stream would have had a gap
// (gapLocked). Not under the session's lock: closing may run OnClose.
func closeGap(conn writer) { conn.Close(netcode.CloseInternalError, "event backlog") }

// attachResult says what attach did.
type attachResult struct {
	session  *Session
	resumed  bool
	token    string         // the session's new resume token, for the welcome
	replaced writer         // the user's previous connection, to close with 4009
	refused  *refusedResume // a resume asked for and not honoured; nil: none
}

// attach registers a new connection with a session: the one its resume
// token names when that can be honoured, else a new one that replaces the
// user's old session and holds its events until welcome is called. It
// writes nothing.
func (h *hub) attach(cs *connState, conn writer) attachResult {
	uid := cs.id.UserID
	h.mu.Lock()
	defer h.mu.Unlock()

	old := h.byUser[uid]
	if old != nil && cs.resumeToken() != "" {
		old.mu.Lock()
		spent, token := matchResumeKey(old.resumeKey, cs.resumeToken())
		if token && !old.closed && !old.holding && old.canReplayFrom(cs.lastSeq()) {
			res := attachResult{session: old, resumed: true, replaced: old.conn}
			var next string
			next, res.token = newResumeKey()
			// The spent token stays good until the client shows it has
			// the new one (confirmResumeLocked): a cut before the welcome
			// arrives would otherwise cost the session.
			old.resumeKey = next + spent
			old.stopGraceLocked(h)
			old.conn, old.cs, old.live = conn, cs, false
			h.moveToLobbyLocked(old, old.lobbyID) // the lobby of its last event
			old.mu.Unlock()
			return res
		}
		res := attachResult{refused: &refusedResume{token: token, closed: old.closed, holding: old.holding,
			lastSeq: cs.lastSeq(), seq: old.seq, oldest: old.ring.oldest(), kept: int(old.ring.n)}}
		old.mu.Unlock()
		return h.attachNewLocked(cs, conn, old, res)
	}
	return h.attachNewLocked(cs, conn, old, attachResult{})
}

// refusedResume is why a resume with a token was not honoured, for the
// log line the caller writes (what a resumed: false in a test or in the
// field is traced back by).
type refusedResume struct {
	token, closed, holding bool
	lastSeq, seq, oldest   uint64
	kept                   int
}

// attachNewLocked starts a new session for the connection, ending old
// (the user's session until now, or nil). Caller holds h.mu.
func (h *hub) attachNewLocked(cs *connState, conn writer, old *Session, res attachResult) attachResult {
	uid := cs.id.UserID
	s := &Session{id: randomID(16), userID: uid, conn: conn, cs: cs, holding: true}
	res.session = s
	s.resumeKey, res.token = newResumeKey()
	if old != nil {
		old.mu.Lock()
		res.replaced = old.conn
		h.endLocked(old)
		old.mu.Unlock()
	}
	h.byUser[uid] = s
	return res
}

// matchResumeKey reports whether the client's resume token is one the
// session honours, in time that does not depend on where they differ, and
// returns that token's key. A session's resumeKey is its current token's
// key, followed, until the client confirms it has the current one, by the
// key of the token its last resume spent (hub.attach).
func matchResumeKey(keys, client string) (key string, ok bool) {
	var b [resumeKeyLen]byte
	if len(client) != hex.EncodedLen(len(b)) {
		return "", false
	}
	if _, err := hex.Decode(b[:], []byte(client)); err != nil {
		return "", false
	}
	for len(keys) >= resumeKeyLen {
		if subtle.ConstantTimeCompare([]byte(keys[:resumeKeyLen]), b[:]) == 1 {
			return keys[:resumeKeyLen], true
		}
		keys = keys[resumeKeyLen:]
	}
	return "", false
}

// resumeKeyLen is the random bytes of a resume token (48 hex characters).
const resumeKeyLen = 24

// newResumeKey makes a session's resume token: the bytes the session keeps
// (key) and the token the welcome gives, their hex. The session keeps them
// raw: 24 bytes a player, not 48 (docs/architecture.md, "Memory per idle
// player").
func newResumeKey() (key, token string) {
	var b [resumeKeyLen]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return string(b[:]), hex.EncodeToString(b[:])
}

// maxCatchUpRounds bounds the rounds of welcome's lock-free catch-up; the
// last round writes under the session's lock, so events arriving faster
// than they are written cannot keep a connection catching up for ever.
const maxCatchUpRounds = 8

// welcome turns cs's connection live on s after attach: it numbers the
// events s held (a new session) that sn does not show, writes msg, then
// every event after the client's last seq (after), and only then lets
// deliver write to the connection. The writing is done holding no lock;
// meanwhile new events are numbered into the ring and written here. It
// does nothing if cs has already been replaced or closed, and closes the
// connection (1011) if events arrived faster than the ring could keep
// them, since the stream would have a gap.
func (h *hub) welcome(s *Session, cs *connState, msg []byte, sn snapshot, after uint64) {
	s.mu.Lock()
	if s.cs != cs || s.closed {
		s.mu.Unlock()
		return
	}
	conn := s.conn
	if s.holding {
		s.stopHoldingLocked(h, sn)
		s.arriveLocked(h, sn)
	}
	// Checked before the welcome is written, which must not say resumed
	// when what follows last_seq is gone: more events came since attach,
	// or an adopted session's catch-up numbered more, than the ring keeps.
	// The client's next resume then gets resumed: false.
	why := ""
	switch {
	case s.overrun:
		s.overrun = false
		why = "held events overran while the welcome's snapshot was read"
	case !s.canReplayFrom(after):
		why = "the ring no longer holds what follows last_seq"
	}
	if why != "" {
		h.gapLocked(s, why, after)
		s.mu.Unlock()
		closeGap(conn)
		return
	}
	s.mu.Unlock()

	_ = conn.Write(msg)
	var batch []ringEntry
	for round := 1; ; round++ {
		s.mu.Lock()
		switch {
		case s.cs != cs || s.closed:
			s.mu.Unlock()
			return
		case !s.canReplayFrom(after):
			h.gapLocked(s, "the ring lost events of the welcome's catch-up", after)
			s.mu.Unlock()
			closeGap(conn)
			return
		}
		// Events waiting for their delivery record are written when it
		// is in (Session.releaseLocked), not here.
		limit := s.writable()
		if limit <= after || round == maxCatchUpRounds {
			s.ring.each(after, func(seq uint64, ev *eventBuf) {
				if seq <= limit {
					writeEvent(conn, seq, ev)
				}
			})
			s.wentLive(h, max(after, limit))
			s.mu.Unlock()
			return
		}
		batch = s.ring.appendAfter(after, limit, batch[:0])
		s.mu.Unlock()
		for i, e := range batch {
			writeEvent(conn, e.seq, e.ev)
			h.pool.release(e.ev)
			batch[i] = ringEntry{}
			after = e.seq
		}
	}
}

// endLocked retires a session for good. Caller holds h.mu and s.mu.
func (h *hub) endLocked(s *Session) {
	s.closed = true
	s.conn, s.cs, s.live = nil, nil, false
	s.stopGraceLocked(h)
	if s.holding {
		s.stopHoldingLocked(h, snapshot{})
	}
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
	if s.holding { // closed before its welcome: nothing to compare held events with
		s.stopHoldingLocked(h, snapshot{})
	}
	s.conn, s.cs, s.live, s.overrun = nil, nil, false, false
	s.sideLocked().grace = time.AfterFunc(grace, func() { expire(s) })
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
		if s.conn != nil && s.cs.id.expiredAt(now) {
			out = append(out, s.conn)
		}
		s.mu.Unlock()
	}
	return out
}

// countByState counts the sessions with a connection and those waiting
// for a resume (for metrics: one scrape, not the hot path).
func (h *hub) countByState() (connected, resumable int) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, s := range h.byUser {
		s.mu.Lock()
		switch {
		case s.closed:
		case s.conn != nil:
			connected++
		default:
			resumable++
		}
		s.mu.Unlock()
	}
	return connected, resumable
}

// count returns the number of sessions (connected or in grace).
func (h *hub) count() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.byUser)
}
