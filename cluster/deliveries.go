package cluster

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

// Delivery records (docs/cluster.md, "Delivery records"): what a shard
// numbered, for each of its sessions, from each lobby message it
// delivered, so that when the shard dies its players resume on another
// shard with every event they missed, none twice.
//
// A session's seq numbers its events on one shard; the lobby's log numbers
// the lobby's events by offset. The record ties the two: one stream per
// lobby, {l:ID}:dl, in the lobby's slot, whose entries hold, for one shard
// (field s) and per message it delivered, the seq each local session got for each of
// its events (and its seq after the message, for the members it had nothing
// for). A shard writes the record of a message before the message's frames
// go to the sockets (RecordingSink holds them until Release), so whatever a
// client can have seen is in the record. The shard a player resumes on
// reads the record of the dead shard back from its end to the newest
// position whose seq is at most the client's last_seq (ResumePoint), and
// replays the lobby's log after it.
//
// Derived positions: a session that numbers only its lobby's logged
// events, in log order, needs no entry for them: its seqs are counted
// from its last entry that says so (SessionDelivery.Derive) and the log.
// The sink keeps that state per session (the gateway's armed and pure)
// and, when such a session numbers anything else, queues an entry of the
// session's own first (RecordBreak) that the frame waits for. ResumePoint
// counts (derive).
//
// Cost: one XADD per lobby per burst of messages written together (the
// recorder batches everything queued while the previous write was in
// flight), on every shard with a session that needs an entry; nothing for
// a message whose sessions here all derive, and nothing on the same-shard
// relay path, whose data is not in the log and cannot be replayed anyway.

// RecordingSink is a lobby.Sink whose deliveries can wait for their
// record: the follower uses it when the store's sink has it.
type RecordingSink interface {
	lobby.Sink
	// DeliverRecorded numbers ev for its recipients on this shard as
	// Deliver does, but holds its frames back until Release(d), and adds
	// to d, for each recipient session that numbered it, its seq.
	DeliverRecorded(ev *lobby.Event, d *Delivery)
	// Positions completes d: for every session already in d and every
	// user of users with a session here that numbers events now, its seq
	// after the message and where it arrived on this shard.
	Positions(d *Delivery, users []string)
	// Release lets the frames held for d go: its record is in Redis.
	Release(d *Delivery)
}

// Delivery is one message (or one read of the log) as this shard
// delivered it: its record, and the frames that wait for it.
type Delivery struct {
	Lobby string
	Last  uint64 // offset of the last event the message covers
	Gone  bool   // the message deleted the lobby
	// Split: the lobby had members on other shards after the message. A
	// session's entry made then can start a derivation (Derive).
	Split bool
	// Refresh: the message passed a multiple of anchorEvery in the log's
	// offsets. Sessions whose positions derive get an entry too, so that
	// a derivation always starts within the log's reach (it keeps ~4096
	// events; one from an entry trimmed out of it finds no place).
	Refresh  bool
	Sessions []SessionDelivery
	done     chan struct{} // closed once released (applyOwn waits on it)
	key      string        // the lobby's record stream, when the follower knows it
	isBreak  bool          // queued by RecordBreak, not a lobby message's

	// Room for the entries of a lobby's members here and one event each,
	// in the Delivery itself: one allocation per message for a lobby of
	// up to inlineSessions members here, rather than one for the entries
	// and one per session for its events (newDelivery, Session).
	inline [inlineSessions]SessionDelivery
	pairs  [2 * inlineSessions]uint64
	used   int // pairs handed out, two per entry
}

// anchorEvery is how many of a lobby's log offsets a session whose
// positions derive may go without an entry of its own (Delivery.Refresh):
// an eighth of what the log keeps (MAXLEN ~ 4096), so that its last entry
// is in the log when its shard dies, with room for a player who was away;
// and a quarter of what the record keeps (recordMaxLen, every shard's
// entries together), so that four shards writing an entry for every
// message in between do not trim it out of the record first.
const anchorEvery = 512

// inlineSessions is how many session entries a Delivery holds without
// another allocation: the members of a lobby of 8 split across two shards.
const inlineSessions = 4

