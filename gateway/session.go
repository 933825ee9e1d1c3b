package gateway

import (
	"encoding/binary"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lobbyd/lobbyd/cluster"
	"github.com/lobbyd/lobbyd/netcode"
	"github.com/lobbyd/lobbyd/protocol"
)

// writer is what a session needs of its connection; *netcode.Conn has it.
type writer interface {
	Write(msg []byte) error
	WriteParts(head, body []byte) error
	WriteHead(head [netcode.MaxHead]byte, n int, body []byte) error
	Close(code uint16, reason string)
}

// Session is one user's numbered event stream. It outlives its connection
// for the resume grace period and survives a resume onto a new connection.
//
// A connection joins its session in three steps (docs/architecture.md,
// "Opening a session"): a new session first holds its events back
// (holding) while the welcome's lobby snapshot is read; then the events
// the snapshot does not show are numbered and the connection catches up
// (welcome, then the ring after its last seq) with no lock held; last it
// turns live, and deliver writes each event as it is numbered.
type Session struct {
	id     string // immutable
	userID string // immutable

	mu sync.Mutex
	// Guarded by mu. Ordered to keep the struct in Go's 160-byte size
	// class: a shard holds one per player (docs/architecture.md, "Memory
	// per idle player").
	conn     writer       // nil while disconnected
	cs       *connState   // the connection's state; nil while disconnected
	side     *sessionSide // held events, delivery-record state; nil: none
	seq      uint64       // seq of the last event numbered for this session
	lobbyID  string       // lobby of the last lobby event numbered (numberLocked)
	lobbyVer uint64       // and its version
	ring     replayRing
	// resumeKey is the resume token's random bytes, raw (newResumeKey),
	// then, until the client confirms it has that token, the bytes of the
	// one its last resume spent (hub.attach). On a cluster shard, whose
	// directory checks tokens, it is the token itself while the directory
	// still honours the spent one, and "" once it does not
	// (confirmResumeLocked).
	resumeKey string
	live      bool // conn has its welcome and every event numbered so far
	holding   bool // the welcome's snapshot is being read: events go to held
	overrun   bool // more events came while holding than the ring bounds allow
	closed    bool // gone for good: no more events

	// Derived positions (cluster: docs/cluster.md, "Delivery records").
	// armed: since an entry of the session in the record of its lobby
	// (s.lobbyID) said so, it numbered only that lobby's logged events, in
	// log order; anything else it numbers ends that with an entry of its
	// own first (breakLocked). pure: such an entry is in Redis, so the
	// lobby's events need no entry of their own: their seqs derive from
	// it. arms counts the armings, so that an entry released late is not
	// taken for the current one.
	armed bool
	pure  bool
	arms  uint16
}

// sessionSide is what a Session needs only at times, out of it so that
// an idle session does not pay for it. On a cluster shard (delivery
// records) every session has one, for where it arrived; on one shard, only
// while it is disconnected (the grace timer) or something waits. The
// events it holds or whose frames wait are in a sessionWait made only
// while something waits: 48 bytes a player, not the 96 of one struct for
// all (docs/architecture.md, "Memory per idle player").
type sessionSide struct {
	grace *time.Timer // runs while disconnected; nil: none

	// Where the session went live on this shard (a new session's welcome,
	// an adopted one's catch-up): its seq then, and the lobby and offset of
	// that lobby's log that this covered. What it numbered before is in no
	// record of this shard (cluster.SessionDelivery).
	arrived      uint64
	arrivedAt    uint64
	arrivedLobby string

	wait *sessionWait // nil while nothing is held and no frame waits
}

// sessionWait is what a session holds back: the events a new session
// holds, unnumbered, while its welcome's snapshot is read, and, on a
// cluster shard, the frames that wait for their delivery record
// (cluster.RecordingSink).
type sessionWait struct {
	held      []*eventBuf
	heldBytes int

	// A lobby event's frame waits until the shard's delivery record of it
	// is in Redis: gated lists those seqs, in order; sent is the last seq
	// written to the connection. Events after a gated one wait in the ring
	// behind it. Without a sessionWait, a live connection has every event
	// numbered so far.
	gated []uint64
	sent  uint64
}

// sideLocked returns the session's sessionSide, made if absent. Caller
// holds s.mu.
func (s *Session) sideLocked() *sessionSide {
	if s.side == nil {
		s.side = new(sessionSide)
	}
	return s.side
}

// stopGraceLocked stops the grace timer of a disconnected session, if it
// runs, and lets the side go if nothing else is in it (tidyLocked): a
// resumed session on one shard keeps no side for the timer it no longer
// has. Caller holds s.mu.
func (s *Session) stopGraceLocked(h *hub) {
	if sd := s.side; sd != nil && sd.grace != nil {
		sd.grace.Stop()
		sd.grace = nil
		s.tidyLocked(h)
	}
}

