package cluster

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

// The follower delivers, on one shard, the events of every lobby with a
// member on that shard, in each lobby's order, gap-free:
//
//   - one subscription to the shard's channel; every commit publishes its
//     events (with their offsets) to the shards with a member before or
//     after it, but not to the acting shard, which delivers from the
//     script's reply through the same path;
//   - per lobby, the last offset delivered: an event at or below it is a
//     duplicate and dropped; a message beyond the next offset waits in a
//     small reorder buffer for the message before it (commits of two
//     shards race: this shard's own reply can overtake the other shard's
//     publication by a moment). Only when the gap outlives gapWait, or the
//     buffer fills, does the follower read the missing range from the
//     lobby's log (the read script, which also returns the document as of
//     the log's end), and that read never runs on the channel's reader:
//     one slow read must not hold up every other lobby of the shard;
//   - after the subscription reconnects (messages published meanwhile are
//     lost), every followed lobby is read from its last offset;
//   - all deliveries of one lobby, and the same-shard lobby.send fast path,
//     run under that lobby's lock: the Sink contract (no overlapping
//     deliveries per lobby) holds.
//
// Event versions (lobby.Event.Version, LobbyView.Version): an event of the
// log at offset o has version o<<32; a lobby.send delivered on the fast
// path (not in the log) after it has o<<32 + n, n = 1, 2, ... So versions
// grow per lobby on every shard, a view of the document at offset o has
// version o<<32, and a view from this shard's copy has the version of the
// last event this shard delivered (kept in the copy's Doc.Version, which
// the fast path's Doc.Send advances).
//
// A lobby with no member here any more is kept as a tombstone for a while
// (tombstoneTTL), so that late messages for it are recognised as
// duplicates, then forgotten.
type follower struct {
	s      *LobbyStore
	ps     *redis.PubSub
	ctx    context.Context // cancelled by stop
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.RWMutex
	lobbies map[string]*followed // by lobby id, tombstones included
	local   map[string]*followed // user on this shard → their lobby
	active  int                  // lobbies with a member here

	resyncs atomic.Int64 // subscriptions (re)confirmed after the first: for tests and metrics

	// events are the Sink's event scratch, shared by the lobbies: one in
	// every followed lobby cost an idle cluster 48 bytes a player
	// (docs/architecture.md, "Memory per idle player").
	events sync.Pool
	// unused are Deliveries that recorded nothing (every session here
	// derived its positions: the steady cross-shard relay), for the next
	// message: ~500 bytes a message otherwise.
	unused sync.Pool
}

// followed is one lobby as this shard follows it. Every field is guarded
// by mu, and every Sink call for the lobby happens with mu held. A shard
// has one per lobby with a member here: the flags share a word at the end
// and the recipients scratch is the pooled event's, and the commit keys
// are made on the first send, which keeps it in the 192-byte size class,
// not 288 (docs/architecture.md, "Memory per idle player").
type followed struct {
	id string
	// keys are the lobby's commit keys, made on its first sent message
	// (keysOf, newDelivery) and never changed after: read without mu. Not
	// made with the entry: an idle lobby's commits (joins, leaves) make
	// them each time, and keeping them cost ~200 bytes a followed lobby
	// (docs/architecture.md, "Memory per idle player").
	keys atomic.Pointer[lobbyKeys]
	mu   sync.Mutex

	last    uint64 // offset of the last event delivered (or skipped as not ours); known once anchored
	version uint64 // version of doc
	// doc is the lobby's document; nil when it is gone or not read yet, or
	// while compact holds it encoded (docLocked decodes it again).
	doc     *lobby.Doc
	compact *compactDoc
	users   []string // members on this shard, per doc
	idle    int64    // unix ns the lobby went inactive (no member here)

	// pending holds messages that arrived beyond a gap, by first offset
	// (at most maxPending); gapTimer reads the log if the gap outlives
	// gapWait.
	pending  []pendingMessage
	gapTimer *time.Timer
	drained  chan struct{} // closed when pending empties (applyOwn waits on it)

	sends sendGroup // cross-shard lobby.send's group commit (lobby_sendgroup.go)

	// Delivery records (deliveries.go), when the sink keeps them: rec
	// collects what the message being applied numbered, joined (below)
	// says a member came to this shard with it (its position must be
	// recorded), lastDone is the done channel of the last delivery queued
	// for its record, until it is found closed. Only the channel: a
	// Delivery (with its inline entries, ~500 bytes) is let go as soon as
	// the lane has released it.
	rec      *Delivery
	lastDone chan struct{}

	anchored bool // last is known
	allLocal bool // every member is on this shard: lobby.send needs no Redis
	active   bool // some member is on this shard
	dirty    bool // a read failed: read again on the next tick
	// gone: forgotten (forgetAll) while a goroutine may still hold this
	// entry (a commit waiting for a gap, a gap timer): it delivers nothing
	// more, or it could deliver behind the entry that replaced it, out of
	// order for the sessions here.
	gone   bool
	joined bool
	// lost: a message was dropped (the reorder buffer was full) since the
	// last read of the log was made; the read in flight, if any, may not
	// have it, so another follows (drainPendingLocked, fillGap).
	lost bool
	cold bool // the document was not used since the sweep's last tick
}

