package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

// The replica's views (docs/cluster.md, "Listing"). The replica's index
// keeps of each lobby only what filters, order and cursors need: its
// lobby.Listed record, creation sequence and version (replicaEntry).
// Keeping every public lobby's JSON view too cost each shard ~1.4 KB per
// lobby of 8, for views that lobby browsers, which read the first pages,
// mostly never ask for. A page's views come from a cache of the views that
// pages showed lately, bounded in bytes (ListingOptions.ViewCacheBytes),
// and the ones it lacks from the hash {idx}:views, which holds every
// listed lobby's record, in one HMGET.
//
// Versions keep a view consistent with the index entry it is shown for: a
// view is served for an entry only at the entry's version or a newer one
// (the hash may be ahead of the replica by the log entries it has not
// applied yet; the newer view is what the next page would show anyway). A
// lobby whose record is gone from the hash (deleted since the index was
// walked) or older than the entry (Redis went back in time; the replica
// rebuilds on its next idle check) is left out of the page, which is then
// shorter than the limit: the cursor still follows the walk, as for a
// lobby of the MemoryStore deleted between its walk and its view
// (lobby.ListedView), so no lobby that existed throughout is skipped.

// replicaEntry is a listed lobby as the replica's index holds it: its view
// is read through the Listing when a page shows it.
type replicaEntry struct {
	l       *Listing
	id      string // shares the index's copy
	version uint64
}

// AppendViewJSON implements lobby.ListedView for callers that walk the
// index themselves (the live lobby list): from the cache, else one HGET.
// false when the lobby is no longer in the hash or Redis failed.
func (e *replicaEntry) AppendViewJSON(dst []byte) ([]byte, bool) {
	view, err := e.l.viewOf(context.Background(), e.id, e.version)
	if err != nil {
		if !errors.Is(err, lobby.ErrNotFound) {
			e.l.log.Warn("listing: a view could not be read", "lobby", e.id, "err", err)
		}
		return dst, false
	}
	return append(dst, view...), true
}

// ListView implements lobby.ListedView by decoding AppendViewJSON's view.
func (e *replicaEntry) ListView() (protocol.LobbyView, bool) {
	view, err := e.l.viewOf(context.Background(), e.id, e.version)
	if err != nil {
		return protocol.LobbyView{}, false
	}
	return decodeView(view)
}

// decodeView decodes a view as the writer encoded it; attrs numbers come
// back as int64 (or uint64) when integral, else float64, so the view
// encodes to the same JSON again.
func decodeView(view string) (protocol.LobbyView, bool) {
	var out protocol.LobbyView
	dec := gojson.NewDecoder(strings.NewReader(view))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return protocol.LobbyView{}, false // the writer encoded it: cannot happen
	}
	for k, a := range out.Attrs {
		if n, ok := a.(json.Number); ok {
			out.Attrs[k] = attrNumber(n)
		}
	}
	return out, true
}

func attrNumber(n json.Number) any {
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return i
	}
	if u, err := strconv.ParseUint(string(n), 10, 64); err == nil {
		return u
	}
	f, _ := strconv.ParseFloat(string(n), 64)
	return f
}

// listingReadTimeout bounds a view read that the caller's context does
// not bound sooner: a listing answers unavailable within it while Redis
// is away, as the lobby store's reads do (gateway: clusterOpTimeout).
const listingReadTimeout = 2 * time.Second

func readContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) < listingReadTimeout {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, listingReadTimeout)
}

// viewOf is the view of the lobby id for its index entry at version: from
// the cache, else one HGET. lobby.ErrNotFound: gone from the hash, or
// older there than the entry.
func (l *Listing) viewOf(ctx context.Context, id string, version uint64) (string, error) {
	if view, ok := l.views.get(id, version); ok {
		return view, nil
	}
	ctx, cancel := readContext(ctx)
	defer cancel()
	rec, err := l.rdb.HGet(ctx, l.ks.listingViews(), id).Result()
	if errors.Is(err, redis.Nil) {
		return "", lobby.ErrNotFound
	}
	if err != nil {
		return "", redisFailure("listing view", err)
	}
	got, view, ok := viewOfRecord(rec)
	if !ok || got < version {
		return "", lobby.ErrNotFound
	}
	l.views.put(id, got, view)
	return view, nil
}

// pageLobby is one lobby of a page being served.
type pageLobby struct {
	id      string
	version uint64 // the index entry's
	view    string // "" until found
}

// pageScratch is what serving one page needs, pooled: a page of views
// found in the cache allocates nothing.
type pageScratch struct {
	lobbies []pageLobby
	miss    []string // ids the cache lacked, for HMGET
	missAt  []int    // their places in lobbies
}