// SessionDelivery is what one session here numbered from a message.
type SessionDelivery struct {
	User string `msgpack:"-"`
	ID   string `msgpack:"i"` // the session id
	// After is the session's seq once the message was numbered.
	After uint64 `msgpack:"a"`
	// Arrived is the session's seq when it went live on this shard (a new
	// session's welcome, or an adopted one's catch-up): what it numbered
	// before is not in this shard's record. When ArrivedIn, the arrival
	// covered this lobby up to offset ArrivedAt.
	Arrived   uint64 `msgpack:"r"`
	ArrivedIn bool   `msgpack:"ri,omitempty"`
	ArrivedAt uint64 `msgpack:"ro,omitempty"`
	// Events are pairs (offset, seq), in offset order.
	Events []uint64 `msgpack:"e,omitempty"`
	// Derive says that from this message on, until the session's next
	// entry in the lobby's record, the session numbered the lobby's
	// logged events for it on this shard, in log order, and nothing else:
	// its seq for each is derived from the log ("Derived positions").
	Derive bool `msgpack:"d,omitempty"`
	// Held are seqs of events that are not the lobby's (Events has the
	// lobby's) whose frames wait for this entry: a break (RecordBreak).
	// Not written.
	Held []uint64 `msgpack:"-"`
	// Arm is the sink's own mark of the derivation this entry belongs to
	// (the gateway's count of its session's armings). Not written.
	Arm uint16 `msgpack:"-"`
}

// Session returns the entry of user in d, made if absent.
func (d *Delivery) Session(user, id string) *SessionDelivery {
	for i := range d.Sessions {
		if d.Sessions[i].User == user {
			return &d.Sessions[i]
		}
	}
	var events []uint64
	if d.used+2 <= len(d.pairs) {
		// Capacity 2: a second event of the same message (a group commit)
		// makes append move it out, leaving the next entry's pair alone.
		events = d.pairs[d.used : d.used : d.used+2]
		d.used += 2
	}
	d.Sessions = append(d.Sessions, SessionDelivery{User: user, ID: id, Events: events})
	return &d.Sessions[len(d.Sessions)-1]
}

// recordEntry is one message in a record entry (field "r": a list of them,
// the messages of one lobby written together).
type recordEntry struct {
	Last     uint64            `msgpack:"l"`
	Sessions []SessionDelivery `msgpack:"s"`
}

const (
	// recordMaxLen caps each lobby's records (MAXLEN ~, every shard's
	// together): about the reach of a session's replay ring (gateway: 1024
	// events) in messages, for a lobby over two shards.
	recordMaxLen = 2048
	// recordGoneTTL is how long a deleted lobby's records stay (the commit
	// that deletes it sets it, and so does a write of its last records):
	// long enough for the players of a shard that died with the lobby's
	// last events to resume (found dead, then their grace). A live
	// lobby's records have no TTL, as its log; MAXLEN bounds them.
	recordGoneTTL = 5 * time.Minute
	// recordBackoffMax bounds the wait between tries of a failed write.
	recordBackoffMax = time.Second
)

// recorder writes the records of one shard and releases each delivery's
// frames once its record is in. Its lanes run apart, a lobby always in the
// same one, so each lobby's records are written in the order they were
// queued (ResumePoint reads them newest first); a lane's write takes
// everything queued in it meanwhile (group commit). Several lanes: a write
// waits for a round trip, which on a loaded machine is also a wait for the
// scheduler, and the frames of every lobby behind it wait too. Not many:
// each write is a round trip (a pooled connection's health check, a write
// and a read syscall, a wake-up), and the fewer the lanes, the more each
// write carries.
type recorder struct {
	sink  RecordingSink
	lanes []*recordLane
}

// recordLanes is the number of lanes of a recorder: with 32 split lobbies
// sending at once (BenchmarkSendSplitRecordedParallel), 8 lanes took 2.15
// Redis round trips per send (both shards, the commit's included), 4 took
// 1.65 and 2 took 1.33, with CPU per send falling about as much; one lane
// held every lobby's frames behind one write (p50 66 ms in the bench on a
// loaded machine).
const recordLanes = 4

func newRecorder(s *LobbyStore, sink RecordingSink) *recorder {
	r := &recorder{sink: sink}
	for range recordLanes {
		r.lanes = append(r.lanes, &recordLane{s: s, sink: sink, wake: make(chan struct{}, 1)})
	}
	return r
}

// RecordBreak queues d, an entry that ends a session's derived positions
// (SessionDelivery.Derive): the gateway makes one when such a session
// numbers an event the lobby's log does not give it, whose frame (Held)
// must wait until the record says positions no longer derive. false when
// the store keeps no records: nothing is queued, and nothing may wait.
func (s *LobbyStore) RecordBreak(d *Delivery) bool {
	if s.rec == nil {
		return false
	}
	d.isBreak = true
	s.rec.add(d)
	return true
}