// compactDoc is a followed lobby's document while nobody uses it, encoded
// (lobby.AppendDoc): ~470 bytes for a lobby of 8 against ~1,260 decoded.
// Every shard with a member of a lobby holds its copy, and most lobbies
// sit idle between changes, so this is what a split lobby costs each
// shard at rest (docs/architecture.md, "Memory per idle player"). The
// sweep compacts a document unused for a whole tick; the next use decodes
// it (a few µs, next to the Redis round trip of whatever woke it). What
// the shard reads of every lobby at each heartbeat (Stats) is kept
// beside it, so that reading it decodes nothing.
type compactDoc struct {
	raw          []byte
	version      uint64 // the document's Version, advanced while compact
	inGame       bool
	disconnected int // members on this shard shown disconnected
}

// lobbyKeys is what every commit of a lobby passes to the commit script
// besides its events, kept by a followed lobby that sends (so a send
// allocates none of it): the script's keys (document, log, delivery
// records) and the lobby id, boxed.
type lobbyKeys struct {
	keys []string
	id   any
}

func (s *LobbyStore) lobbyKeysOf(id string) lobbyKeys {
	return lobbyKeys{keys: []string{s.ks.lobbyDoc(id), s.ks.lobbyLog(id), s.ks.lobbyDeliveries(id)}, id: id}
}

// keysOf is the commit keys of lobby id: the followed entry's when the
// shard follows it and has made them, else made; keep (a commit of events
// only: lobby.send) makes the followed entry keep them.
func (f *follower) keysOf(id string, keep bool) lobbyKeys {
	f.mu.RLock()
	fl := f.lobbies[id]
	f.mu.RUnlock()
	if fl == nil {
		return f.s.lobbyKeysOf(id)
	}
	if keep {
		return *f.keptKeys(fl)
	}
	if k := fl.keys.Load(); k != nil {
		return *k
	}
	return f.s.lobbyKeysOf(id)
}

// keptKeys returns fl's commit keys, made and kept on the first call.
func (f *follower) keptKeys(fl *followed) *lobbyKeys {
	if k := fl.keys.Load(); k != nil {
		return k
	}
	k := f.s.lobbyKeysOf(fl.id)
	if fl.keys.CompareAndSwap(nil, &k) {
		return &k
	}
	return fl.keys.Load()
}

// pendingMessage is a message held back until the ones before it arrive.
type pendingMessage struct {
	m   message
	doc *lobby.Doc // decoded document, when the committer had it
}

var errLobbyUnread = errors.New("could not read the lobby")

const (
	// followTimeout bounds one read of a lobby by the follower itself.
	followTimeout = 5 * time.Second
	// tombstoneTTL is how long a lobby nobody here is in stays known.
	tombstoneTTL = time.Minute
	// tick is how often failed reads are retried and tombstones swept.
	tick = time.Second
	// gapWait is how long a message beyond a gap waits for the messages
	// before it before the follower reads them from the log: long enough
	// for a publication racing this shard's own commit reply (well under a
	// millisecond on a quiet network), short enough that a message really
	// lost costs little latency.
	gapWait = 50 * time.Millisecond
	// maxPending bounds the reorder buffer of one lobby; past it the
	// follower reads the log at once.
	maxPending = 64
)

