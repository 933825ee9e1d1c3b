package matchmaking

import (
	"math"

	"github.com/lobbyd/lobbyd/protocol"
)

// Ticket is one queued request to be matched: a single player or a whole
// party, which is always placed on one team. Members and Names are parallel
// (Names[i] is the display name of Members[i]; Names may be shorter, then the
// user id stands in). A ticket is immutable once added to a TicketStore:
// snapshots share its slices.
type Ticket struct {
	ID        string
	Queue     string
	Members   []string // user ids; Members[0] asked (the party's host)
	Names     []string // display names for the match lobby
	Skill     float64
	Region    string
	CreatedAt int64 // unix ms
}

// View is the ticket as clients see it, in the given state
// (protocol.TicketQueued, TicketMatched or TicketCancelled).
func (t *Ticket) View(state string) protocol.Ticket {
	return protocol.Ticket{
		ID: t.ID, Queue: t.Queue, Members: t.Members, Skill: t.Skill,
		Region: t.Region, CreatedAt: t.CreatedAt, State: state,
	}
}

// name returns the display name of member i.
func (t *Ticket) name(i int) string {
	if i < len(t.Names) && t.Names[i] != "" {
		return t.Names[i]
	}
	return t.Members[i]
}

// matchable reports whether the ticket can ever be part of a match of q:
// 1..MaxParty members (MaxParty ≤ TeamSize) and a finite skill. The Service
// refuses other tickets at Enqueue; the matcher leaves them in rest so that
// a hostile or stale store entry cannot break its invariants.
func (t *Ticket) matchable(q *QueueConfig) bool {
	n := len(t.Members)
	return n >= 1 && n <= q.MaxParty && n <= q.TeamSize &&
		!math.IsNaN(t.Skill) && !math.IsInf(t.Skill, 0)
}
