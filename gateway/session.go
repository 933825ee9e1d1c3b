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
type Session struct {
	id     string // immutable
	userID string // immutable
	name   string // immutable (the display name of the token that opened it)

	mu sync.Mutex
	// Guarded by mu.
	conn        writer     // nil while disconnected
	cs          *connState // the connection's state; nil while disconnected
	seq         uint64     // seq of the last event numbered for this session
	ring        replayRing
	resumeToken string
	grace       *time.Timer // runs while disconnected
	closed      bool        // gone for good: no more events
	head        [protocol.EventHeadLen]byte
}

// deliver numbers one event for this session, keeps it for replay and
// writes it to the connection if there is one. The connection copies what
// the socket does not take at once, so ev is not held past the call except
// by the ring's reference.
func (s *Session) deliver(h *hub, ev *eventBuf) {
	s.mu.Lock()
	if !s.closed {
		s.seq++
		s.ring.push(&h.pool, s.seq, ev, h.ringEntries, h.ringBytes)
		if s.conn != nil {
			s.writeEventLocked(s.seq, ev)
		}
	}
	s.mu.Unlock()
}

// writeEventLocked writes ev stamped with seq. Caller holds s.mu.
func (s *Session) writeEventLocked(seq uint64, ev *eventBuf) {
	copy(s.head[:], ev.b[:protocol.EventHeadLen])
	binary.BigEndian.PutUint64(s.head[protocol.EventSeqOffset:], seq)
	_ = s.conn.WriteParts(s.head[:], ev.b[protocol.EventHeadLen:]) // a closed conn: the ring has it
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
