package matchmaking

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/lobbyd/lobbyd/protocol"
)

// Bounds on mm.enqueue input (docs/protocol.md §3, "Matchmaking").
const (
	MaxSkill     = 1e9 // |skill| above this is bad_request: no rating scale needs more, and sums stay exact
	MaxRegionLen = 64  // bytes
)

var (
	errQueueUnknown = protocol.NewError(protocol.CodeQueueUnknown, "no such queue")
	errNotInLobby   = protocol.NewError(protocol.CodeNotInLobby, "party: true needs a lobby")
	errNotHost      = protocol.NewError(protocol.CodeNotHost, "only the lobby's host can queue the party")
	errBadSkill     = protocol.NewError(protocol.CodeBadRequest, "skill must be a finite number within ±1e9")
	errBadRegion    = protocol.NewError(protocol.CodeBadRequest, "region must be valid UTF-8 of at most 64 bytes")
	errBadAttrs     = protocol.NewError(protocol.CodeBadRequest, "attrs: at most 16 keys")
	errNoUser       = protocol.NewError(protocol.CodeBadRequest, "no user")
)

// Service is matchmaking as the gateway sees it: Enqueue and Cancel for
// the ops and the HTTP API, CancelUser when a session is gone for good,
// Stats for GET /v1/queues, and Run, the matching loop.
//
// Safe for concurrent use. The Service holds no lock of its own while it
// calls the store, Lobbies or the Sink, except passMu around the store's
// Waiting snapshot and the matcher (see service_run.go).
type Service struct {
	// queues is swapped whole by UpdateQueues, never changed in place: a
	// pass or an Enqueue works on the slice it loaded. Names, order and
	// team shapes never change after NewService, so an index stays valid.
	queues  atomic.Pointer[[]QueueConfig]
	byName  map[string]int
	store   TicketStore
	lobbies Lobbies
	sink    Sink
	opts    Options
	rates   []rateWindow // per queue, each with its own lock

	wake    chan struct{} // capacity 1: "a pass may find something"
	running atomic.Bool   // a Run is active

	passMu   sync.Mutex // guards matcher, snapshot and idleUntil: one matching pass at a time
	matcher  Matcher
	snapshot []Ticket
	// idleUntil, per queue, is when a queue found empty may be read again
	// by a pass that no wake asked for (Options.IdlePoll); zero: now.
	idleUntil []time.Time
}

// NewService checks the queues (none: DefaultQueues), applies their
// defaults, and returns a Service over store. lobbies and sink are needed.
func NewService(queues []QueueConfig, store TicketStore, lobbies Lobbies, sink Sink, opts Options) (*Service, error) {
	if store == nil || lobbies == nil || sink == nil {
		return nil, errors.New("matchmaking: NewService needs a store, lobbies and a sink")
	}
	qs := slices.Clone(queues)
	if len(qs) == 0 {
		qs = DefaultQueues()
	}
	if err := ValidateQueues(qs); err != nil {
		return nil, err
	}
	opts.applyDefaults()
	s := &Service{
		byName: make(map[string]int, len(qs)),
		store:  store, lobbies: lobbies, sink: sink, opts: opts,
		rates: make([]rateWindow, len(qs)),
		wake:  make(chan struct{}, 1),

		idleUntil: make([]time.Time, len(qs)),
	}
	s.queues.Store(&qs)
	for i, q := range qs {
		s.byName[q.Name] = i
	}
	return s, nil
}

// Queues returns the queues as configured, defaults applied.
func (s *Service) Queues() []QueueConfig { return slices.Clone(s.queueList()) }

// queueList is the queues in force.
func (s *Service) queueList() []QueueConfig { return *s.queues.Load() }

