package gateway

import (
	"slices"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/lobbyd/lobbyd/cluster"
)

// The hub's part in a cluster: sessions whose ids and resume tokens the
// cluster's directory hands out (cluster.Sessions), a session retired here
// because its user went on elsewhere, and a session handed from one shard
// to another with its replay ring. docs/cluster.md, "Sessions".

// attachNew registers conn with a new session whose id and resume token
// the directory has recorded, replacing the user's session on this shard if
// any. The new session holds its events until welcome, as attach's does.
func (h *hub) attachNew(cs *connState, conn writer, sessionID, token string) attachResult {
	s := &Session{id: sessionID, userID: cs.id.UserID,
		conn: conn, cs: cs, holding: true}
	return h.install(s, token)
}

// attachResumed continues the user's session sessionID on this shard with
// conn, under its new resume token, if it is here and still holds every
// event after the client's last seq; false otherwise (the caller starts a
// new session).
func (h *hub) attachResumed(cs *connState, conn writer, sessionID, token string) (attachResult, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.byUser[cs.id.UserID]
	if s == nil || s.id != sessionID {
		return attachResult{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.holding || !s.canReplayFrom(cs.lastSeq()) {
		return attachResult{}, false
	}
	res := attachResult{session: s, resumed: true, replaced: s.conn, token: token}
	s.resumeKey = token // the directory honours the spent one until confirmed
	s.stopGraceLocked(h)
	s.conn, s.cs, s.live = conn, cs, false
	return res, true
}

// adopt continues on this shard a session handed over by another (its
// ring, as handOver encoded it). The session holds new events until
// catchUp has numbered what the old shard could not hand over. false: the
// ring does not reach back to the client's last seq (or does not decode);
// the caller starts a new session.
func (h *hub) adopt(cs *connState, conn writer, sessionID, token string, ring []byte) (attachResult, bool) {
	var hr handedRing
	if err := msgpack.Unmarshal(ring, &hr); err != nil {
		return attachResult{}, false
	}
	s := &Session{id: sessionID, userID: cs.id.UserID,
		conn: conn, cs: cs, holding: true, seq: hr.Seq, lobbyID: hr.Lobby, lobbyVer: hr.Version}
	for _, e := range hr.Entries {
		ev := h.pool.copyOf(e.B) // replay: held, maybe long
		ev.lobbyID, ev.version, ev.inView = e.Lobby, e.Version, e.InView
		h.pool.publish(ev) // replay held here counts toward the budget like any other
		s.ring.push(&h.pool, e.Seq, ev, h.ringEntries, h.ringBytes)
		h.pool.release(ev)
	}
	if !s.canReplayFrom(cs.lastSeq()) {
		s.ring.reset(&h.pool)
		return attachResult{}, false
	}
	s.resumeKey = token // the directory honours the spent one until confirmed
	res := h.install(s, token)
	res.resumed = true
	return res, true
}

// adoptAt continues on this shard a session whose ring is lost (its shard
// died) from the client's last seq: it numbers from there, and catchUp
// numbers the events of lobbyID after version, the point the dead shard's
// delivery record gave for that seq. The session holds new events until
// then.
func (h *hub) adoptAt(cs *connState, conn writer, sessionID, token, lobbyID string, version uint64) attachResult {
	s := &Session{id: sessionID, userID: cs.id.UserID,
		conn: conn, cs: cs, holding: true, seq: cs.lastSeq(), lobbyID: lobbyID, lobbyVer: version,
		resumeKey: token} // the directory honours the spent one until confirmed
	res := h.install(s, token)
	res.resumed = true
	return res
}

// install makes s the user's session on this shard, retiring the one it
// replaces (its connection is returned to be closed with 4009). token is
// its resume token, for the welcome: a cluster's session does not keep it
// (the directory has its hash and checks it).
func (h *hub) install(s *Session, token string) attachResult {
	res := attachResult{session: s, token: token}
	h.mu.Lock()
	defer h.mu.Unlock()
	if old := h.byUser[s.userID]; old != nil {
		old.mu.Lock()
		res.replaced = old.conn
		h.endLocked(old)
		old.mu.Unlock()
	}
	h.byUser[s.userID] = s
	return res
}

// retire ends the user's session sessionID on this shard without it
// leaving its lobby (the user goes on in a session elsewhere) and returns
// its connection, to be closed with 4009, and, when ring is true, its
// replay ring encoded for another shard. ok is false when this shard does
// not have that session.
func (h *hub) retire(userID, sessionID string, ring bool) (conn writer, enc []byte, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.byUser[userID]
	if s == nil || s.id != sessionID {
		return nil, nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	conn = s.conn
	if ring {
		if s.holding {
			s.stopHoldingLocked(h, snapshot{})
		}
		hr := handedRing{Seq: s.seq, Lobby: s.lobbyID, Version: s.lobbyVer}
		s.ring.each(0, func(seq uint64, ev *eventBuf) {
			hr.Entries = append(hr.Entries, handedEvent{Seq: seq, Lobby: ev.lobbyID, Version: ev.version, InView: ev.inView, B: ev.b})
		})
		enc, _ = msgpack.Marshal(&hr) // plain types: cannot fail
	}
	h.endLocked(s)
	return conn, enc, true
}

// handedRing is a session's replay ring on its way to another shard.
type handedRing struct {
	Seq     uint64        `msgpack:"s"` // the session's last seq
	Lobby   string        `msgpack:"l"` // lobby of the last lobby event numbered
	Version uint64        `msgpack:"v"` // its version
	Entries []handedEvent `msgpack:"e"`
}

type handedEvent struct {
	Seq     uint64 `msgpack:"s"`
	Lobby   string `msgpack:"l,omitempty"`
	Version uint64 `msgpack:"v,omitempty"`
	InView  bool   `msgpack:"i,omitempty"`
	B       []byte `msgpack:"b"`
}

// catchUp numbers, for an adopted session still holding, events the old
// shard could not hand over (read from the lobby's log), then the events
// held meanwhile, each only if it is newer than the last event of its lobby
// already numbered: none twice, none out of order.
func (h *hub) catchUp(s *Session, missed []*eventBuf) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range missed {
		if !s.closed {
			s.numberLocked(h, ev)
		}
	}
	if s.holding {
		s.stopHoldingLocked(h, snapshot{}) // numberLocked drops what missed had
	}
	s.arriveLocked(h, snapshot{})
}

// absent returns the users of to with no session on this shard.
func (h *hub) absent(to []string) []string {
	var out []string
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, uid := range to {
		if h.byUser[uid] == nil {
			out = append(out, uid)
		}
	}
	return out
}

// fanOutRecorded is fanOut for a lobby event of a cluster whose frames
// wait for the shard's delivery record (lobbySink.DeliverRecorded): each
// session that numbers it is added to d with its seq, and its frame waits
// for release.
func (h *hub) fanOutRecorded(to []string, ev *eventBuf, d *cluster.Delivery) (sessions int) {
	h.pool.publish(ev)
	if b := h.pool.budget; b != nil && b.Used() > b.High() && h.shed != nil {
		h.shed()
	}
	off := ev.version >> 32
	h.mu.RLock()
	for _, uid := range to {
		s := h.byUser[uid]
		if s == nil {
			continue
		}
		sessions++
		s.mu.Lock()
		switch {
		case s.closed:
		case s.holding:
			s.holdLocked(h, ev) // numbered at the arrival, which no record covers
		case s.pure && ev.lobbyID == s.lobbyID:
			// Its seq derives from the session's last entry: no entry
			// of its own, and its frame goes at once.
			s.numberAsLocked(h, ev, numberDerived)
		default:
			if seq := s.numberAsLocked(h, ev, numberGated); seq != 0 {
				p := d.Session(uid, s.id)
				p.Events = append(p.Events, off, seq)
				s.positionLocked(p, d.Lobby)
			}
		}
		s.mu.Unlock()
	}
	h.mu.RUnlock()
	h.pool.release(ev)
	return sessions
}

// positions completes d (lobbySink.Positions): the seq after the message
// of each session in it, and an entry for each user of users whose
// session here numbers events now (one still holding its events for its
// welcome is left out: what it numbers at its arrival no record covers;
// and so is one whose positions in the lobby derive from an entry in
// Redis: it needs none, unless d refreshes them, so that the log still
// holds where they start). Each entry says whether the session's
// positions derive from it (armLocked).
func (h *hub) positions(d *cluster.Delivery, users []string) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for i := range d.Sessions {
		p := &d.Sessions[i]
		if s := h.byUser[p.User]; s != nil && s.id == p.ID {
			s.mu.Lock()
			s.positionLocked(p, d.Lobby)
			s.armLocked(p, d)
			s.mu.Unlock()
		}
	}
	for _, uid := range users {
		s := h.byUser[uid]
		if s == nil || slices.ContainsFunc(d.Sessions, func(p cluster.SessionDelivery) bool { return p.User == uid }) {
			continue
		}
		s.mu.Lock()
		if !s.closed && !s.holding && (d.Refresh || !(s.pure && s.lobbyID == d.Lobby)) {
			p := d.Session(uid, s.id)
			s.positionLocked(p, d.Lobby)
			s.armLocked(p, d)
		}
		s.mu.Unlock()
	}
}

// armLocked decides, for the session's entry p in the record of d, whether
// its positions derive from p on (p.Derive): they start to when the lobby
// is split (a same-shard lobby's relay is not in its log, and every send
// would end them), the lobby is the one of the session's last lobby
// event, and the session numbered nothing of it beyond this message; then
// the session is armed until something breaks it (numberAsLocked). Caller
// holds s.mu.
func (s *Session) armLocked(p *cluster.SessionDelivery, d *cluster.Delivery) {
	if s.lobbyID != d.Lobby {
		p.Derive = false
		return
	}
	if !s.armed && d.Split && s.lobbyVer>>32 <= d.Last {
		s.armed = true
		s.arms++
	}
	p.Derive, p.Arm = s.armed, s.arms
}

// positionLocked fills in p the session's seq now and its arrival.
// Caller holds s.mu.
func (s *Session) positionLocked(p *cluster.SessionDelivery, lobbyID string) {
	p.After, p.Arrived, p.ArrivedIn, p.ArrivedAt = s.seq, 0, false, 0
	if r := s.side; r != nil {
		p.Arrived = r.arrived
		if r.arrivedLobby == lobbyID {
			p.ArrivedIn, p.ArrivedAt = true, r.arrivedAt
		}
	}
}

// release lets the frames held for d go (lobbySink.Release). A session
// still armed since its entry here said its positions derive becomes pure:
// that entry is in Redis, so its next events of the lobby need none.
func (h *hub) release(d *cluster.Delivery) {
	for i := range d.Sessions {
		p := &d.Sessions[i]
		if len(p.Events) == 0 && len(p.Held) == 0 && !p.Derive {
			continue
		}
		s := h.lookup(p.User)
		if s == nil || s.id != p.ID {
			continue // ended, replaced or handed over (with its ring)
		}
		s.mu.Lock()
		conn := s.releaseLocked(h, p.Events, p.Held)
		if p.Derive && s.armed && s.arms == p.Arm && s.lobbyID == d.Lobby {
			s.pure = true
		}
		s.mu.Unlock()
		if conn != nil {
			closeGap(conn)
		}
	}
}