func startFollower(ctx context.Context, s *LobbyStore) (*follower, error) {
	f := &follower{s: s, lobbies: make(map[string]*followed), local: make(map[string]*followed)}
	f.ps = s.rdb.Subscribe(ctx, s.ks.shardChannel(s.shard))
	// The first reply confirms the subscription: from here on nothing
	// published to this shard is missed.
	if _, err := f.ps.Receive(ctx); err != nil {
		f.ps.Close()
		return nil, redisFailure("subscribe", err)
	}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.wg.Add(2)
	go f.receive()
	go f.sweep()
	if s.rec != nil {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			s.rec.run(f.ctx)
		}()
	}
	return f, nil
}

func (f *follower) stop() {
	f.cancel()
	f.ps.Close()
	f.wg.Wait()
}

// receive reads the shard's channel until stop.
func (f *follower) receive() {
	defer f.wg.Done()
	backoff := 10 * time.Millisecond
	for f.ctx.Err() == nil {
		msg, err := f.ps.Receive(f.ctx)
		if err != nil {
			if f.ctx.Err() != nil {
				return
			}
			// go-redis reconnects and subscribes again on the next
			// Receive; its confirmation (below) triggers the re-read.
			f.s.opts.Logger.Warn("cluster: shard channel", "shard", f.s.shard, "err", err)
			select {
			case <-f.ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 10 * time.Millisecond
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				f.resyncAll()
			}
		case *redis.Message:
			f.onMessage(m.Payload)
		}
	}
}

// sweep retries failed reads, forgets old tombstones and the last
// delivery of each lobby once it is released.
func (f *follower) sweep() {
	defer f.wg.Done()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-f.ctx.Done():
			return
		case now := <-t.C:
			for _, fl := range f.snapshot() {
				fl.mu.Lock()
				if fl.dirty {
					f.catchUpBounded(fl)
				}
				if closed(fl.lastDone) {
					fl.lastDone = nil // nothing to wait for: let it go
				}
				f.compactLocked(fl)
				forget := !fl.active && now.UnixNano()-fl.idle > int64(tombstoneTTL)
				fl.mu.Unlock()
				if forget {
					f.mu.Lock()
					if !fl.active { // may have come back meanwhile
						delete(f.lobbies, fl.id)
					}
					f.mu.Unlock()
				}
			}
		}
	}
}

func (f *follower) snapshot() []*followed {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]*followed, 0, len(f.lobbies))
	for _, fl := range f.lobbies {
		out = append(out, fl)
	}
	return out
}

// hasDoc reports whether fl holds a document, decoded or compact: false
// when the lobby is gone or was not read yet. fl.mu must be held.
func hasDoc(fl *followed) bool { return fl.doc != nil || fl.compact != nil }

// docLocked is fl's document, decoded again if the sweep compacted it;
// nil when the lobby is gone or not read yet. Every use of the document
// goes through it, which keeps it decoded for another tick. fl.mu must be
// held.
func (f *follower) docLocked(fl *followed) *lobby.Doc {
	fl.cold = false
	if c := fl.compact; c != nil {
		d, err := lobby.DecodeDoc(c.raw)
		if err != nil { // AppendDoc wrote it: our bug
			f.s.opts.Logger.Error("cluster: a compact lobby document does not decode; reading the lobby again", "lobby", fl.id, "err", err)
			fl.compact, fl.dirty = nil, true
			return nil
		}
		d.Version = c.version
		fl.doc, fl.compact = d, nil
	}
	return fl.doc
}

// compactLocked, run by the sweep on every tick, encodes fl's document
// when it was not used since the last tick (compactDoc). fl.mu must be
// held.
func (f *follower) compactLocked(fl *followed) {
	d := fl.doc
	if d == nil || fl.gone || fl.dirty {
		return
	}
	if !fl.cold {
		fl.cold = true
		return
	}
	raw, err := lobby.AppendDoc(nil, d)
	if err != nil {
		return // stays decoded
	}
	// A copy of its own size: the encoder's buffer has grown by doubling.
	c := &compactDoc{raw: bytes.Clone(raw), version: d.Version, inGame: d.State == protocol.StateInGame}
	for _, m := range d.Members {
		if !m.Connected && slices.Contains(fl.users, m.UserID) {
			c.disconnected++
		}
	}
	fl.doc, fl.compact = nil, c
}

