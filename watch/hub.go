package watch

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lobbyd/lobbyd/lobby"
)

// Defaults of Options (docs/protocol.md §4 and §6).
const (
	DefaultMaxWatchers = 10000
	DefaultCoalesce    = 250 * time.Millisecond
	DefaultKeepAlive   = 15 * time.Second
	DefaultMaxQueued   = 256 << 10
	DefaultMaxTracked  = 1000
	DefaultWriteStall  = 10 * time.Second
)

// Options configure a Hub. Zero values take the defaults above.
type Options struct {
	// MaxWatchers bounds the open streams (max_watchers); Add over it
	// returns ErrFull.
	MaxWatchers int
	// Coalesce is the shortest time between two rounds of changes: a
	// lobby gets at most one event per round, with its last state.
	Coalesce time.Duration
	// KeepAlive is how often an idle stream gets a comment line.
	KeepAlive time.Duration
	// MaxQueued bounds the bytes of frames queued for one watcher and not
	// yet written; over it the watcher gets event: overflow.
	MaxQueued int
	// MaxTracked bounds the lobbies one watcher was sent and still shows
	// (it must hear of their changes); over it: event: overflow.
	MaxTracked int
	// WriteStall is how long one write to a client may take before the
	// client counts as gone.
	WriteStall time.Duration
	// Logger: nil is slog.Default().
	Logger *slog.Logger
}