// UpdateQueues puts in force the settings of qs that may change while
// tickets wait: each queue's skill window, region rule and relax time, and
// timeout. It returns what changed, one "queues[name].key: old → new" each.
// qs must name the same queues in the same order with the same team shapes
// (team_size, teams, max_party): those decide which tickets exist, so a
// change to them needs a restart and is refused, with nothing applied.
func (s *Service) UpdateQueues(qs []QueueConfig) ([]string, error) {
	next := slices.Clone(qs)
	if err := ValidateQueues(next); err != nil {
		return nil, err
	}
	old := s.queueList()
	if len(next) != len(old) {
		return nil, fmt.Errorf("queues: %d queues configured, %d running: adding or removing a queue needs a restart", len(next), len(old))
	}
	var changed []string
	for i := range next {
		o, n := &old[i], &next[i]
		if o.Name != n.Name || o.TeamSize != n.TeamSize || o.Teams != n.Teams || o.MaxParty != n.MaxParty {
			return nil, fmt.Errorf("queues[%d] (%s): name, team_size, teams and max_party need a restart", i, o.Name)
		}
		diff := func(key string, a, b any) {
			if fmt.Sprint(a) != fmt.Sprint(b) {
				changed = append(changed, fmt.Sprintf("queues[%s].%s: %v → %v", o.Name, key, a, b))
			}
		}
		diff("skill_window", o.SkillWindow, n.SkillWindow)
		diff("region", o.Region, n.Region)
		diff("region_relax_after_ms", o.RegionRelaxAfterMs, n.RegionRelaxAfterMs)
		diff("timeout_ms", o.TimeoutMs, n.TimeoutMs)
	}
	s.queues.Store(&next)
	s.poke() // a wider window may match someone now
	return changed, nil
}

// Enqueue queues p (or, with Party, p's whole lobby) on req.Queue and
// sends mm.queued to every member of the ticket. Errors: queue_unknown,
// bad_request (skill, region, attrs, a party over max_party), not_in_lobby,
// not_host, already_queued (any member already on a ticket).
func (s *Service) Enqueue(ctx context.Context, p Player, req protocol.Enqueue) (protocol.Ticket, error) {
	qi, ok := s.byName[req.Queue]
	if !ok {
		return protocol.Ticket{}, errQueueUnknown
	}
	q := &s.queueList()[qi]
	if p.UserID == "" {
		return protocol.Ticket{}, errNoUser
	}
	if err := s.lobbies.CheckPlayer(p); err != nil {
		return protocol.Ticket{}, err // its match lobby could never be built
	}
	t := Ticket{Queue: q.Name, Region: req.Region}
	if req.Skill != nil {
		t.Skill = *req.Skill
		if math.IsNaN(t.Skill) || math.Abs(t.Skill) > MaxSkill {
			return protocol.Ticket{}, errBadSkill
		}
	}
	if len(req.Region) > MaxRegionLen || !utf8.ValidString(req.Region) {
		return protocol.Ticket{}, errBadRegion
	}
	// protocol.MaxAttrs, as for lobbies; attrs take no part in matching in v1.
	if len(req.Attrs) > protocol.MaxAttrs {
		return protocol.Ticket{}, errBadAttrs
	}
	if req.Party {
		lv, ok, err := s.lobbies.LobbyOf(ctx, p.UserID)
		if err != nil {
			return protocol.Ticket{}, err
		}
		if !ok {
			return protocol.Ticket{}, errNotInLobby
		}
		if lv.Host != p.UserID {
			return protocol.Ticket{}, errNotHost
		}
		if n := len(lv.Members); n > q.MaxParty {
			return protocol.Ticket{}, protocol.NewError(protocol.CodeBadRequest,
				"party of "+strconv.Itoa(n)+" players; queue "+q.Name+" takes parties of at most "+strconv.Itoa(q.MaxParty))
		}
		t.Members, t.Names = partyOf(p, lv.Members)
	} else {
		t.Members, t.Names = []string{p.UserID}, []string{p.Name}
	}
	t.ID = s.opts.NewID()
	t.CreatedAt = s.opts.Clock()
	if err := s.store.Add(ctx, t); err != nil {
		return protocol.Ticket{}, err
	}
	view := t.View(protocol.TicketQueued)
	s.sink.Deliver(&Event{Name: protocol.EvQueued, To: t.Members, Ticket: &view})
	s.poke()
	return view, nil
}