// resyncAll reads every followed lobby from its last offset: what was
// published while the subscription was down is in the logs.
func (f *follower) resyncAll() {
	f.resyncs.Add(1)
	for _, fl := range f.snapshot() {
		fl.mu.Lock()
		if fl.active && fl.anchored {
			f.catchUpBounded(fl)
		}
		fl.mu.Unlock()
	}
}

// catchUpBounded is catchUpLocked on the follower's own time, bounded
// (followTimeout): a Redis that hangs must not hold a lobby's lock, and
// with it the lobby's sends, for longer.
func (f *follower) catchUpBounded(fl *followed) {
	ctx, cancel := context.WithTimeout(f.ctx, followTimeout)
	defer cancel()
	f.catchUpLocked(ctx, fl)
}

// get returns the lobby's entry, made (not anchored) if absent.
func (f *follower) get(id string) *followed {
	f.mu.RLock()
	fl := f.lobbies[id]
	f.mu.RUnlock()
	if fl != nil {
		return fl
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if fl = f.lobbies[id]; fl == nil {
		fl = &followed{id: id, idle: time.Now().UnixNano()}
		f.lobbies[id] = fl
	}
	return fl
}

// localLobby is the followed lobby of a user on this shard, or nil. The
// hot path: no allocation.
func (f *follower) localLobby(userID string) *followed {
	f.mu.RLock()
	fl := f.local[userID]
	f.mu.RUnlock()
	return fl
}

func (f *follower) onMessage(payload string) {
	m, err := parseMessage(payload)
	if err != nil {
		f.s.opts.Logger.Error("cluster: dropping a malformed lobby message", "shard", f.s.shard, "err", err)
		return
	}
	fl := f.get(m.lobbyID)
	fl.mu.Lock()
	defer fl.mu.Unlock()
	f.applyLocked(fl, &m, nil)
}

// applyOwn delivers the events of a commit this shard made, from the
// script's reply, through the same ordered path as the channel's.
//
// It returns once m's events are delivered, so a reply never overtakes
// the events it caused: when m waits behind a gap (a commit of another
// shard just before it, whose publication has not arrived yet), it waits
// for the gap to fill, at most gapWait, then reads the log.
func (f *follower) applyOwn(ctx context.Context, m *message, doc *lobby.Doc) {
	fl := f.get(m.lobbyID)
	fl.mu.Lock()
	defer fl.mu.Unlock()
	f.applyLocked(fl, m, doc)
	end := m.first + uint64(len(m.events)) - 1
	if fl.last < end && fl.drained != nil {
		wait := fl.drained
		fl.mu.Unlock()
		t := time.NewTimer(gapWait)
		select {
		case <-wait:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		fl.mu.Lock()
		// Still short of m's events: read them, whether or not the buffer
		// is empty now. m may not be in it at all (a full buffer drops a
		// message, applyLocked), and the read that drained the buffer may
		// have been made before this commit ran: nothing else would fetch
		// m's events until a later message revealed the gap, and this
		// call answers ok.
		if fl.last < end && !fl.gone {
			f.catchUpLocked(ctx, fl)
		}
	}
	if later, _ := ctx.Value(recordWaitLater{}).(bool); !later {
		f.awaitRecordLocked(ctx, fl)
	}
}

// recordWaitLater, set in a commit's context, says its caller waits for
// the commit's delivery record itself (awaitRecord), after letting others
// go on (a group commit).
type recordWaitLater struct{}

// awaitRecord is awaitRecordLocked for a caller without fl.mu.
func (f *follower) awaitRecord(ctx context.Context, fl *followed) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	f.awaitRecordLocked(ctx, fl)
}

// awaitRecordLocked waits (fl.mu released meanwhile) until the record of
// the last delivery of fl queued so far is in Redis and its frames are
// out: a reply then still follows the events it caused on the wire. A
// context that ends first leaves the frames to go when the record is in.
func (f *follower) awaitRecordLocked(ctx context.Context, fl *followed) {
	done := fl.lastDone
	if done == nil {
		return
	}
	if !closed(done) {
		fl.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
		}
		fl.mu.Lock()
	}
	if fl.lastDone == done && closed(done) {
		fl.lastDone = nil // nothing to wait for any more: let it go
	}
}