// waitLocked returns the session's sessionWait, made if absent (sent: the
// last seq written, when it is made). Caller holds s.mu.
func (s *Session) waitLocked(sent uint64) *sessionWait {
	s.sideLocked()
	if s.side.wait == nil {
		s.side.wait = &sessionWait{sent: sent}
	}
	return s.side.wait
}

// tidyLocked lets go of what waits once nothing does: nothing held, no
// frame gated, and a live connection has every event numbered (what a
// sessionWait's absence says). On a shard without delivery records the
// side goes too, unless a grace timer runs. Caller holds s.mu.
func (s *Session) tidyLocked(h *hub) {
	sd := s.side
	if sd == nil {
		return
	}
	if w := sd.wait; w != nil {
		if len(w.held) > 0 || s.holding || len(w.gated) > 0 || (s.live && w.sent != s.seq) {
			return
		}
		sd.wait = nil
	}
	if !h.records && sd.grace == nil {
		s.side = nil // nothing else in it on one shard
	}
}

// deliver numbers one event for this session, keeps it for replay and
// writes it to the connection if it is live. The connection copies the
// bytes, so ev is not held past the call except by the ring's (or held's)
// reference.
func (s *Session) deliver(h *hub, ev *eventBuf) {
	s.mu.Lock()
	s.deliverLocked(h, ev)
	s.mu.Unlock()
}

// deliverLocked is deliver with s.mu held.
func (s *Session) deliverLocked(h *hub, ev *eventBuf) {
	switch {
	case s.closed:
	case s.holding:
		s.holdLocked(h, ev)
	default:
		s.numberLocked(h, ev)
	}
}

// numbering is how numberAsLocked writes the event it numbers.
type numbering uint8

const (
	// numberNow: written at once, after whatever numbered before waits.
	numberNow numbering = iota
	// numberGated: its frame waits until releaseLocked (the delivery
	// record of its lobby message is in Redis).
	numberGated
	// numberDerived: a logged event of the lobby a pure session's
	// positions derive from, delivered in log order by the lobby's
	// follower: no record, written at once.
	numberDerived
)

// numberLocked gives ev the session's next seq, keeps it for replay and
// writes it if the connection is live. An event of the lobby whose last
// event the session numbered, with a version no newer than that one, is
// dropped: in a cluster a session moving between shards may be offered one
// event twice (handed over, and read again from the lobby's log), and the
// stream must not repeat it. A store's versions only grow per lobby, so on
// one shard nothing is ever dropped. Caller holds s.mu.
func (s *Session) numberLocked(h *hub, ev *eventBuf) { s.numberAsLocked(h, ev, numberNow) }

// numberAsLocked is numberLocked for an event written as how says. It
// returns the seq given, 0 when the event was dropped as numbered before.
// An event is written only when nothing numbered before it waits. An
// armed session that numbers anything but its lobby's logged events (or
// drops one) breaks: the frame waits for the entry that says its
// positions no longer derive.
func (s *Session) numberAsLocked(h *hub, ev *eventBuf, how numbering) uint64 {
	armedIn, lastOff := s.lobbyID, s.lobbyVer>>32
	if ev.version != 0 && ev.lobbyID != "" {
		if ev.lobbyID == s.lobbyID && ev.version <= s.lobbyVer {
			if s.armed {
				// Not numbered here, yet the log has it for the session:
				// what it numbered no longer derives from the log.
				s.breakLocked(h, armedIn, lastOff, false)
			}
			return 0
		}
		s.lobbyID, s.lobbyVer = ev.lobbyID, ev.version
	}
	s.seq++
	s.ring.push(&h.pool, s.seq, ev, h.ringEntries, h.ringBytes)
	var w *sessionWait
	if s.side != nil {
		w = s.side.wait
	}
	if how == numberGated {
		if w == nil { // nothing waits: a live connection has all before
			w = s.waitLocked(s.seq - 1)
		}
		w.gated = append(w.gated, s.seq)
	}
	if s.armed && (how == numberNow || ev.lobbyID != armedIn) {
		s.breakLocked(h, armedIn, lastOff, true)
		if s.side != nil {
			w = s.side.wait
		}
	}
	if s.live && (w == nil || len(w.gated) == 0) {
		writeEvent(s.conn, s.seq, ev)
		if w != nil {
			w.sent = s.seq
		}
	}
	if ev.home != 0 { // after the write: the connection is in the cache
		moveTo(s.conn, int(ev.home)-1)
	}
	return s.seq
}

