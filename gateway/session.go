package gateway

import (
	"encoding/binary"
	"sync"
	"time"

	"github.com/lobbyd/lobbyd/protocol"
)

// writer is what a session needs of its connection; *netcode.Conn has it.
type writer interface {
	Write(msg []byte) error
	WriteParts(head, body []byte) error
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
	name   string // immutable (the display name of the token that opened it)

	mu sync.Mutex
	// Guarded by mu. Ordered to keep the struct in Go's 208-byte size
	// class: a shard holds one per player (docs/architecture.md, "Memory
	// per idle player").
	conn        writer      // nil while disconnected
	cs          *connState  // the connection's state; nil while disconnected
	held        *heldEvents // events that came while holding; nil: none
	seq         uint64      // seq of the last event numbered for this session
	lobbyID     string      // lobby of the last lobby event numbered (numberLocked)
	lobbyVer    uint64      // and its version
	ring        replayRing
	resumeToken string
	grace       *time.Timer                 // runs while disconnected
	live        bool                        // conn has its welcome and every event numbered so far
	holding     bool                        // the welcome's snapshot is being read: events go to held
	overrun     bool                        // more events came while holding than the ring bounds allow
	closed      bool                        // gone for good: no more events
	head        [protocol.EventHeadLen]byte // scratch for writeEvent
}

// heldEvents are the events a new session holds, unnumbered, while its
// welcome's snapshot is read: only for that moment, so not in Session.
type heldEvents struct {
	evs   []*eventBuf
	bytes int
}

// deliver numbers one event for this session, keeps it for replay and
// writes it to the connection if it is live. The connection copies the
// bytes, so ev is not held past the call except by the ring's (or held's)
// reference.
func (s *Session) deliver(h *hub, ev *eventBuf) {
	s.mu.Lock()
	switch {
	case s.closed:
	case s.holding:
		s.holdLocked(h, ev)
	default:
		s.numberLocked(h, ev)
	}
	s.mu.Unlock()
}

// numberLocked gives ev the session's next seq, keeps it for replay and
// writes it if the connection is live. An event of the lobby whose last
// event the session numbered, with a version no newer than that one, is
// dropped: in a cluster a session moving between shards may be offered one
// event twice (handed over, and read again from the lobby's log), and the
// stream must not repeat it. A store's versions only grow per lobby, so on
// one shard nothing is ever dropped. Caller holds s.mu.
func (s *Session) numberLocked(h *hub, ev *eventBuf) {
	if ev.version != 0 && ev.lobbyID != "" {
		if ev.lobbyID == s.lobbyID && ev.version <= s.lobbyVer {
			return
		}
		s.lobbyID, s.lobbyVer = ev.lobbyID, ev.version
	}
	s.seq++
	s.ring.push(&h.pool, s.seq, ev, h.ringEntries, h.ringBytes)
	if s.live {
		writeEvent(s.conn, s.head[:], s.seq, ev)
	}
}

// writeEvent writes ev stamped with seq, using head as scratch for the
// stamped copy of its first bytes (the connection copies both parts). A
// write to a closed connection is not an error here: the ring has the event.
func writeEvent(conn writer, head []byte, seq uint64, ev *eventBuf) {
	copy(head, ev.b[:protocol.EventHeadLen])
	binary.BigEndian.PutUint64(head[protocol.EventSeqOffset:], seq)
	_ = conn.WriteParts(head, ev.b[protocol.EventHeadLen:])
}

// holdLocked keeps ev, unnumbered, until the welcome's snapshot is known.
// Held events are bounded like the ring; past the bound the connection
// cannot be given a gap-free stream and is closed when it would go live.
func (s *Session) holdLocked(h *hub, ev *eventBuf) {
	if s.held == nil {
		s.held = new(heldEvents)
	}
	if s.overrun || len(s.held.evs) >= h.ringEntries || s.held.bytes+len(ev.b) > h.ringBytes {
		s.overrun = true
		return
	}
	ev.retain()
	s.held.evs = append(s.held.evs, ev)
	s.held.bytes += len(ev.b)
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
	if s.held != nil {
		for _, ev := range s.held.evs {
			if !s.overrun && !sn.shows(ev) {
				s.numberLocked(h, ev)
			}
			h.pool.release(ev)
		}
	}
	s.held, s.holding = nil, false
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