// closed reports whether done (nil: none) is closed.
func closed(done chan struct{}) bool {
	if done == nil {
		return false
	}
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// applyLocked delivers m's events in order and takes its document (doc
// when the caller has it decoded, else m.doc). fl.mu must be held.
func (f *follower) applyLocked(fl *followed, m *message, doc *lobby.Doc) {
	if !fl.anchored {
		// First word of this lobby here: what came before was not ours
		// (nobody on this shard was a member, or the commit that added one
		// is m itself or races with m: both start at most at m.first).
		fl.anchored, fl.last = true, m.first-1
	}
	if m.first > fl.last+1 {
		if len(fl.pending) < maxPending {
			f.holdLocked(fl, m, doc)
			return
		}
		// The buffer is full: m's events are in the log, which the gap
		// timer reads at once, off this goroutine (or, after a failed
		// read, the sweep on its next tick). No timer: its read is in
		// flight, perhaps made before m's commit ran; lost has the
		// follower read again once it is done.
		fl.lost = true
		if fl.gapTimer != nil {
			fl.gapTimer.Reset(0)
		}
		return
	}
	f.applyInOrderLocked(fl, m, doc)
	f.drainPendingLocked(fl)
}

// holdLocked files m in the reorder buffer and arms the gap timer.
func (f *follower) holdLocked(fl *followed, m *message, doc *lobby.Doc) {
	i := len(fl.pending)
	for i > 0 && fl.pending[i-1].m.first > m.first {
		i--
	}
	fl.pending = append(fl.pending, pendingMessage{})
	copy(fl.pending[i+1:], fl.pending[i:])
	fl.pending[i] = pendingMessage{m: *m, doc: doc}
	if fl.gapTimer == nil {
		fl.gapTimer = time.AfterFunc(gapWait, func() { f.fillGap(fl) })
	}
	if fl.drained == nil {
		fl.drained = make(chan struct{})
	}
}

// drainPendingLocked applies the held messages that no longer follow a
// gap, in order, and disarms the timer once none is left.
func (f *follower) drainPendingLocked(fl *followed) {
	n := 0
	for n < len(fl.pending) && fl.pending[n].m.first <= fl.last+1 {
		p := &fl.pending[n]
		f.applyInOrderLocked(fl, &p.m, p.doc)
		n++
	}
	if n > 0 {
		rest := copy(fl.pending, fl.pending[n:])
		clear(fl.pending[rest:])
		fl.pending = fl.pending[:rest]
	}
	if (len(fl.pending) > 0 || fl.lost) && fl.gapTimer == nil && !fl.dirty && !fl.gone {
		// A gap is left after a read, or a dropped message the read may
		// not have had: give it its own wait.
		fl.gapTimer = time.AfterFunc(gapWait, func() { f.fillGap(fl) })
	}
	if len(fl.pending) == 0 {
		if fl.gapTimer != nil && !fl.lost {
			fl.gapTimer.Stop()
			fl.gapTimer = nil
		}
		if fl.drained != nil {
			close(fl.drained)
			fl.drained = nil
		}
	}
}

// fillGap reads from the log what a gap is missing, when the messages
// before the held ones did not arrive in time. The read runs without the
// lobby's lock, so the lobby's deliveries and sends go on meanwhile; what
// it returns is applied by offset, so anything delivered in between is
// not delivered twice.
func (f *follower) fillGap(fl *followed) {
	fl.mu.Lock()
	fl.gapTimer = nil
	if fl.gone || (!fl.lost && (len(fl.pending) == 0 || fl.pending[0].m.first <= fl.last+1)) {
		f.drainPendingLocked(fl)
		fl.mu.Unlock()
		return
	}
	after := strconv.FormatUint(fl.last, 10)
	fl.lost = false // this read has every message dropped so far
	fl.mu.Unlock()
	ctx, cancel := context.WithTimeout(f.ctx, followTimeout)
	l, err := f.s.read(ctx, fl.id, after)
	cancel()
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if err != nil {
		fl.dirty = true // the sweep reads again, and drains what is held
		f.s.opts.Logger.Warn("cluster: reading a lobby's log", "lobby", fl.id, "err", err)
		return
	}
	f.applyReadLocked(fl, &l)
	f.drainPendingLocked(fl)
}

// applyInOrderLocked delivers the events of m beyond fl.last (m must not
// start beyond a gap), takes its document and queues the record of what
// it numbered here.
func (f *follower) applyInOrderLocked(fl *followed, m *message, doc *lobby.Doc) {
	before := fl.last
	f.applyMessageLocked(fl, m, doc)
	f.recordLocked(fl, before)
}

func (f *follower) applyMessageLocked(fl *followed, m *message, doc *lobby.Doc) {
	for i := range m.events {
		if off := m.first + uint64(i); off > fl.last {
			if off != fl.last+1 { // cannot happen after a catch-up; never deliver out of order
				fl.dirty = true
				return
			}
			f.deliverLocked(fl, &m.events[i], off)
			f.advanceLocked(fl, off)
		}
	}
	switch {
	case m.deleted:
		f.setDocLocked(fl, nil, m.version)
	case m.version > fl.version && (doc != nil || m.doc != nil):
		if doc == nil {
			var err error
			if doc, err = lobby.DecodeDoc(m.doc); err != nil {
				f.s.opts.Logger.Error("cluster: undecodable lobby document", "lobby", fl.id, "err", err)
				fl.dirty = true
				return
			}
		}
		f.setDocLocked(fl, doc, m.version)
	}
}

// catchUpLocked reads the lobby's log after fl.last and its document, and
// delivers what was missed. It reports success; on failure fl is dirty.
func (f *follower) catchUpLocked(ctx context.Context, fl *followed) bool {
	after := ""
	if fl.anchored {
		after = strconv.FormatUint(fl.last, 10)
	}
	l, err := f.s.read(ctx, fl.id, after)
	if err != nil {
		fl.dirty = true
		f.s.opts.Logger.Warn("cluster: reading a lobby's log", "lobby", fl.id, "err", err)
		return false
	}
	fl.lost = false // read under the lock: it has every message dropped before
	f.applyReadLocked(fl, &l)
	f.drainPendingLocked(fl)
	return true
}

// applyReadLocked delivers what a read of the lobby's log returned beyond
// fl.last, takes its document and queues the record of what it numbered.
func (f *follower) applyReadLocked(fl *followed, l *loaded) {
	before := fl.last
	f.applyLogLocked(fl, l)
	f.recordLocked(fl, before)
}

// recordLocked queues the record of what the message (or read) just
// applied numbered for the sessions here, with the position of every
// member here, when something was numbered, a member came here, or the
// log's offsets passed a multiple of anchorEvery since before (then the
// sessions whose positions derive get an entry too); the frames wait for
// it (RecordingSink).
func (f *follower) recordLocked(fl *followed, before uint64) {
	r := f.s.rec
	refresh := fl.last/anchorEvery != before/anchorEvery
	if r == nil || (fl.rec == nil && !fl.joined && !refresh) {
		return
	}
	d := fl.rec
	if d == nil {
		d = f.newDelivery(fl, false)
	}
	fl.rec, fl.joined = nil, false
	d.Last, d.Gone, d.Split, d.Refresh = fl.last, !hasDoc(fl), !fl.allLocal, refresh
	r.sink.Positions(d, fl.users)
	if len(d.Sessions) == 0 {
		// Every session here numbered the message as derived from its
		// last entry (SessionDelivery.Derive): nothing to write, and no
		// frame waits. Nothing else holds d.
		*d = Delivery{}
		f.unused.Put(d)
		return
	}
	r.add(d)
	fl.lastDone = d.done
}

// newDelivery starts the record of a message of fl, with room for an
// entry per member here (Positions adds one for each). sent (a message a
// member sent, not a change of the lobby) makes fl keep its keys, so a
// shard that only receives a lobby's sends has its record key at hand too;
// otherwise the record key is the kept one or, none kept, made when the
// record is written.
func (f *follower) newDelivery(fl *followed, sent bool) *Delivery {
	d, _ := f.unused.Get().(*Delivery)
	if d == nil {
		d = new(Delivery)
	}
	d.Lobby = fl.id
	if sent {
		d.key = f.keptKeys(fl).keys[2]
	} else if k := fl.keys.Load(); k != nil {
		d.key = k.keys[2]
	}
	if len(fl.users) <= len(d.inline) {
		d.Sessions = d.inline[:0]
	} else {
		d.Sessions = make([]SessionDelivery, 0, len(fl.users))
	}
	return d
}

func (f *follower) applyLogLocked(fl *followed, l *loaded) {
	fl.dirty = false
	if !fl.anchored {
		fl.anchored, fl.last = true, l.offset
	}
	for _, e := range l.entries {
		off, ok := entryOffset(e.ID)
		if !ok || off <= fl.last {
			continue
		}
		if off != fl.last+1 {
			f.s.opts.Logger.Error("cluster: lobby events lost (trimmed from the log before this shard read them)",
				"lobby", fl.id, "from", fl.last+1, "to", off-1)
		}
		raw, _ := e.Values["e"].(string)
		if w, _, err := decodeWireEventString(raw); err != nil {
			f.s.opts.Logger.Error("cluster: undecodable lobby event", "lobby", fl.id, "offset", off, "err", err)
		} else {
			f.deliverLocked(fl, &w, off)
		}
		f.advanceLocked(fl, off)
	}
	if l.doc == nil {
		f.setDocLocked(fl, nil, fl.version+1)
	} else {
		f.advanceLocked(fl, max(fl.last, l.offset))
		if l.version > fl.version {
			f.setDocLocked(fl, l.doc, l.version)
		}
	}
}

// versionAt is the event version of log offset off.
func versionAt(off uint64) uint64 { return off << 32 }

// advanceLocked records that every event up to offset off was handled.
// The copy's version never goes back: a catch-up that finds nothing new
// (after a re-subscription) must not undo the fast-path sends counted
// since the last event (versions o<<32 + n), or the sessions here would
// take the next sends for ones they already numbered and drop them.
func (f *follower) advanceLocked(fl *followed, off uint64) {
	fl.last = off
	if fl.doc != nil {
		fl.doc.Version = max(fl.doc.Version, versionAt(off))
	} else if fl.compact != nil {
		fl.compact.version = max(fl.compact.version, versionAt(off))
	}
}

// deliverLocked hands the event at offset off to the Sink with the
// recipients on this shard; none: nothing.
func (f *follower) deliverLocked(fl *followed, w *wireEvent, off uint64) {
	if fl.gone {
		return
	}
	ev, _ := f.events.Get().(*lobby.Event)
	if ev == nil {
		ev = new(lobby.Event)
	}
	// The local recipients go in the pooled event's own To (the Sink does
	// not keep it past the call).
	to := ev.To[:0]
	for i, u := range w.To {
		if w.recipientOn(i, f.s.shard) {
			to = append(to, u)
		}
	}
	if len(to) == 0 {
		ev.To = to
		f.events.Put(ev)
		return
	}
	*ev = lobby.Event{
		LobbyID: fl.id, Version: versionAt(off), Name: w.Name, To: to, Member: w.Member, Lobby: w.Lobby,
		UserID: w.UserID, Reason: w.Reason, From: w.From, Text: w.Text, TS: w.TS,
		Data: w.Data, MatchID: w.MatchID,
	}
	if r := f.s.rec; r != nil {
		if fl.rec == nil {
			// From: a member's lobby.send or chat, not a change of the lobby.
			fl.rec = f.newDelivery(fl, w.From != "")
		}
		r.sink.DeliverRecorded(ev, fl.rec)
	} else {
		f.s.sink.Deliver(ev)
	}
	clear(to) // the pool must not keep user ids alive
	*ev = lobby.Event{To: to[:0]}
	f.events.Put(ev)
}

// setDocLocked takes a new document (nil: the lobby is gone) and files
// the lobby's members on this shard.
func (f *follower) setDocLocked(fl *followed, doc *lobby.Doc, version uint64) {
	if doc != nil {
		// The version of the last event delivered here: that of the log,
		// or of a fast-path send after it, which the old copy counted.
		doc.Version = versionAt(fl.last)
		if fl.doc != nil { // as in advanceLocked: never back
			doc.Version = max(doc.Version, fl.doc.Version)
		} else if fl.compact != nil {
			doc.Version = max(doc.Version, fl.compact.version)
		}
	}
	fl.doc, fl.compact, fl.version = doc, nil, version
	var users []string
	all := doc != nil
	if doc != nil {
		for _, m := range doc.Members {
			if m.Shard == f.s.shard {
				users = append(users, m.UserID)
			} else {
				all = false
			}
		}
	}
	wasActive := fl.active
	fl.allLocal, fl.active = all, len(users) > 0
	if !fl.active && wasActive {
		fl.idle = time.Now().UnixNano()
	}
	f.mu.Lock()
	for _, u := range fl.users {
		if f.local[u] == fl {
			delete(f.local, u)
		}
	}
	for _, u := range users {
		f.local[u] = fl
		if !slices.Contains(fl.users, u) {
			fl.joined = true
		}
	}
	if fl.active != wasActive {
		if fl.active {
			f.active++
		} else {
			f.active--
		}
	}
	f.mu.Unlock()
	fl.users = users
	if f.s.opts.compactAtOnce {
		fl.cold = true
		f.compactLocked(fl)
	}
}

// follow starts following a lobby a user of this shard is in that the
// follower has not heard of (a match made by another shard, a restart):
// anchored at the document's current offset.
func (f *follower) follow(ctx context.Context, id string) (*followed, error) {
	fl := f.get(id)
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.anchored && !fl.dirty && fl.active {
		return fl, nil
	}
	if !f.catchUpLocked(ctx, fl) {
		return nil, redisFailure("follow "+id, errLobbyUnread)
	}
	return fl, nil
}

// localView is the member view of the user's lobby from this shard's
// copy, with the version of the last event this shard delivered for it:
// the snapshot that fits the stream of events here. false: this shard
// does not follow the user's lobby (or its copy is not trusted).
func (f *follower) localView(userID string) (protocol.LobbyView, bool) {
	fl := f.localLobby(userID)
	if fl == nil {
		return protocol.LobbyView{}, false
	}
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.dirty {
		return protocol.LobbyView{}, false
	}
	d := f.docLocked(fl)
	if d == nil || d.Member(userID) == nil {
		return protocol.LobbyView{}, false
	}
	return d.View(true), true
}

// copyOf is a private copy of this shard's document of lobby id, with its
// version, for a mutation to run on; false when the shard does not follow
// the lobby or its copy is not current.
func (f *follower) copyOf(id string) (*lobby.Doc, uint64, bool) {
	f.mu.RLock()
	fl := f.lobbies[id]
	f.mu.RUnlock()
	if fl == nil {
		return nil, 0, false
	}
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if !fl.active || !fl.anchored || fl.dirty || !hasDoc(fl) {
		return nil, 0, false
	}
	// A compact document is decoded into the copy and stays compact: the
	// change the copy is for brings a new document anyway.
	raw, version := []byte(nil), uint64(0)
	if c := fl.compact; c != nil {
		raw, version = c.raw, c.version
	} else {
		var err error
		if raw, err = lobby.AppendDoc(nil, fl.doc); err != nil {
			return nil, 0, false
		}
		version = fl.doc.Version
	}
	d, err := lobby.DecodeDoc(raw)
	if err != nil {
		return nil, 0, false
	}
	d.Version = version
	return d, fl.version, true
}

// resync brings one lobby up to date (after a version conflict).
func (f *follower) resync(ctx context.Context, fl *followed) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	f.catchUpLocked(ctx, fl)
}