var pageScratches = sync.Pool{New: func() any {
	return &pageScratch{lobbies: make([]pageLobby, 0, lobby.MaxListLimit)}
}}

func (ps *pageScratch) release() {
	clear(ps.lobbies) // keep no view alive from the pool
	clear(ps.miss)
	ps.lobbies, ps.miss, ps.missAt = ps.lobbies[:0], ps.miss[:0], ps.missAt[:0]
	pageScratches.Put(ps)
}

// page walks the index for q and finds the page's views: the cached ones,
// and the others with one HMGET (within the context's deadline or
// listingReadTimeout; a failure is unavailable). It returns the next
// cursor; the caller releases ps.
func (l *Listing) page(ctx context.Context, q lobby.ListQuery) (*pageScratch, string, error) {
	if !l.ready.Load() {
		return nil, "", errListingNotReady
	}
	ps := pageScratches.Get().(*pageScratch)
	next, err := l.index.Load().Page(q, func(id string, src lobby.ListedView) {
		ps.lobbies = append(ps.lobbies, pageLobby{id: id, version: src.(*replicaEntry).version})
	})
	if err == nil {
		l.views.find(ps.lobbies)
		err = l.fetch(ctx, ps)
	}
	if err != nil {
		ps.release()
		return nil, "", err
	}
	return ps, next, nil
}

// fetch reads the views ps.lobbies lacks in one HMGET and caches them.
func (l *Listing) fetch(ctx context.Context, ps *pageScratch) error {
	for i := range ps.lobbies {
		if ps.lobbies[i].view == "" {
			ps.miss = append(ps.miss, ps.lobbies[i].id)
			ps.missAt = append(ps.missAt, i)
		}
	}
	if len(ps.miss) == 0 {
		return nil
	}
	l.fetches.Add(1)
	ctx, cancel := readContext(ctx)
	defer cancel()
	vals, err := l.rdb.HMGet(ctx, l.ks.listingViews(), ps.miss...).Result()
	if err != nil {
		return redisFailure("listing page", err)
	}
	if len(vals) != len(ps.miss) {
		return redisFailure("listing page", fmt.Errorf("HMGET of %d fields answered %d", len(ps.miss), len(vals)))
	}
	for j, v := range vals {
		p := &ps.lobbies[ps.missAt[j]]
		rec, ok := v.(string)
		if !ok {
			continue // deleted since the walk: left out
		}
		version, view, ok := viewOfRecord(rec)
		if !ok || version < p.version {
			continue
		}
		p.view = view
		l.views.put(p.id, version, view)
	}
	return nil
}

// PrefetchViews implements lobby.ViewPrefetcher: the views of the listed
// lobbies among ids that the cache lacks, read with one HMGET into the
// cache (the live lobby list reads them next). A failure is logged; the
// views are then read one by one when asked for, or left out.
func (l *Listing) PrefetchViews(ctx context.Context, ids []string) {
	if len(ids) == 0 {
		return
	}
	ps := pageScratches.Get().(*pageScratch)
	defer ps.release()
	idx := l.index.Load()
	for _, id := range ids {
		if src, _, ok := idx.Source(id); ok {
			ps.lobbies = append(ps.lobbies, pageLobby{id: id, version: src.(*replicaEntry).version})
		}
	}
	l.views.find(ps.lobbies)
	if err := l.fetch(ctx, ps); err != nil {
		l.log.Warn("listing: views could not be read", "lobbies", len(ps.miss), "err", err)
	}
}

// viewOfRecord is the version and view JSON of a hash record, without
// decoding the view; false for a removal or a malformed record.
func viewOfRecord(rec string) (uint64, string, bool) {
	vs, rest, ok1 := strings.Cut(rec, " ")
	_, payload, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 {
		return 0, "", false
	}
	version, err := strconv.ParseUint(vs, 10, 64)
	if err != nil || version == 0 {
		return 0, "", false
	}
	view, ok := viewOfPayload(payload)
	return version, view, ok
}

// viewOfPayload finds the view in a record's payload as the writer
// encodes it (listingPayload, compact): {"l":{…},"v":{…}}. The listing
// record is skipped as JSON (strings and nesting), so no text inside it
// can be taken for the view's key.
func viewOfPayload(p string) (string, bool) {
	const head, mid = `{"l":`, `,"v":`
	if !strings.HasPrefix(p, head) {
		return "", false
	}
	end, ok := skipJSONObject(p, len(head))
	if !ok || !strings.HasPrefix(p[end:], mid) || !strings.HasSuffix(p, "}") {
		return "", false
	}
	view := p[end+len(mid) : len(p)-1]
	if len(view) < 2 || view[0] != '{' {
		return "", false
	}
	if e, ok := skipJSONObject(view, 0); !ok || e != len(view) {
		return "", false
	}
	return view, true
}

