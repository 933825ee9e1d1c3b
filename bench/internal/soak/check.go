package soak

import (
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
)

// counters are the soak's totals, updated by every goroutine.
type counters struct {
	events, lost, duplicated, outOfOrder    atomic.Int64
	resumes, resumeFailed, errors           atomic.Int64
	crossResumes                            atomic.Int64
	sends, chats, churns, listings, matches atomic.Int64
	slowCloses, slowDropped, slowReconnects atomic.Int64
	dropsPlanned                            atomic.Int64

	mu        sync.Mutex
	errKinds  map[string]int64
	errSample map[string]string
	anomalies []string // the first maxAnomalies, described
}

// maxAnomalies bounds the anomalies described in the report.
const maxAnomalies = 20

// anomaly keeps the description of a lost, duplicated or reordered event.
func (c *counters) anomaly(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.anomalies) < maxAnomalies {
		c.anomalies = append(c.anomalies, fmt.Sprintf(format, args...))
	}
}

// fail counts one error of a kind, keeping the first message of each kind.
func (c *counters) fail(kind string, err error) {
	c.errors.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.errKinds == nil {
		c.errKinds, c.errSample = map[string]int64{}, map[string]string{}
	}
	c.errKinds[kind]++
	if _, ok := c.errSample[kind]; !ok && err != nil {
		c.errSample[kind] = err.Error()
	}
}

// session checks one user's numbered stream across its connections: seq
// must go up by exactly one (a gap is lost events, a repeat a duplicate),
// and each sender's relayed counters must rise (per-sender order). Owned by
// whichever connection's reader is current; a resume hands it on.
type session struct {
	c       *counters
	lastSeq uint64
	fromN   map[uint64]uint64 // sender index → last counter seen
	chatLog *chatLog          // the lobby's chat order, nil outside relay lobbies
	user    string
	shard   string // the shard of the current connection, set before it is read
}

func newSession(c *counters, user string, log *chatLog) *session {
	return &session{c: c, fromN: map[uint64]uint64{}, chatLog: log, user: user}
}

// event checks one event; it returns false for events outside the
// numbered stream (welcome, server.draining).
func (s *session) event(m msg) bool {
	seq := num(m["seq"])
	if seq == 0 {
		return false
	}
	s.c.events.Add(1)
	switch {
	case seq == s.lastSeq+1:
	case seq <= s.lastSeq:
		s.c.duplicated.Add(1)
		s.c.anomaly("duplicated: user %s on shard %s got seq %d (%v) after seq %d", s.user, s.shard, seq, m["ev"], s.lastSeq)
		return true
	default:
		s.c.lost.Add(int64(seq - s.lastSeq - 1))
		s.c.anomaly("lost: user %s on shard %s got seq %d (%v) after seq %d: %d missing", s.user, s.shard, seq, m["ev"], s.lastSeq, seq-s.lastSeq-1)
	}
	s.lastSeq = seq
	switch m["ev"] {
	case "lobby.data":
		b, _ := m.d()["data"].([]byte)
		if len(b) >= 16 {
			from, n := binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])
			last, seen := s.fromN[from]
			switch {
			case seen && n == last:
				s.c.duplicated.Add(1)
				s.c.anomaly("duplicated relay message: user %s on shard %s, seq %d: sender %d's message %d again", s.user, s.shard, seq, from, n)
			case seen && n < last:
				s.c.outOfOrder.Add(1)
				s.c.anomaly("out of order: user %s on shard %s, seq %d: sender %d's message %d after %d", s.user, s.shard, seq, from, n, last)
			}
			s.fromN[from] = max(n, last)
		}
	case "lobby.chat":
		if s.chatLog != nil {
			text, _ := m.d()["text"].(string)
			s.chatLog.add(s.user, text)
		}
	}
	return true
}

// chatLog is the order in which each member of one lobby saw its chat.
type chatLog struct {
	mu   sync.Mutex
	seen map[string][]string // user → chat texts (unique per message) in order
}

func (l *chatLog) add(user, text string) {
	l.mu.Lock()
	if l.seen == nil {
		l.seen = map[string][]string{}
	}
	l.seen[user] = append(l.seen[user], text)
	l.mu.Unlock()
}

// disagreements counts pairs of chats that two members saw in opposite
// orders (over the chats both saw): docs/protocol.md §2, one order per lobby.
func (l *chatLog) disagreements() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var users []string
	for u := range l.seen {
		users = append(users, u)
	}
	var bad int64
	for i := range users {
		pos := map[string]int{}
		for k, t := range l.seen[users[i]] {
			pos[t] = k
		}
		for j := i + 1; j < len(users); j++ {
			prev := -1
			for _, t := range l.seen[users[j]] {
				p, ok := pos[t]
				if !ok {
					continue
				}
				if p < prev {
					bad++
				}
				prev = p
			}
		}
	}
	return bad
}
