package matchmaking

import (
	"context"
	"errors"
	"time"

	"github.com/lobbyd/lobbyd/protocol"
)

// Run is the matching loop: a pass over every queue each Options.Tick
// (a queue found empty only every Options.IdlePoll), and sooner, over
// every queue, after an Enqueue, until ctx is done. A pass never starts before
// the previous pass's scan time (snapshot + matcher) has passed again (after
// an early wake: twice it, and at least MinGap), so scanning takes at most
// about half a core even over a huge queue that rarely matches. The work
// each match brings (claim, lobby, events) is not paced: it is the output,
// and pacing it capped throughput (docs/architecture.md, "Matchmaking").
// One Run per Service: a second concurrent call logs and returns.
func (s *Service) Run(ctx context.Context) {
	if !s.running.CompareAndSwap(false, true) {
		s.opts.Logger.Error("matchmaking: Run called twice")
		return
	}
	defer s.running.Store(false)
	// Timers here rely on Go 1.23+ semantics: Reset needs no drain.
	next := time.Now().Add(s.opts.Tick) // when timer fires
	timer := time.NewTimer(s.opts.Tick)
	defer timer.Stop()
	var lastEnd time.Time
	var lastScan time.Duration
	woken := false // a wake came since the last pass: read every queue
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
			woken = true
			due := lastEnd.Add(max(s.opts.MinGap, 2*lastScan))
			if due.After(time.Now()) {
				if due.Before(next) {
					next = due
					timer.Reset(time.Until(due))
				}
				continue
			}
		case <-timer.C:
		}
		start := time.Now()
		lastScan = s.matchNow(ctx, woken)
		woken = false
		lastEnd = time.Now()
		wait := max(s.opts.Tick-lastEnd.Sub(start), lastScan)
		next = lastEnd.Add(wait)
		timer.Reset(wait)
	}
}

// MatchNow runs one pass over every queue: tickets that have waited
// timeout_ms are cancelled (reason "timeout"), then the rest are matched,
// claimed, given a lobby and told. It returns the time spent scanning
// (snapshots and matcher). Run calls it; tests call it with a fake clock.
func (s *Service) MatchNow(ctx context.Context) (scan time.Duration) { return s.matchNow(ctx, true) }

// matchNow is MatchNow; unless all is set, it skips the queues found
// empty less than Options.IdlePoll ago (Service.idleUntil).
func (s *Service) matchNow(ctx context.Context, all bool) (scan time.Duration) {
	queues := s.queueList()
	now := time.Now()
	for qi := range queues {
		if ctx.Err() != nil {
			return scan
		}
		if !s.opts.Runs(queues[qi].Name) {
			continue // another shard holds this queue's matcher lease
		}
		if !all && s.idle(qi, now) {
			continue
		}
		scan += s.pass(ctx, qi)
	}
	return scan
}

// idle reports whether queue qi was empty at a pass less than
// Options.IdlePoll before now.
func (s *Service) idle(qi int, now time.Time) bool {
	s.passMu.Lock()
	defer s.passMu.Unlock()
	return now.Before(s.idleUntil[qi])
}

// found is a match with copies of its tickets, so that the matcher's
// snapshot can be reused while the match is claimed and told.
type found struct {
	m       Match
	tickets []Ticket
}

// pass runs one queue and returns its scan time. Under passMu: the store's
// snapshot and the matcher, which reuse memory between passes. Outside it:
// every store mutation, Lobbies call and Deliver.
func (s *Service) pass(ctx context.Context, qi int) time.Duration {
	q := &s.queueList()[qi]
	now := s.opts.Clock()

	scanStart := time.Now()
	s.passMu.Lock()
	snap, err := s.store.Waiting(ctx, q.Name, s.snapshot)
	if err != nil {
		s.passMu.Unlock()
		s.logStoreErr("Waiting", err)
		return time.Since(scanStart)
	}
	s.snapshot = snap
	s.idleUntil[qi] = time.Time{}
	if len(snap) == 0 {
		s.idleUntil[qi] = time.Now().Add(s.opts.IdlePoll)
	}
	var expired []Ticket
	live := snap[:0] // filtered in place: the snapshot is ours
	for i := range snap {
		if now-snap[i].CreatedAt >= q.TimeoutMs {
			expired = append(expired, snap[i])
		} else {
			live = append(live, snap[i])
		}
	}
	matches := s.matcher.Match(live, now, *q)
	fs := make([]found, len(matches))
	for i := range matches {
		fs[i].m = matches[i]
		fs[i].tickets = make([]Ticket, len(matches[i].Tickets))
		for j, ti := range matches[i].Tickets {
			fs[i].tickets[j] = live[ti]
		}
	}
	clear(snap) // drop references to tickets that are gone
	s.passMu.Unlock()
	scan := time.Since(scanStart)

	for i := range expired {
		t, err := s.store.Remove(ctx, expired[i].ID)
		if err != nil {
			s.logStoreErr("Remove", err)
			continue
		}
		s.cancelled(&t, protocol.ReasonTimeout)
	}
	for i := range fs {
		s.start(ctx, qi, &fs[i])
	}
	return scan
}