// add queues d in its lobby's lane; its frames wait until its record is in.
func (r *recorder) add(d *Delivery) {
	// FNV-1a of the lobby id, written out (hash/fnv allocates its state
	// and a copy of the id per call).
	h := uint32(2166136261)
	for i := 0; i < len(d.Lobby); i++ {
		h = (h ^ uint32(d.Lobby[i])) * 16777619
	}
	r.lanes[h%uint32(len(r.lanes))].add(d)
}

// drop forgets what every lane has queued (drop of recordLane).
func (r *recorder) drop() {
	for _, l := range r.lanes {
		l.drop()
	}
}

// run runs every lane until ctx ends.
func (r *recorder) run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, l := range r.lanes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.run(ctx)
		}()
	}
	wg.Wait()
}

// recordLane is one lane of a recorder: one goroutine writing in order.
type recordLane struct {
	s    *LobbyStore
	sink RecordingSink
	wake chan struct{}

	mu      sync.Mutex
	queue   []*Delivery
	dropped bool // drop was called: the batch in hand goes too

	// write's scratch, reused (run's goroutine only).
	group   map[string]int // lobby → its index in lobbies
	lobbies []recordGroup
	slot    []int       // batch[i]'s group
	sorted  []*Delivery // batch grouped by lobby
	buf     []byte      // the encoded entries
	args    []any       // the XADDs' arguments
	pipe    redis.Pipeliner
}

// add queues d; its frames wait until run has written its record.
func (r *recordLane) add(d *Delivery) {
	d.done = make(chan struct{})
	r.mu.Lock()
	r.queue = append(r.queue, d)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// drop forgets what is queued (the shard lost Redis: its sessions are
// retired and nothing it numbered is sent any more), waking waiters.
func (r *recordLane) drop() {
	r.mu.Lock()
	q := r.queue
	r.queue, r.dropped = nil, true
	r.mu.Unlock()
	for _, d := range q {
		close(d.done)
	}
}

func (r *recordLane) run(ctx context.Context) {
	backoff := 10 * time.Millisecond
	var batch []*Delivery
	for {
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-r.wake:
			}
		}
		r.mu.Lock()
		batch = append(batch, r.queue...)
		clear(r.queue)
		r.queue, r.dropped = r.queue[:0], false
		r.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		if err := r.write(ctx, batch); err != nil {
			if ctx.Err() != nil {
				return
			}
			// Retried until it is in (or the shard drops everything on a
			// loss): the frames must not go out without their record.
			r.s.opts.Logger.Warn("cluster: writing delivery records; frames held until it succeeds", "deliveries", len(batch), "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, recordBackoffMax)
			r.mu.Lock()
			if r.dropped {
				r.dropped = false
				for i, d := range batch {
					close(d.done)
					batch[i] = nil
				}
				batch = batch[:0]
			}
			r.mu.Unlock()
			continue
		}
		backoff = 10 * time.Millisecond
		for i, d := range batch {
			r.sink.Release(d)
			close(d.done)
			batch[i] = nil
		}
		batch = batch[:0]
	}
}