// poke wakes the matching loop for an early pass (at most one is pending).
func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// partyOf lists the lobby's members, the host (p) first.
func partyOf(p Player, members []protocol.Member) (ids, names []string) {
	ids, names = make([]string, 1, len(members)), make([]string, 1, len(members))
	ids[0], names[0] = p.UserID, p.Name
	for _, m := range members {
		if m.UserID != p.UserID {
			ids, names = append(ids, m.UserID), append(names, m.Name)
		}
	}
	return ids, names
}

// Cancel unqueues ticketID on behalf of userID, who must be on it (any
// member of a party may cancel it: the party cannot be matched without
// them), and sends mm.cancelled (reason "cancelled") to every member.
// not_found when the ticket is not queued (already matched, cancelled,
// timed out) or not the user's, so a ticket's existence does not leak.
func (s *Service) Cancel(ctx context.Context, userID, ticketID string) error {
	t, err := s.store.Get(ctx, ticketID)
	if err != nil {
		return err
	}
	if !slices.Contains(t.Members, userID) {
		return ErrTicketNotFound
	}
	if t, err = s.store.Remove(ctx, ticketID); err != nil {
		return err
	}
	s.cancelled(&t, protocol.ReasonCancelled)
	return nil
}

// CancelUser unqueues the ticket userID is on, if any, with reason (empty:
// "disconnected"), e.g. when the session's resume grace ends. A party
// ticket is cancelled for all its members.
func (s *Service) CancelUser(ctx context.Context, userID, reason string) {
	if reason == "" {
		reason = protocol.ReasonDisconnected
	}
	t, err := s.store.ByUser(ctx, userID)
	if err != nil {
		s.logStoreErr("ByUser", err)
		return
	}
	if t, err = s.store.Remove(ctx, t.ID); err != nil {
		s.logStoreErr("Remove", err) // matched or cancelled meanwhile: nothing to do
		return
	}
	s.cancelled(&t, reason)
}

func (s *Service) cancelled(t *Ticket, reason string) {
	s.sink.Deliver(&Event{Name: protocol.EvTicketCancelled, To: t.Members, TicketID: t.ID, Queue: t.Queue, Reason: reason})
}

// logStoreErr logs store failures, but not the not_found a race produces.
func (s *Service) logStoreErr(op string, err error) {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Code == protocol.CodeNotFound {
		return
	}
	s.opts.Logger.Error("matchmaking: ticket store", "op", op, "err", err)
}

// Matchers names the queues whose matcher runs in this Service now
// (Options.Runs), each with the matches it made in the last minute: what
// a shard reports to its cluster so that GET /admin/queues can say which
// shard matches each queue. No store call.
func (s *Service) Matchers() map[string]int {
	now := s.opts.Clock()
	queues := s.queueList()
	out := make(map[string]int, len(queues))
	for i, q := range queues {
		if s.opts.Runs(q.Name) {
			out[q.Name] = s.rates[i].perMinute(now)
		}
	}
	return out
}

// Stats describes every queue, in configuration order.
func (s *Service) Stats() []QueueStats {
	ctx := context.Background()
	now := s.opts.Clock()
	queues := s.queueList()
	out := make([]QueueStats, len(queues))
	for i, q := range queues {
		out[i] = QueueStats{Name: q.Name, MatchesPerMin: s.rates[i].perMinute(now)}
		st, err := s.store.Stats(ctx, q.Name)
		if err != nil {
			s.logStoreErr("Stats", err)
			continue
		}
		out[i].Tickets, out[i].Players = st.Tickets, st.Players
		if st.Tickets > 0 {
			out[i].OldestWaitMs = max(now-st.OldestCreatedAt, 0)
		}
	}
	return out
}