// skipJSONObject returns the index just after the JSON object that starts
// at s[i]; false when s[i] is not '{' or the object does not end.
func skipJSONObject(s string, i int) (int, bool) {
	if i >= len(s) || s[i] != '{' {
		return 0, false
	}
	depth, inString := 0, false
	for ; i < len(s); i++ {
		c := s[i]
		if inString {
			switch c {
			case '\\':
				i++ // the escaped byte
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				return i + 1, true
			}
		}
	}
	return 0, false
}

// viewCache holds the views that pages showed lately, at most maxBytes of
// them (views, ids and bookkeeping), least recently shown out first. Its
// lock is a leaf (docs/locks.md). Views are immutable strings, so a page
// uses them after the lock is released.
type viewCache struct {
	mu       sync.Mutex
	maxBytes int
	bytes    int
	m        map[string]*cachedView
	lru      cachedView // sentinel: lru.next is the most recently shown
}

type cachedView struct {
	id         string
	version    uint64
	view       string
	prev, next *cachedView
}

// cachedViewOverhead is what a cached view costs besides its view and id:
// the node (64 bytes) and its map entry, rounded up.
const cachedViewOverhead = 128

func (c *cachedView) cost() int { return len(c.view) + len(c.id) + cachedViewOverhead }

func newViewCache(maxBytes int) *viewCache {
	c := &viewCache{maxBytes: maxBytes, m: make(map[string]*cachedView)}
	c.lru.next, c.lru.prev = &c.lru, &c.lru
	return c
}

func (c *viewCache) unlinkLocked(e *cachedView) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (c *viewCache) frontLocked(e *cachedView) {
	e.prev, e.next = &c.lru, c.lru.next
	c.lru.next.prev = e
	c.lru.next = e
}

// get is the cached view of id at version or newer.
func (c *viewCache) get(id string, version uint64) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[id]
	if e == nil || e.version < version {
		return "", false
	}
	c.unlinkLocked(e)
	c.frontLocked(e)
	return e.view, true
}

// find fills in the view of each lobby of a page that the cache holds at
// its version or newer, under one lock.
func (c *viewCache) find(page []pageLobby) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range page {
		p := &page[i]
		if e := c.m[p.id]; e != nil && e.version >= p.version {
			p.view = e.view
			c.unlinkLocked(e)
			c.frontLocked(e)
		}
	}
}

// put caches the view of id at version, unless it holds a newer one, and
// drops the least recently shown views over the bound.
func (c *viewCache) put(id string, version uint64, view string) {
	n := &cachedView{id: id, version: version, view: view}
	if n.cost() > c.maxBytes {
		return // larger than the whole cache (or the cache is off)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[id]; e != nil {
		if e.version >= version {
			return
		}
		c.removeLocked(e)
	}
	c.m[id] = n
	c.frontLocked(n)
	c.bytes += n.cost()
	for c.bytes > c.maxBytes {
		c.removeLocked(c.lru.prev)
	}
}

// refresh replaces a cached view of id older than version with view (the
// replica applied a change of a lobby that pages show); a lobby not cached
// stays out. view is called only then, so the log's views of other
// lobbies are never extracted.
func (c *viewCache) refresh(id string, version uint64, view func() (string, bool)) {
	c.mu.Lock()
	e := c.m[id]
	stale := e != nil && e.version < version
	c.mu.Unlock()
	if !stale {
		return
	}
	if v, ok := view(); ok {
		c.put(id, version, v)
	}
}

// remove drops the view of id.
func (c *viewCache) remove(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[id]; e != nil {
		c.removeLocked(e)
	}
}

func (c *viewCache) removeLocked(e *cachedView) {
	c.unlinkLocked(e)
	delete(c.m, e.id)
	c.bytes -= e.cost()
}

// clear drops every view (a rebuild: the listing may have lost lobbies).
func (c *viewCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
	c.lru.next, c.lru.prev = &c.lru, &c.lru
	c.bytes = 0
}

// stats is the number and bytes of views cached.
func (c *viewCache) stats() (int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m), c.bytes
}

// appendPageJSON writes a page as JSON, as lobby.Index.AppendListJSON
// does, from the views found.
func appendPageJSON(dst []byte, page []pageLobby, next string) []byte {
	dst = append(dst, `{"lobbies":[`...)
	first := true
	for i := range page {
		if page[i].view == "" {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		dst = append(dst, page[i].view...)
		first = false
	}
	dst = append(dst, `],"next_cursor":`...)
	if next == "" {
		return append(dst, "null}"...)
	}
	// A cursor is URL-safe base64: nothing in it needs escaping.
	dst = append(dst, '"')
	dst = append(dst, next...)
	return append(dst, `"}`...)
}