// write sends one XADD per lobby with every message of batch for it, in
// one pipeline. Only run's goroutine calls it: the lane's scratch (the
// grouping, the encoded records, the pipeline) is reused from write to
// write, so a steady relay allocates little more than go-redis's commands.
func (r *recordLane) write(ctx context.Context, batch []*Delivery) error {
	// Group by lobby, keeping each lobby's messages in queue order
	// (ResumePoint reads them newest first): a counting sort on the
	// order in which lobbies first appear.
	if r.group == nil {
		r.group = make(map[string]int)
	}
	clear(r.group)
	r.lobbies = r.lobbies[:0]
	r.slot = slices.Grow(r.slot[:0], len(batch))[:len(batch)]
	for i, d := range batch {
		g, ok := r.group[d.Lobby]
		if !ok {
			g = len(r.lobbies)
			r.group[d.Lobby] = g
			key := d.key
			if key == "" {
				key = r.s.ks.lobbyDeliveries(d.Lobby)
			}
			r.lobbies = append(r.lobbies, recordGroup{key: key, breaks: true})
		}
		lg := &r.lobbies[g]
		lg.n++
		lg.gone = lg.gone || d.Gone
		lg.breaks = lg.breaks && d.isBreak
		r.slot[i] = g
	}
	start := 0
	for g := range r.lobbies {
		r.lobbies[g].start, start = start, start+r.lobbies[g].n
	}
	r.sorted = slices.Grow(r.sorted[:0], len(batch))[:len(batch)]
	for i, d := range batch {
		lg := &r.lobbies[r.slot[i]]
		r.sorted[lg.start+lg.fill] = d
		lg.fill++
	}
	// Encode every lobby's entry into one buffer, then slice it: the
	// slices must not move while the pipeline holds them.
	b := r.buf[:0]
	for g := range r.lobbies {
		lg := &r.lobbies[g]
		lg.from = len(b)
		b = protocol.AppendArrayHeader(b, lg.n)
		for _, d := range r.sorted[lg.start : lg.start+lg.n] {
			b = appendRecordEntry(b, d.Last, d.Sessions)
		}
		lg.to = len(b)
	}
	r.buf = b
	if r.pipe == nil {
		r.pipe = r.s.rdb.Pipeline()
	}
	pipe := r.pipe
	args := r.args[:0]
	for g := range r.lobbies {
		lg := &r.lobbies[g]
		// XADD key MAXLEN ~ 2048 * s <shard> r <entry>, as go-redis's XAdd
		// writes it, its arguments in the lane's scratch (XAdd makes an
		// argument list, an XAddArgs and the boxed values per command).
		start := len(args)
		entry := b[lg.from:lg.to:lg.to]
		if lg.breaks {
			// Breaks alone (RecordBreak) come at any time after the
			// session's last lobby event, perhaps after the lobby was
			// deleted and its record expired or set to: a record made
			// anew then would never expire. Rare: a script is fine.
			pipe.Eval(ctx, xaddIfExists, []string{lg.key}, recordMaxLenArg, r.s.shardArg, entry)
			continue
		}
		args = append(args, "xadd", lg.key, "maxlen", "~", recordMaxLenArg, "*", "s", r.s.shardArg, "r", entry)
		pipe.Process(ctx, redis.NewCmd(ctx, args[start:len(args):len(args)]...))
		if lg.gone {
			// Written after the commit that deleted the lobby (and set
			// the TTL), perhaps making the key anew.
			pipe.Expire(ctx, lg.key, recordGoneTTL)
		}
	}
	clear(r.sorted)
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := pipe.Exec(wctx)
	clear(args)
	r.args = args[:0]
	return err
}

// recordMaxLenArg is recordMaxLen boxed once (an XADD argument per write).
var recordMaxLenArg any = recordMaxLen

// recordGroup is one lobby's part of a lane's write.
type recordGroup struct {
	key            string // its record stream
	n, start, fill int    // its deliveries: sorted[start:start+n]
	from, to       int    // its encoded entry: buf[from:to]
	gone           bool   // some message deleted the lobby
	breaks         bool   // every delivery is a break (RecordBreak)
}

// xaddIfExists is a record write of breaks alone: only into a record that
// exists (KEYS[1]; ARGV: MAXLEN, shard, entry).
const xaddIfExists = `if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 's', ARGV[2], 'r', ARGV[3])
end
return 0`