func (f *follower) stats() lobby.Stats {
	f.mu.RLock()
	st := lobby.Stats{Lobbies: f.active, Members: len(f.local)}
	list := make([]*followed, 0, f.active)
	for _, fl := range f.lobbies {
		list = append(list, fl)
	}
	f.mu.RUnlock()
	// followed.mu comes before follower.mu (docs/locks.md): each copy is
	// read under its own lock once the map's is released. A member counts
	// if it is on this shard.
	for _, fl := range list {
		fl.mu.Lock()
		switch c := fl.compact; {
		case !fl.active:
		case fl.doc != nil:
			st.Count(fl.doc, func(uid string) bool { return slices.Contains(fl.users, uid) })
		case c != nil:
			if c.inGame {
				st.InGame++
			} else {
				st.Open++
			}
			st.Disconnected += c.disconnected
		}
		fl.mu.Unlock()
	}
	return st
}

// forgetAll drops every lobby this shard follows (LobbyStore.Forget).
func (f *follower) forgetAll() {
	for _, fl := range f.snapshot() {
		fl.mu.Lock()
		f.setDocLocked(fl, nil, 0)
		fl.anchored, fl.last, fl.dirty, fl.gone = false, 0, false, true
		fl.rec, fl.joined, fl.lastDone, fl.lost = nil, false, nil, false
		clear(fl.pending)
		fl.pending = fl.pending[:0]
		f.drainPendingLocked(fl) // nothing held: stops the timer, wakes waiters
		fl.mu.Unlock()
	}
	f.mu.Lock()
	clear(f.lobbies)
	f.mu.Unlock()
	if f.s.rec != nil {
		f.s.rec.drop()
	}
}