func (o *Options) applyDefaults() {
	if o.MaxWatchers <= 0 {
		o.MaxWatchers = DefaultMaxWatchers
	}
	if o.Coalesce <= 0 {
		o.Coalesce = DefaultCoalesce
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = DefaultKeepAlive
	}
	if o.MaxQueued <= 0 {
		o.MaxQueued = DefaultMaxQueued
	}
	if o.MaxTracked <= 0 {
		o.MaxTracked = DefaultMaxTracked
	}
	if o.WriteStall <= 0 {
		o.WriteStall = DefaultWriteStall
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Errors of Add.
var (
	// ErrFull: MaxWatchers streams are open (HTTP 503).
	ErrFull = errors.New("watch: too many watchers")
	// ErrClosed: the hub is draining or closed (HTTP 503).
	ErrClosed = errors.New("watch: not accepting watchers")
)

// Hub follows one shard's listing and feeds its watchers. Safe for
// concurrent use.
type Hub struct {
	feed lobby.ListingFeed
	opts Options
	log  *slog.Logger

	// Changes noted by the feed, guarded by pendMu (a leaf: the feed calls
	// note under lobby locks).
	pendMu   sync.Mutex
	pending  map[string]struct{}
	inflight map[string]struct{} // ids a round took and has not fanned out yet
	resync   bool
	wake     chan struct{} // capacity 1: a round is due

	// Guarded by mu.
	mu       sync.Mutex
	groups   map[string]*group // filter key → watchers with those filters
	nextID   uint64            // the last SSE id given
	roundNo  uint64            // rounds fanned out
	closed   bool              // draining or closed: Add refuses
	watchers map[*Watcher]struct{}

	// Owned by the run goroutine: each lobby's listing record as of the
	// last round, to tell "starts matching" from "matched already".
	prev map[string]lobby.Listed

	open      atomic.Int64 // streams not yet ended by their writer
	closeOnce sync.Once
	stop      chan struct{}
	done      chan struct{}
}

// group is the watchers that share one set of filters.
type group struct {
	key  string
	q    lobby.ListQuery
	ws   map[*Watcher]struct{}
	refs map[string]int // lobby id → how many of ws track it
}

// New starts a hub on feed. Close stops it.
func New(feed lobby.ListingFeed, opts Options) *Hub {
	opts.applyDefaults()
	h := &Hub{
		feed:     feed,
		opts:     opts,
		log:      opts.Logger,
		pending:  make(map[string]struct{}),
		wake:     make(chan struct{}, 1),
		groups:   make(map[string]*group),
		watchers: make(map[*Watcher]struct{}),
		prev:     make(map[string]lobby.Listed),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	// Notes first, then the snapshot: a change between the two is in
	// both, which a round handles as "matched already".
	feed.WatchListing(h.note)
	feed.ListingIndex().Each(func(id string, ls lobby.Listed) { h.prev[id] = ls })
	go h.run()
	return h
}

// Len is the number of open streams.
func (h *Hub) Len() int { return int(h.open.Load()) }

// note is the feed's callback: it runs under the changed lobby's lock.
func (h *Hub) note(id string) {
	h.pendMu.Lock()
	if id == "" {
		h.resync = true
	} else {
		h.pending[id] = struct{}{}
	}
	h.pendMu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

func (h *Hub) run() {
	defer close(h.done)
	var last time.Time
	for {
		select {
		case <-h.wake:
		case <-h.stop:
			return
		}
		// At most one round per Coalesce: the changes of the meantime wait
		// in pending, where repeated ones of a lobby collapse into one.
		if wait := h.opts.Coalesce - time.Since(last); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-h.stop:
				t.Stop()
				return
			}
		}
		last = time.Now()
		h.round()
	}
}

// change is one lobby's state in a round.
type change struct {
	id      string
	now     lobby.Listed
	nowOK   bool // listed now (public, view available)
	src     lobby.ListedView
	json    []byte // the view; nil while nobody watches
	was     lobby.Listed
	wasOK   bool   // listed at the last round
	frame   []byte // event: lobby, made for the first watcher that needs it
	removed []byte // event: lobby_removed, likewise
}

// round handles the changes noted since the last one.
func (h *Hub) round() {
	h.pendMu.Lock()
	ids, resync := h.pending, h.resync
	h.pending, h.resync = make(map[string]struct{}, len(ids)), false
	h.inflight = ids
	h.pendMu.Unlock()
	idx := h.feed.ListingIndex()
	if resync {
		// The feed replaced its index (a replica rebuilt from Redis):
		// what each watcher was sent may differ from it in any way. A full
		// resend is a correct answer (docs/protocol.md §4): end every
		// stream; clients reconnect for a fresh list.
		prev := make(map[string]lobby.Listed, len(h.prev))
		idx.Each(func(id string, ls lobby.Listed) { prev[id] = ls })
		h.prev = prev
		h.mu.Lock()
		n := len(h.watchers)
		for w := range h.watchers {
			h.endLocked(w, stateEnded)
		}
		h.mu.Unlock()
		if n > 0 {
			h.log.Info("live lobby list: the listing was rebuilt; watchers reconnect", "watchers", n)
		}
		return
	}
	if len(ids) == 0 {
		return
	}
	// Views are read holding no lock of the hub: a view takes the lobby's
	// lock, under which the feed calls note. With nobody watching, none is
	// read: a view written as JSON stays cached in its lobby until the
	// lobby changes, and the listing of every public lobby would then cost
	// an idle shard about 1.4 KiB a lobby of 8 for nothing
	// (docs/architecture.md, "Memory per idle player").
	h.mu.Lock()
	watched := len(h.groups) > 0
	h.mu.Unlock()
	changes := make([]change, 0, len(ids))
	for id := range ids {
		c := change{id: id}
		c.now, c.src, _, c.nowOK = idx.Entry(id)
		changes = append(changes, c)
	}
	if watched {
		h.readViews(changes)
	}
	for i := range changes {
		c := &changes[i]
		c.was, c.wasOK = h.prev[c.id]
		if c.nowOK {
			h.prev[c.id] = c.now
		} else {
			delete(h.prev, c.id)
		}
	}
	h.mu.Lock()
	if !watched && len(h.groups) > 0 {
		// Someone started watching while the views were skipped.
		h.mu.Unlock()
		h.readViews(changes)
		h.mu.Lock()
	}
	defer h.mu.Unlock()
	h.roundNo++
	for i := range changes {
		c := &changes[i]
		for _, g := range h.groups {
			h.fanOutLocked(g, c)
		}
	}
	h.pendMu.Lock()
	h.inflight = nil
	h.pendMu.Unlock()
}

// prefetchChunk is how many views a round asks a lobby.ViewPrefetcher for
// at once: far fewer than its cache holds, so that they are still there
// when read.
const prefetchChunk = 100

// readViews reads the view of each change listed now (holding no lock of
// the hub); one that cannot be read counts as not listed. A feed that
// reads views from elsewhere is asked for them a chunk at a time.
func (h *Hub) readViews(changes []change) {
	pf, _ := h.feed.(lobby.ViewPrefetcher)
	var ids []string
	for start := 0; start < len(changes); start += prefetchChunk {
		chunk := changes[start:min(start+prefetchChunk, len(changes))]
		if pf != nil {
			ids = ids[:0]
			for i := range chunk {
				if chunk[i].nowOK {
					ids = append(ids, chunk[i].id)
				}
			}
			pf.PrefetchViews(context.Background(), ids)
		}
		for i := range chunk {
			if c := &chunk[i]; c.nowOK {
				c.json, c.nowOK = c.src.AppendViewJSON(nil)
			}
		}
	}
}

// fanOutLocked gives c to the watchers of g it concerns; h.mu held.
func (h *Hub) fanOutLocked(g *group, c *change) {
	isM := c.nowOK && c.now.Matches(&g.q)
	wasM := c.wasOK && c.was.Matches(&g.q)
	refs := g.refs[c.id]
	switch {
	case isM && wasM && refs == 0:
		return // matched before and nobody here was sent it
	case !isM && refs == 0:
		return
	}
	for w := range g.ws {
		_, sent := w.sent[c.id]
		switch {
		case isM && (sent || !wasM):
			if r, ok := w.skip[c.id]; ok && !sent {
				delete(w.skip, c.id)
				if h.roundNo <= r+2 {
					continue // matched already when the watcher's page was read
				}
			}
			if !sent && len(w.sent) >= h.opts.MaxTracked {
				h.endLocked(w, stateOverflow)
				continue
			}
			if c.frame == nil {
				c.frame = h.lobbyFrameLocked(c.json)
			}
			if !sent {
				w.sent[c.id] = struct{}{}
				g.refs[c.id]++
			}
			h.queueLocked(w, c.frame)
		case !isM && sent:
			if c.removed == nil {
				c.removed = h.removedFrameLocked(c.id)
			}
			delete(w.sent, c.id)
			if g.refs[c.id]--; g.refs[c.id] <= 0 {
				delete(g.refs, c.id)
			}
			h.queueLocked(w, c.removed)
		}
	}
}

// Add registers a watcher with the filters of q (Cursor must be empty)
// and queues its first frames: the page of q, newest first, then synced.
// Errors: a *protocol.Error for a bad query, ErrFull, ErrClosed. The
// caller must run the watcher's Stream (or Close it).
func (h *Hub) Add(q lobby.ListQuery) (*Watcher, error) {
	q.Cursor = ""
	checked, _, err := lobby.CheckListQuery(q)
	if err != nil {
		return nil, err
	}
	if pf, ok := h.feed.(lobby.ViewPrefetcher); ok {
		// The page's views, read at once before h.mu is taken: under it
		// they come from the feed's cache, not from Redis one by one.
		var ids []string
		if _, err := h.feed.ListingIndex().Page(checked, func(id string, _ lobby.ListedView) { ids = append(ids, id) }); err == nil {
			pf.PrefetchViews(context.Background(), ids)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	if len(h.watchers) >= h.opts.MaxWatchers {
		return nil, ErrFull
	}
	key := filterKey(&checked)
	g := h.groups[key]
	if g == nil {
		g = &group{key: key, q: checked, ws: make(map[*Watcher]struct{}), refs: make(map[string]int)}
		g.q.Limit = 0
		h.groups[key] = g
	}
	w := &Watcher{h: h, g: g, sent: make(map[string]struct{}, checked.Limit), wake: make(chan struct{}, 1)}
	// The page is read under h.mu, so that no round's frames can come
	// before it; a lobby in it that changed meanwhile is sent again by the
	// round, as it is now.
	idx := h.feed.ListingIndex()
	_, err = idx.Page(checked, func(id string, src lobby.ListedView) {
		js, ok := src.AppendViewJSON(nil)
		if !ok {
			return
		}
		w.sent[id] = struct{}{}
		g.refs[id]++
		w.queue = append(w.queue, h.lobbyFrameLocked(js))
	})
	if err != nil {
		for id := range w.sent {
			if g.refs[id]--; g.refs[id] <= 0 {
				delete(g.refs, id)
			}
		}
		if len(g.ws) == 0 {
			delete(h.groups, key)
		}
		return nil, err
	}
	// A lobby whose change is noted but not yet handled by a round may
	// match now, beyond the page, while the hub's last state of it does
	// not: the round would take it for a lobby that starts matching. The
	// page was read after that change, so it is no news to this watcher.
	// The notes are handled by the round under way (inflight) or the next.
	h.pendMu.Lock()
	for _, set := range []map[string]struct{}{h.pending, h.inflight} {
		for id := range set {
			if _, in := w.sent[id]; in {
				continue
			}
			if ls, _, _, ok := idx.Entry(id); ok && ls.Matches(&g.q) {
				if w.skip == nil {
					w.skip = make(map[string]uint64)
				}
				w.skip[id] = h.roundNo
			}
		}
	}
	h.pendMu.Unlock()
	h.nextID++
	w.queue = append(w.queue, appendFrame(nil, h.nextID, "synced", []byte("{}")))
	g.ws[w] = struct{}{}
	h.watchers[w] = struct{}{}
	h.open.Add(1)
	return w, nil
}

// Drain refuses new watchers and ends each stream at its own random time
// within spread, as sockets are closed during a drain.
func (h *Hub) Drain(spread time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for w := range h.watchers {
		after := time.Duration(0)
		if spread > 0 {
			after = time.Duration(rand.Int64N(int64(spread)))
		}
		time.AfterFunc(after, w.end)
	}
}

// Close ends every stream at once and stops the hub.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	for w := range h.watchers {
		h.endLocked(w, stateEnded)
	}
	h.mu.Unlock()
	h.closeOnce.Do(func() {
		h.feed.WatchListing(nil)
		close(h.stop)
	})
	<-h.done
}

// endLocked ends w's stream with state (overflow or ended) and stops
// feeding it; h.mu held.
func (h *Hub) endLocked(w *Watcher, state int) {
	h.detachLocked(w)
	w.mu.Lock()
	if w.state == stateLive {
		w.state = state
	}
	w.mu.Unlock()
	w.signal()
}

// detachLocked takes w out of its group; h.mu held. Idempotent.
func (h *Hub) detachLocked(w *Watcher) {
	if _, ok := h.watchers[w]; !ok {
		return
	}
	delete(h.watchers, w)
	g := w.g
	delete(g.ws, w)
	for id := range w.sent {
		if g.refs[id]--; g.refs[id] <= 0 {
			delete(g.refs, id)
		}
	}
	w.sent = nil
	if len(g.ws) == 0 {
		delete(h.groups, g.key)
	}
}

// queueLocked queues frame for w, or ends w with overflow when its queue
// is full; h.mu held.
func (h *Hub) queueLocked(w *Watcher, frame []byte) {
	w.mu.Lock()
	if w.state != stateLive {
		w.mu.Unlock()
		return
	}
	if w.queued+len(frame) > h.opts.MaxQueued {
		w.mu.Unlock()
		h.endLocked(w, stateOverflow)
		return
	}
	w.queue = append(w.queue, frame)
	w.queued += len(frame)
	w.mu.Unlock()
	w.signal()
}

func (h *Hub) lobbyFrameLocked(view []byte) []byte {
	h.nextID++
	return appendFrame(make([]byte, 0, len(view)+40), h.nextID, "lobby", view)
}

func (h *Hub) removedFrameLocked(id string) []byte {
	h.nextID++
	q, _ := json.Marshal(id) // a string always encodes
	data := append(append([]byte(`{"id":`), q...), '}')
	return appendFrame(nil, h.nextID, "lobby_removed", data)
}

// filterKey is the canonical text of q's filters (not limit, not cursor).
func filterKey(q *lobby.ListQuery) string {
	var b strings.Builder
	b.WriteString(q.Mode)
	b.WriteByte(0)
	b.WriteString(q.Region)
	b.WriteByte(0)
	b.WriteString(q.State)
	b.WriteByte(0)
	if q.HasSpace {
		b.WriteByte('1')
	}
	keys := make([]string, 0, len(q.Attrs))
	for k := range q.Attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.WriteByte(0)
		b.WriteString(strconv.Quote(k))
		b.WriteByte('=')
		b.WriteString(strconv.Quote(q.Attrs[k]))
	}
	return b.String()
}

// appendFrame appends one SSE event. data is one line of JSON (the
// encoders escape every newline).
func appendFrame(dst []byte, id uint64, event string, data []byte) []byte {
	dst = append(dst, "id: "...)
	dst = strconv.AppendUint(dst, id, 10)
	dst = append(dst, "\nevent: "...)
	dst = append(dst, event...)
	dst = append(dst, "\ndata: "...)
	dst = append(dst, data...)
	return append(dst, "\n\n"...)
}