// breakLocked ends the session's derived positions in lobbyID, whose
// last event it numbered is at offset last: an entry of its own in the
// lobby's record (cluster.LobbyStore.RecordBreak) gives its seq now, and
// no derivation. Until that entry is in Redis a client could be placed
// by the entry before it, counting events of the log that the session
// did not number as they are there; so what follows waits for it: the
// event that broke them (numbered: the last seq), or else the next one.
// Caller holds s.mu.
func (s *Session) breakLocked(h *hub, lobbyID string, last uint64, numbered bool) {
	s.armed, s.pure = false, false
	if h.recordBreak == nil {
		return
	}
	d := &cluster.Delivery{Lobby: lobbyID, Last: last}
	p := d.Session(s.userID, s.id)
	s.positionLocked(p, lobbyID)
	held, sent := s.seq+1, s.seq
	if numbered {
		held, sent = s.seq, s.seq-1
	}
	w := s.waitLocked(sent)
	w.gated = append(w.gated, held)
	p.Held = append(p.Held, held)
	if !h.recordBreak(d) {
		w.gated = w.gated[:len(w.gated)-1] // nothing records it: nothing waits
	}
}

// writable is the last seq the connection may have now: every event up
// to it is numbered and none waits for its record. Caller holds s.mu.
func (s *Session) writable() uint64 {
	if r := s.side; r != nil && r.wait != nil && len(r.wait.gated) > 0 {
		return r.wait.gated[0] - 1
	}
	return s.seq
}

// writtenLocked is the seq of the last event written to the live
// connection (false: it is not live, so nothing it answers acknowledges
// anything). Caller holds s.mu.
func (s *Session) writtenLocked() (uint64, bool) {
	if !s.live {
		return 0, false
	}
	if r := s.side; r != nil && r.wait != nil {
		return r.wait.sent, true
	}
	return s.seq, true // without a sessionWait, a live connection has them all
}

// ackedLocked drops from the ring the events up to mark, which the client
// has read: it answered a ping queued after them (netcode.Acker). They
// could only be replayed to a client resuming from before them, which a
// client that read them never does (docs/protocol.md, "Resume"). The mark
// is the client's word, so it is bounded by what was written: an event
// still waiting for its delivery record is never dropped. Caller holds
// s.mu.
func (s *Session) ackedLocked(h *hub, mark uint64) {
	written, ok := s.writtenLocked()
	if !ok {
		return
	}
	s.ring.dropThrough(&h.pool, min(mark, written))
}

// confirmResumeLocked forgets the token the session's last resume spent:
// its client has read the welcome that carried the new one, since it
// answered a ping written after it (OnAck). Until then a resume with the
// spent token is honoured, so that a connection cut between the resume
// and its welcome's arrival costs the session nothing (docs/protocol.md,
// "Resume"). On a cluster shard it returns the current token, for the
// directory to forget the spent one (cluster.Sessions.Confirm); "" when
// nothing is owed. Caller holds s.mu.
func (s *Session) confirmResumeLocked(cluster bool) (token string) {
	switch {
	case cluster:
		token, s.resumeKey = s.resumeKey, ""
	case len(s.resumeKey) > resumeKeyLen:
		s.resumeKey = strings.Clone(s.resumeKey[:resumeKeyLen])
	}
	return token
}

// wentLive records that the connection has every event up to sent.
// Caller holds s.mu.
func (s *Session) wentLive(h *hub, sent uint64) {
	s.live = true
	if s.side != nil && s.side.wait != nil {
		s.side.wait.sent = sent
		s.tidyLocked(h)
	}
}

// ungate ends one wait of seq: a seq can wait twice (its lobby message's
// record and a break's), and is written once neither is pending.
func (r *sessionWait) ungate(seq uint64) {
	if j := slices.Index(r.gated, seq); j >= 0 {
		r.gated = slices.Delete(r.gated, j, j+1)
	}
}

// releaseLocked ends the wait of the gated seqs given (pairs offset, seq:
// cluster.SessionDelivery.Events; held: its Held) and writes what no
// longer waits. It
// returns the connection to close (closeGap) when the ring lost an event
// not yet written while it waited (the stream would have a gap). Caller
// holds s.mu.
func (s *Session) releaseLocked(h *hub, pairs, held []uint64) writer {
	if s.side == nil || s.side.wait == nil {
		return nil
	}
	r := s.side.wait
	for i := 1; i < len(pairs); i += 2 {
		r.ungate(pairs[i])
	}
	for _, seq := range held {
		r.ungate(seq)
	}
	limit := s.writable()
	if !s.live || limit <= r.sent {
		s.tidyLocked(h)
		return nil
	}
	if s.ring.n == 0 || s.ring.oldest() > r.sent+1 {
		s.live = false
		h.gapLocked(s, "the ring lost events that waited for their delivery record", r.sent)
		return s.conn
	}
	s.ring.each(r.sent, func(seq uint64, ev *eventBuf) {
		if seq <= limit {
			writeEvent(s.conn, seq, ev)
		}
	})
	r.sent = limit
	s.tidyLocked(h)
	return nil
}