// start claims a match's tickets, creates its lobby and sends mm.matched.
func (s *Service) start(ctx context.Context, qi int, f *found) {
	q := &s.queueList()[qi]
	ids := make([]string, len(f.tickets))
	players := 0
	for i := range f.tickets {
		ids[i] = f.tickets[i].ID
		players += len(f.tickets[i].Members)
	}
	ok, err := s.store.Claim(ctx, ids)
	if err != nil {
		s.logStoreErr("Claim", err)
		return
	}
	if !ok {
		return // a ticket was cancelled (or claimed elsewhere) since the snapshot; the rest wait for the next pass
	}
	name := q.Name + " match"
	if len(name) > MaxQueueName { // a lobby name holds 64 characters; the queue name alone fits
		name = q.Name
	}
	p := MatchLobbyParams{
		MatchID: s.opts.NewID(), Name: name, Mode: q.Name, Region: f.m.Region,
		MaxPlayers: max(players, 2), Members: make([]Player, 0, players),
	}
	for i := range f.tickets {
		t := &f.tickets[i]
		for j, u := range t.Members {
			p.Members = append(p.Members, Player{UserID: u, Name: t.name(j)})
		}
	}
	lv, err := s.lobbies.CreateMatch(ctx, p)
	if errors.Is(err, ErrMatchUnknown) {
		// The lobby may exist with these players in it. Put back in the
		// queue, the tickets would be matched again: a ticket in two
		// matches (docs/protocol.md §5a does not allow that). Told
		// matched, the players would look for a lobby that may not
		// exist. They are told their tickets are cancelled, and queue
		// again; a player put in the lobby after all sees it in its next
		// welcome. Rare: the store settles a lost reply itself while
		// Redis answers within seconds (cluster.LobbyStore.CreateMatch).
		s.opts.Logger.Error("matchmaking: creating a match lobby: outcome unknown; tickets cancelled, not requeued",
			"err", err, "tickets", len(f.tickets), "match", p.MatchID)
		for i := range f.tickets {
			s.cancelled(&f.tickets[i], protocol.ReasonCancelled)
		}
		return
	}
	if err != nil {
		s.restore(ctx, f.tickets, err)
		return
	}
	now := s.opts.Clock()
	s.rates[qi].add(now, 1)
	if obs := s.opts.Observer; obs != nil {
		waited := make([]int64, len(f.tickets))
		for i := range f.tickets {
			waited[i] = max(now-f.tickets[i].CreatedAt, 0)
		}
		obs.Matched(q.Name, players, f.m.SkillSpread, waited)
	}
	evs := make([]*Event, len(f.tickets))
	for i := range f.tickets {
		t := &f.tickets[i]
		evs[i] = &Event{Name: protocol.EvMatched, To: t.Members, TicketID: t.ID,
			MatchID: p.MatchID, Queue: q.Name, Lobby: &lv, Teams: f.m.Teams}
	}
	if ms, ok := s.sink.(MatchSink); ok {
		ms.DeliverMatch(evs)
		return
	}
	for _, ev := range evs {
		s.sink.Deliver(ev)
	}
}

// restore puts back the tickets of a match whose lobby could not be made,
// with their place in the queue (CreatedAt) kept: the failure is ours, not
// the players'. Except when the lobby refused the match for a reason of its
// own (a *protocol.Error) and a ticket has a player it could never take:
// that ticket would fail every pass for ever, keeping its partners from a
// match, so it is cancelled (reason "cancelled") and logged once. A ticket
// that cannot go back (a member queued again in the meantime) is cancelled.
func (s *Service) restore(ctx context.Context, ts []Ticket, cause error) {
	var refused *protocol.Error
	judge := errors.As(cause, &refused)
	requeued, dropped := 0, 0
	for i := range ts {
		if judge {
			if err := s.unplayable(&ts[i]); err != nil {
				s.opts.Logger.Warn("matchmaking: ticket cancelled: its players can never be put in a lobby",
					"ticket", ts[i].ID, "queue", ts[i].Queue, "err", err)
				s.cancelled(&ts[i], protocol.ReasonCancelled)
				dropped++
				continue
			}
		}
		if err := s.store.Add(ctx, ts[i]); err != nil {
			s.cancelled(&ts[i], protocol.ReasonCancelled)
			continue
		}
		requeued++
	}
	if requeued > 0 && dropped == 0 { // unexplained: ours, and worth an operator's look
		s.opts.Logger.Error("matchmaking: creating a match lobby failed; tickets requeued", "err", cause, "tickets", requeued)
	}
}

// unplayable returns why one of t's players could never be a lobby member.
func (s *Service) unplayable(t *Ticket) error {
	for j, u := range t.Members {
		if err := s.lobbies.CheckPlayer(Player{UserID: u, Name: t.name(j)}); err != nil {
			return err
		}
	}
	return nil
}