// LastLobbyOf is the lobby the user was last added to, whether it is still
// a member or not ("" if none ever): the lobby whose log holds the last
// lobby events its session can have been sent (the user's hint, which
// removals leave in place).
func (s *LobbyStore) LastLobbyOf(ctx context.Context, userID string) (string, error) {
	id, err := s.rdb.Get(ctx, s.ks.userLobby(userID)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return id, redisFailure("user", err)
}

// ErrNoResumePoint: the record of the session's shard does not place the
// client's last_seq in the lobby's log (no record, trimmed past it, an
// older stay, or the session numbered what no record shows since).
var ErrNoResumePoint = errors.New("cluster: no delivery record places the session's last seq")

// recordPage is how many record entries ResumePoint reads per round trip.
const recordPage = 64

// ResumePoint finds, in the record shard kept of lobbyID, where the
// session sessionID of userID stands in the lobby's log for a client whose
// last event is lastSeq: the offset after which every event of the lobby
// for that session is one the client has not seen. Events after it are to
// be replayed, numbered lastSeq+1, ... (EventsAfter from
// versionAt(offset)). An entry that derives (SessionDelivery.Derive)
// places a client beyond it by counting the session's events in the log
// (derive). ErrNoResumePoint when the record cannot tell.
func (s *LobbyStore) ResumePoint(ctx context.Context, lobbyID, shard, sessionID, userID string, lastSeq uint64) (uint64, error) {
	key := s.ks.lobbyDeliveries(lobbyID)
	var sc resumeScan
	end := "+"
	for page := 0; page*recordPage <= recordMaxLen+recordPage; page++ {
		msgs, err := s.rdb.XRevRangeN(ctx, key, end, "-", recordPage).Result()
		if err != nil {
			return 0, redisFailure("read delivery record", err)
		}
		for _, m := range msgs {
			if m.Values["s"] != shard {
				continue
			}
			raw, _ := m.Values["r"].(string)
			var entries []recordEntry
			if err := msgpack.Unmarshal([]byte(raw), &entries); err != nil {
				return 0, err
			}
			for i := len(entries) - 1; i >= 0; i-- {
				if pl, ok, done := sc.step(&entries[i], sessionID, lastSeq); done {
					if !ok {
						return 0, ErrNoResumePoint
					}
					return s.derive(ctx, lobbyID, shard, userID, pl)
				}
			}
		}
		if len(msgs) < recordPage {
			break
		}
		end = "(" + msgs[len(msgs)-1].ID
	}
	if pl, ok, _ := sc.finish(lastSeq); ok {
		return pl.off, nil
	}
	return 0, ErrNoResumePoint
}

// resumePlace is where a record entry places a client: after offset off
// and then, when derive > 0, after that many more of the session's events
// in the log, none beyond bound (when bounded: the session's next entry
// numbered the rest).
type resumePlace struct {
	off     uint64
	derive  uint64
	bounded bool
	bound   uint64
}

// derive is pl's offset: the offset of the pl.derive-th event of the log
// after pl.off that shard numbered for userID (the follower's rule,
// wireEvent.recipientOn). ErrNoResumePoint when the log holds fewer such
// events up to the bound, and ErrLogTrimmed when it no longer reaches
// back to pl.off: the record and the log disagree, and a guess could lose
// events.
func (s *LobbyStore) derive(ctx context.Context, lobbyID, shard, userID string, pl resumePlace) (uint64, error) {
	if pl.derive == 0 {
		return pl.off, nil
	}
	left, at := pl.derive, uint64(0)
	err := s.eachLogged(ctx, lobbyID, pl.off, func(off uint64, w *wireEvent) bool {
		if pl.bounded && off > pl.bound {
			return false
		}
		if w.deliveredTo(userID, shard) {
			if left--; left == 0 {
				at = off
				return false
			}
		}
		return true
	})
	switch {
	case err != nil:
		return 0, err
	case left > 0:
		return 0, ErrNoResumePoint
	}
	return at, nil
}

// resumeScan walks a record newest first for one session (ResumePoint).
type resumeScan struct {
	found  bool   // the session is in some entry: stay is its last stay
	stay   uint64 // Arrived of the newest entry
	stayIn bool   // its ArrivedIn
	stayAt uint64 // its ArrivedAt

	// newer: an entry of the session newer than the one looked at was
	// passed (it placed nothing), and where a derivation must stop: before
	// its first event, or at its Last.
	newer      bool
	newerBound uint64
}

// step looks at one message. When it decides (done), ok says whether a
// place was found.
func (sc *resumeScan) step(e *recordEntry, sessionID string, lastSeq uint64) (pl resumePlace, ok, done bool) {
	i := slices.IndexFunc(e.Sessions, func(p SessionDelivery) bool { return p.ID == sessionID })
	if i < 0 {
		return pl, false, false
	}
	p := &e.Sessions[i]
	if !sc.found {
		sc.found, sc.stay, sc.stayIn, sc.stayAt = true, p.Arrived, p.ArrivedIn, p.ArrivedAt
		if lastSeq < p.Arrived {
			return pl, false, true // the client lacks what the arrival numbered
		}
	} else if p.Arrived != sc.stay {
		return sc.finish(lastSeq) // an earlier stay: its seqs are not this one's
	}
	if p.After <= lastSeq {
		// The client has all of this message, and, when the entry
		// derives, lastSeq - After of the session's events after it.
		pl.off = e.Last
		if p.Derive {
			pl.derive, pl.bounded, pl.bound = lastSeq-p.After, sc.newer, sc.newerBound
		}
		return pl, true, true
	}
	for j := len(p.Events) - 2; j >= 0; j -= 2 {
		if p.Events[j+1] <= lastSeq {
			pl.off = p.Events[j]
			return pl, true, true
		}
	}
	sc.newer, sc.newerBound = true, e.Last
	if len(p.Events) > 0 {
		sc.newerBound = p.Events[0] - 1
	}
	return pl, false, false
}

// finish decides once the stay's entries are all read and every position
// in them is beyond lastSeq. A client whose last seq is the session's
// arrival here has every event up to the offset the arrival covered and
// nothing after it (what follows was all numbered here, after the
// arrival, whether its record is still there or trimmed). A client
// further on has events the record does not place: no answer.
func (sc *resumeScan) finish(lastSeq uint64) (pl resumePlace, ok, done bool) {
	if sc.found && lastSeq == sc.stay && sc.stayIn {
		return resumePlace{off: sc.stayAt}, true, true
	}
	return pl, false, true
}