// arriveLocked records, on a shard that keeps delivery records, that the
// session goes live here (sn: the welcome's snapshot, empty for an adopted
// session). Caller holds s.mu.
func (s *Session) arriveLocked(h *hub, sn snapshot) {
	if !h.records {
		return
	}
	s.armed, s.pure = false, false // a new stay: its entries start anew
	r := s.sideLocked()
	r.arrived, r.arrivedLobby, r.arrivedAt = s.seq, s.lobbyID, s.lobbyVer>>32
	switch {
	case sn.lobbyID == "":
	case sn.lobbyID != s.lobbyID:
		r.arrivedLobby, r.arrivedAt = sn.lobbyID, sn.version>>32
	default:
		r.arrivedAt = max(r.arrivedAt, sn.version>>32)
	}
}

// writeEvent writes ev stamped with seq: a copy of its first bytes with
// the seq in, then the rest of ev (the connection copies both parts). The
// stamped head goes by value (WriteHead), so it stays on the stack and a
// session needs no scratch for it (docs/architecture.md, "Memory per idle
// player"). A write to a closed connection is not an error here: the ring
// has the event.
func writeEvent(conn writer, seq uint64, ev *eventBuf) {
	var head [netcode.MaxHead]byte
	copy(head[:protocol.EventHeadLen], ev.b[:protocol.EventHeadLen])
	binary.BigEndian.PutUint64(head[protocol.EventSeqOffset:], seq)
	_ = conn.WriteHead(head, protocol.EventHeadLen, ev.b[protocol.EventHeadLen:])
}

// An event's head fits a WriteHead head (a negative length fails to build).
var _ [netcode.MaxHead - protocol.EventHeadLen]byte

// holdLocked keeps ev, unnumbered, until the welcome's snapshot is known.
// Held events are bounded like the ring; past the bound the connection
// cannot be given a gap-free stream and is closed when it would go live.
func (s *Session) holdLocked(h *hub, ev *eventBuf) {
	sd := s.waitLocked(s.seq)
	if s.overrun || len(sd.held) >= h.ringEntries || sd.heldBytes+len(ev.b) > h.ringBytes {
		s.overrun = true
		return
	}
	ev.retain()
	sd.held = append(sd.held, ev)
	sd.heldBytes += len(ev.b)
}

// snapshot is what a welcome shows of the user's lobby.
type snapshot struct {
	lobbyID string // "" when the user is in no lobby
	version uint64 // protocol.LobbyView.Version
}

// shows reports whether the snapshot already shows what ev says. An event
// without a version (a store that does not number its events) is never
// taken as shown: repeating it is better than losing it.
func (sn snapshot) shows(ev *eventBuf) bool {
	return ev.inView && ev.version != 0 && sn.lobbyID != "" && ev.lobbyID == sn.lobbyID && ev.version <= sn.version
}

// stopHoldingLocked numbers the held events that sn does not show, into
// the ring, drops the others, and ends holding. Caller holds s.mu.
func (s *Session) stopHoldingLocked(h *hub, sn snapshot) {
	s.holding = false
	if s.side == nil || s.side.wait == nil {
		return
	}
	sd := s.side.wait
	held := sd.held
	sd.held, sd.heldBytes = nil, 0
	for _, ev := range held {
		if !s.overrun && !sn.shows(ev) {
			s.numberLocked(h, ev)
		}
		h.pool.release(ev)
	}
	s.tidyLocked(h)
}

// canReplayFrom reports whether every event after lastSeq is still held.
// Caller holds s.mu.
func (s *Session) canReplayFrom(lastSeq uint64) bool {
	if lastSeq > s.seq {
		return false // the client claims events we never sent
	}
	if lastSeq == s.seq {
		return true
	}
	return s.ring.n > 0 && s.ring.oldest() <= lastSeq+1
}

// connected reports whether the session has a connection now.
func (s *Session) connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn != nil
}

// writeIfLive writes a connection event (seq 0) if the session's
// connection is live, and returns the connection (nil while disconnected).
// A connection still catching up gets nothing: its welcome must come first.
func (s *Session) writeIfLive(msg []byte) writer {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live {
		_ = s.conn.Write(msg)
	}
	return s.conn
}
