package client

// MMKind tells what a frame received by a matchmaking player is.
type MMKind uint8

// Frame kinds of a matchmaking player's connection.
const (
	MMOther     MMKind = iota // an event the workload ignores (lobby.member_left, …)
	MMReply                   // a reply: Op, OK, Code; TicketID for an accepted mm.enqueue
	MMQueued                  // mm.queued
	MMMatched                 // mm.matched: TicketID, MatchID, Users, Teams
	MMCancelled               // mm.cancelled: TicketID, Reason
	MMBad                     // not a well-formed envelope
)

// Op names the request a reply answers; it rides in the low bits of the
// rid (see MatchConn), so the reader needs no table of requests in flight.
type Op uint8

// Requests a MatchConn sends.
const (
	OpEnqueue Op = 1
	OpLeave   Op = 2
	OpCancel  Op = 3
)

// MaxMatchUsers bounds the user ids read from one mm.matched (docs/protocol.md:
// a match holds at most 256 players); a frame with more is MMBad.
const MaxMatchUsers = 256

// MMFrame is a decoded matchmaking frame. Its byte slices point into the
// received frame and are valid only during the MatchHandler call; Users
// reuses its backing array from frame to frame.
type MMFrame struct {
	Kind     MMKind
	Op       Op     // MMReply: the request answered
	RID      uint64 // MMReply
	OK       bool   // MMReply
	Code     []byte // MMReply refused: err.code
	TicketID []byte // enqueue reply (d.ticket.id), mm.matched, mm.cancelled
	MatchID  []byte // mm.matched
	Reason   []byte // mm.cancelled
	Users    [][]byte
	Teams    int // mm.matched: number of teams; Users lists them team by team
}

func (f *MMFrame) reset() {
	*f = MMFrame{Users: f.Users[:0]}
}

// bool reads a msgpack boolean.
func (s *scanner) bool() (bool, bool) {
	c, ok := s.byte1()
	switch {
	case !ok:
		return false, false
	case c == 0xc3:
		return true, true
	case c == 0xc2:
		return false, true
	}
	return false, false
}

// arrayLen reads an array header.
func (s *scanner) arrayLen() (int, bool) {
	c, ok := s.byte1()
	if !ok {
		return 0, false
	}
	var n uint64
	switch {
	case c&0xf0 == 0x90:
		n = uint64(c & 0x0f)
	case c == 0xdc:
		n, ok = s.uintN(2)
	case c == 0xdd:
		n, ok = s.uintN(4)
	default:
		return 0, false
	}
	// Each element needs at least one byte.
	if !ok || n > uint64(len(s.b)-s.i) {
		return 0, false
	}
	return int(n), true
}

// ParseMM decodes a frame for a matchmaking player into f without
// allocating (once f.Users has grown). The envelope's keys may come in any
// order, so a first pass notes where "d" and "err" start and a second reads
// them knowing what the frame is. It returns false (f.Kind MMBad) on
// malformed input.
func ParseMM(b []byte, f *MMFrame) bool {
	f.reset()
	s := scanner{b: b}
	n, ok := s.mapLen()
	if !ok {
		f.Kind = MMBad
		return false
	}
	var ev []byte
	isReply := false
	dAt, errAt := -1, -1
	for range n {
		k, ok := s.raw()
		if !ok {
			f.Kind = MMBad
			return false
		}
		switch string(k) {
		case "rid":
			if f.RID, ok = s.uint(); !ok {
				f.Kind = MMBad
				return false
			}
			isReply = true
		case "ok":
			if f.OK, ok = s.bool(); !ok {
				f.Kind = MMBad
				return false
			}
		case "ev":
			if ev, ok = s.raw(); !ok {
				f.Kind = MMBad
				return false
			}
		case "d":
			dAt = s.i
			ok = s.skip(0)
		case "err":
			errAt = s.i
			ok = s.skip(0)
		default:
			ok = s.skip(0)
		}
		if !ok {
			f.Kind = MMBad
			return false
		}
	}
	d := scanner{b: b, i: dAt}
	switch {
	case isReply:
		f.Kind, f.Op = MMReply, Op(f.RID&3)
		if !f.OK && errAt >= 0 {
			e := scanner{b: b, i: errAt}
			ok = mapStr(&e, "code", &f.Code)
		} else if f.OK && f.Op == OpEnqueue && dAt >= 0 {
			ok = ticketIDOfReply(&d, f)
		}
	case dAt < 0:
		f.Kind = MMOther
	case string(ev) == "mm.matched":
		f.Kind = MMMatched
		ok = matchedBody(&d, f)
	case string(ev) == "mm.cancelled":
		f.Kind = MMCancelled
		ok = cancelledBody(&d, f)
	case string(ev) == "mm.queued":
		f.Kind = MMQueued
	default:
		f.Kind = MMOther
	}
	if !ok {
		f.Kind = MMBad
	}
	return ok
}

// mapStr reads a map and sets *out to its string entry key (if any).
func mapStr(s *scanner, key string, out *[]byte) bool {
	return s.fields(func(k []byte) bool {
		if string(k) != key {
			return s.skip(1)
		}
		var ok bool
		*out, ok = s.raw()
		return ok
	})
}

// ticketIDOfReply reads {"ticket": {"id": …}} of an mm.enqueue reply.
func ticketIDOfReply(s *scanner, f *MMFrame) bool {
	return s.fields(func(k []byte) bool {
		if string(k) != "ticket" {
			return s.skip(1)
		}
		return mapStr(s, "id", &f.TicketID)
	})
}

// matchedBody reads mm.matched's d: ticket_id, match_id and teams.
func matchedBody(s *scanner, f *MMFrame) bool {
	return s.fields(func(k []byte) bool {
		var ok bool
		switch string(k) {
		case "ticket_id":
			f.TicketID, ok = s.raw()
		case "match_id":
			f.MatchID, ok = s.raw()
		case "teams":
			ok = teams(s, f)
		default:
			ok = s.skip(1)
		}
		return ok
	})
}

// teams reads [[user_id]] into f.Users and f.Teams, at most MaxMatchUsers.
func teams(s *scanner, f *MMFrame) bool {
	nt, ok := s.arrayLen()
	if !ok {
		return false
	}
	f.Teams = nt
	for range nt {
		nu, ok := s.arrayLen()
		if !ok || len(f.Users)+nu > MaxMatchUsers {
			return false
		}
		for range nu {
			u, ok := s.raw()
			if !ok {
				return false
			}
			f.Users = append(f.Users, u)
		}
	}
	return true
}

// cancelledBody reads mm.cancelled's d: ticket_id and reason.
func cancelledBody(s *scanner, f *MMFrame) bool {
	return s.fields(func(k []byte) bool {
		var ok bool
		switch string(k) {
		case "ticket_id":
			f.TicketID, ok = s.raw()
		case "reason":
			f.Reason, ok = s.raw()
		default:
			ok = s.skip(1)
		}
		return ok
	})
}
