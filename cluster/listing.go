package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

// The listing (docs/cluster.md, "Listing"): every shard answers
// GET /v1/lobbies from a replica of every shard's public lobbies, a
// lobby.Index in memory, and the page's views from a bounded cache or, for
// those it lacks, one HMGET of the hash (listing_views.go). Writers (the
// lobby store's OnPublicChange, on whatever shard ran the change) put each
// public view into the hash {idx}:views and append it to the stream
// {idx}:log with one script; every replica bootstraps from the hash and
// tails the log.

// The listing's keys, all in the {idx} slot so the write script touches
// one slot ({idx}:seq, the creation sequence, is the lobby store's).
func (k Keyspace) listingViews() string { return k.Prefix + "{idx}:views" }
func (k Keyspace) listingLog() string   { return k.Prefix + "{idx}:log" }
func (k Keyspace) listingN() string     { return k.Prefix + "{idx}:n" }
func (k Keyspace) listingGen() string   { return k.Prefix + "{idx}:gen" }
func (k Keyspace) listingDead(id string) string {
	return k.Prefix + "{idx}:dead:" + id
}

// Listing defaults.
const (
	DefaultListingMaxLog       = 100_000
	DefaultListingBlock        = time.Second
	DefaultListingBatch        = 1000
	DefaultListingTombstoneTTL = 10 * time.Minute
	// DefaultListingViewCacheBytes holds about 700 views of lobbies of 8
	// (~1.4 KB each): the first pages of many filters.
	DefaultListingViewCacheBytes = 1 << 20
)

// ListingOptions configure a Listing. The zero value is the defaults.
type ListingOptions struct {
	// MaxLog is the length the log is trimmed to (approximately, XADD
	// MAXLEN ~). A replica that falls further behind rebuilds from the
	// hash. 0: DefaultListingMaxLog.
	MaxLog int64
	// Block is how long one XREAD waits for news; when it returns empty the
	// replica checks that Redis did not lose the listing (restart, failover
	// to a stale replica). 0: DefaultListingBlock.
	Block time.Duration
	// Batch is the most log entries one XREAD returns. 0:
	// DefaultListingBatch.
	Batch int64
	// TombstoneTTL is how long a removed lobby's version is remembered, so
	// a write of an older version that arrives late (another shard's,
	// delayed) cannot list it again. 0: DefaultListingTombstoneTTL.
	TombstoneTTL time.Duration
	// ViewCacheBytes bounds the views that pages showed lately and that
	// the replica keeps for the next pages (views, ids and bookkeeping); a
	// view not cached is read from Redis. 0: DefaultListingViewCacheBytes;
	// negative: no cache, every view is read.
	ViewCacheBytes int
	// Logger reports rebuilds and Redis errors. nil: slog.Default().
	Logger *slog.Logger
}

// Listing is one shard's view of every shard's public lobbies: the writer
// of its own changes and a replica of everyone's, kept in a lobby.Index
// without views. Its List, Get and AppendListJSON (lobby.JSONLister) walk
// the index in memory and read the views their page lacks in the cache
// with one Redis command. Safe for concurrent use.
type Listing struct {
	rdb  redis.UniversalClient
	ks   Keyspace
	opts ListingOptions
	log  *slog.Logger

	index   atomic.Pointer[lobby.Index] // swapped whole by a rebuild
	ready   atomic.Bool                 // loaded once and caught up
	pos     atomic.Uint64               // log position (entry n) applied
	applied atomic.Uint64               // log entries applied, for metrics and benchmarks
	health  atomic.Pointer[error]       // last Redis failure, nil once reads succeed again
	fetches atomic.Uint64               // pages and views that read Redis, for tests and benchmarks

	views *viewCache // the views pages showed lately

	// Owned by the run goroutine (and rebuild, which it calls).
	gen string // the {idx}:gen the replica follows

	mu       sync.Mutex
	onChange func(id string) // WatchListing's; set on every index served
	moved    chan struct{}   // closed and replaced whenever pos moves (wait)
	cancel   context.CancelFunc
	done     chan struct{}
	started  bool
}

// NewListing returns a Listing of the cluster ks. It reads nothing until
// Start; Write works at once.
func NewListing(rdb redis.UniversalClient, ks Keyspace, opts ListingOptions) (*Listing, error) {
	if rdb == nil {
		return nil, errors.New("cluster: listing needs a redis client")
	}
	if opts.MaxLog == 0 {
		opts.MaxLog = DefaultListingMaxLog
	}
	if opts.Block == 0 {
		opts.Block = DefaultListingBlock
	}
	if opts.Batch == 0 {
		opts.Batch = DefaultListingBatch
	}
	if opts.TombstoneTTL == 0 {
		opts.TombstoneTTL = DefaultListingTombstoneTTL
	}
	if opts.ViewCacheBytes == 0 {
		opts.ViewCacheBytes = DefaultListingViewCacheBytes
	}
	if opts.MaxLog < 1 || opts.Block < time.Millisecond || opts.Batch < 1 || opts.TombstoneTTL < time.Second {
		return nil, fmt.Errorf("cluster: listing options out of range: %+v", opts)
	}
	l := &Listing{rdb: rdb, ks: ks, opts: opts, log: opts.Logger, moved: make(chan struct{}),
		views: newViewCache(opts.ViewCacheBytes)}
	if l.log == nil {
		l.log = slog.Default()
	}
	l.index.Store(lobby.NewIndex())
	return l, nil
}

var _ lobby.JSONLister = (*Listing)(nil)

// errListingNotReady answers listings before the replica first loaded:
// an empty page would be a lie.
var errListingNotReady = protocol.NewError(protocol.CodeUnavailable, "the lobby listing is loading")

// List is one page of every shard's public lobbies (lobby.Store.List):
// same filters, order and cursors as the MemoryStore. The views are the
// cached ones and, for the others, one HMGET (unavailable when Redis
// fails), decoded; AppendListJSON is the fast path.
func (l *Listing) List(ctx context.Context, q lobby.ListQuery) (lobby.ListPage, error) {
	ps, next, err := l.page(ctx, q)
	if err != nil {
		return lobby.ListPage{}, err
	}
	defer ps.release()
	page := lobby.ListPage{Lobbies: make([]protocol.LobbyView, 0, len(ps.lobbies)), NextCursor: next}
	for i := range ps.lobbies {
		if ps.lobbies[i].view == "" {
			continue
		}
		if v, ok := decodeView(ps.lobbies[i].view); ok {
			page.Lobbies = append(page.Lobbies, v)
		}
	}
	return page, nil
}

// AppendListJSON implements lobby.JSONLister: the page's views written as
// they are cached or read.
func (l *Listing) AppendListJSON(ctx context.Context, dst []byte, q lobby.ListQuery) ([]byte, error) {
	ps, next, err := l.page(ctx, q)
	if err != nil {
		return dst, err
	}
	defer ps.release()
	return appendPageJSON(dst, ps.lobbies, next), nil
}

// Get is a listed lobby's view, from the cache or one HGET; not listed:
// lobby.ErrNotFound.
func (l *Listing) Get(ctx context.Context, lobbyID string) (protocol.LobbyView, error) {
	if !l.ready.Load() {
		return protocol.LobbyView{}, errListingNotReady
	}
	src, _, ok := l.index.Load().Source(lobbyID)
	if !ok {
		return protocol.LobbyView{}, lobby.ErrNotFound
	}
	view, err := l.viewOf(ctx, lobbyID, src.(*replicaEntry).version)
	if err != nil {
		return protocol.LobbyView{}, err
	}
	if v, ok := decodeView(view); ok {
		return v, nil
	}
	return protocol.LobbyView{}, lobby.ErrNotFound
}

// Cached is the number of views the replica caches and their cost in
// bytes (a gauge; at most ListingOptions.ViewCacheBytes).
func (l *Listing) Cached() (views, bytes int) { return l.views.stats() }

// Fetches counts the Redis reads of views (one per page or Get that
// lacked a view in the cache) since the Listing was made.
func (l *Listing) Fetches() uint64 { return l.fetches.Load() }

// Ready reports whether the replica has loaded the listing and is
// following the log (a readiness probe). It stays true during a rebuild:
// the previous index is served meanwhile.
func (l *Listing) Ready() bool { return l.ready.Load() }

// Health is the last Redis failure of the replica, nil while it reads the
// log normally. A shard whose listing is unhealthy serves pages that may
// be stale.
func (l *Listing) Health() error {
	if p := l.health.Load(); p != nil {
		return *p
	}
	return nil
}

// Len is the number of public lobbies listed.
func (l *Listing) Len() int { return l.index.Load().Len() }

// Position is the log position the replica has applied: the Write that
// returned n is visible once Position() >= n.
func (l *Listing) Position() uint64 { return l.pos.Load() }

// Applied counts the log entries applied since the replica started.
func (l *Listing) Applied() uint64 { return l.applied.Load() }

// listingWriteScript: KEYS views, log, n, gen, dead:<id>; ARGV id,
// version, record, maxlen, tombstone ttl ms, remove (1/0). A change older
// than (or as old as) what the hash holds, or than the lobby's tombstone,
// is ignored: two shards' writes of one lobby can arrive out of order.
// Returns the entry's log position n, 0 when ignored.
var listingWriteScript = redis.NewScript(`
-- versions are decimal uint64 strings: compared as strings (length first),
-- not as Lua numbers, which are exact only below 2^53
local function notNewer(held, v)
  if #held ~= #v then return #held > #v end
  return held >= v
end
local v = ARGV[2]
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  if notNewer(string.match(cur, '^%d+'), v) then return 0 end
else
  local dead = redis.call('GET', KEYS[5])
  if dead and notNewer(dead, v) then return 0 end
end
if ARGV[6] == '1' then
  redis.call('SET', KEYS[5], v, 'PX', ARGV[5])
  if not cur then return 0 end
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
end
local gen = redis.call('GET', KEYS[4])
if not gen then
  local t = redis.call('TIME')
  gen = t[1] .. '.' .. t[2]
  redis.call('SET', KEYS[4], gen)
end
local n = redis.call('INCR', KEYS[3])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], n .. '-1', 'i', ARGV[1], 'r', ARGV[3], 'g', gen)
return n`)

// Write records a change of a lobby that is or was public, from the lobby
// store's OnPublicChange: its public view at version (nil, or not public:
// removed) with its creation sequence seq. One script, one round trip: the
// hash entry, the log entry and, for a removal, the tombstone. It returns
// the change's log position, 0 when a newer version was already written.
func (l *Listing) Write(ctx context.Context, lobbyID string, version, seq uint64, view *protocol.LobbyView) (uint64, error) {
	if lobbyID == "" || version == 0 {
		return 0, errors.New("cluster: listing write needs a lobby id and a version")
	}
	remove := "1"
	rec := strconv.AppendUint(nil, version, 10)
	rec = append(rec, ' ')
	rec = strconv.AppendUint(rec, seq, 10)
	rec = append(rec, ' ')
	if view != nil && view.Visibility == protocol.VisibilityPublic {
		if seq == 0 {
			return 0, errors.New("cluster: listing write of a public lobby needs its creation sequence")
		}
		remove = "0"
		var err error
		if rec, err = appendListingPayload(rec, view); err != nil {
			return 0, err
		}
	}
	ks := l.ks
	n, err := listingWriteScript.Run(ctx, l.rdb,
		[]string{ks.listingViews(), ks.listingLog(), ks.listingN(), ks.listingGen(), ks.listingDead(lobbyID)},
		lobbyID, version, rec, l.opts.MaxLog, l.opts.TombstoneTTL.Milliseconds(), remove).Uint64()
	if err != nil {
		return 0, fmt.Errorf("listing write %s: %w", lobbyID, err)
	}
	return n, nil
}

// OnPublicChange is LobbyOptions.OnPublicChange: it writes the change
// and logs a failure (the change is committed; the listing shows the
// lobby's previous view until its next change).
func (l *Listing) OnPublicChange(ctx context.Context, ch PublicChange) {
	if _, err := l.Write(ctx, ch.LobbyID, ch.Version, ch.Seq, ch.View); err != nil {
		l.log.Warn("listing: a lobby change is not listed", "lobby", ch.LobbyID, "version", ch.Version, "err", err)
	}
}

// listingPayload is the part of a record after "<version> <seq> ": the
// listing record (computed by the writer with lobby.ListedOf, so replicas
// filter exactly as the MemoryStore) and the public view as JSON.
type listingPayload struct {
	L listedWire        `json:"l"`
	V gojson.RawMessage `json:"v"`
}

type listedWire struct {
	Mode       string            `json:"m,omitempty"`
	Region     string            `json:"r,omitempty"`
	State      string            `json:"s"`
	Members    int               `json:"n"`
	MaxPlayers int               `json:"x"`
	Attrs      map[string]string `json:"a,omitempty"`
}

func appendListingPayload(dst []byte, view *protocol.LobbyView) ([]byte, error) {
	v := *view
	v.Code = "" // never listed
	j, err := gojson.Marshal(v)
	if err != nil {
		return dst, fmt.Errorf("listing: view of %s: %w", v.ID, err)
	}
	ls := lobby.ListedOf(&v)
	b, err := gojson.Marshal(listingPayload{
		L: listedWire{ls.Mode, ls.Region, ls.State, ls.Members, ls.MaxPlayers, ls.Attrs},
		V: j,
	})
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

// listingRecord is one decoded record.
type listingRecord struct {
	version, seq uint64
	removed      bool
	listed       lobby.Listed
	payload      string // the listing record and view, as written
	view         []byte // JSON; only from parseListingRecord
}

var errBadRecord = errors.New("listing: malformed record")

// parseListingRecord decodes a whole record, view included.
func parseListingRecord(s string) (listingRecord, error) { return parseRecord(s, true) }

// listedPayload is a payload decoded without its view, which the replica
// does not keep (listing_views.go).
type listedPayload struct {
	L listedWire `json:"l"`
}

// parseRecord decodes a record; without the view (withView false) the
// view is only checked to be an object (viewOfPayload finds it later).
func parseRecord(s string, withView bool) (listingRecord, error) {
	var r listingRecord
	vs, rest, ok1 := strings.Cut(s, " ")
	ss, payload, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 {
		return r, errBadRecord
	}
	var err1, err2 error
	r.version, err1 = strconv.ParseUint(vs, 10, 64)
	r.seq, err2 = strconv.ParseUint(ss, 10, 64)
	if err1 != nil || err2 != nil || r.version == 0 {
		return r, errBadRecord
	}
	if payload == "" {
		r.removed = true
		return r, nil
	}
	if r.seq == 0 {
		return r, errBadRecord
	}
	r.payload = payload
	var lw *listedWire
	if withView {
		var p listingPayload
		if err := gojson.Unmarshal([]byte(payload), &p); err != nil || len(p.V) == 0 || p.V[0] != '{' {
			return r, errBadRecord
		}
		r.view, lw = p.V, &p.L
	} else {
		var p listedPayload
		if _, ok := viewOfPayload(payload); !ok {
			return r, errBadRecord
		}
		if err := gojson.Unmarshal([]byte(payload), &p); err != nil {
			return r, errBadRecord
		}
		lw = &p.L
		switch lw.State { // the replica keeps it: one copy for every lobby
		case protocol.StateOpen:
			lw.State = protocol.StateOpen
		case protocol.StateInGame:
			lw.State = protocol.StateInGame
		}
	}
	r.listed = lobby.Listed{Mode: lw.Mode, Region: lw.Region, State: lw.State,
		Members: lw.Members, MaxPlayers: lw.MaxPlayers, Attrs: lw.Attrs}
	return r, nil
}

// ListedStore is what a shard of a cluster serves as its lobby.Store: the
// LobbyStore for every rule and event, with listings (List and
// AppendListJSON, the lobby.JSONLister the gateway's GET /v1/lobbies
// prefers) answered by the Listing: its index in memory, the page's views
// from its cache or one HMGET. The store's own List reads Redis per lobby. Wire the Listing's OnPublicChange into the store's
// LobbyOptions and Start it.
type ListedStore struct {
	*LobbyStore
	Listing *Listing
}

var (
	_ lobby.JSONLister     = ListedStore{}
	_ lobby.ListingFeed    = ListedStore{}
	_ lobby.ViewPrefetcher = ListedStore{}
)

// ListingIndex implements lobby.ListingFeed: the replica's index.
func (s ListedStore) ListingIndex() *lobby.Index { return s.Listing.ListingIndex() }

// WatchListing implements lobby.ListingFeed.
func (s ListedStore) WatchListing(fn func(id string)) { s.Listing.WatchListing(fn) }

// PrefetchViews implements lobby.ViewPrefetcher.
func (s ListedStore) PrefetchViews(ctx context.Context, ids []string) {
	s.Listing.PrefetchViews(ctx, ids)
}

// ListingIndex is the index the replica serves now; a rebuild replaces it.
func (l *Listing) ListingIndex() *lobby.Index { return l.index.Load() }

// WatchListing sets fn to be told the id of every lobby the replica
// applies a change of, from any shard, and "" when a rebuild replaced the
// whole index (lobby.ListingFeed). It runs on the replica's goroutine.
func (l *Listing) WatchListing(fn func(id string)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.onChange = fn
	l.index.Load().SetOnChange(fn)
}

// List implements lobby.Store from the replica.
func (s ListedStore) List(ctx context.Context, q lobby.ListQuery) (lobby.ListPage, error) {
	return s.Listing.List(ctx, q)
}

// AppendListJSON implements lobby.JSONLister from the replica.
func (s ListedStore) AppendListJSON(ctx context.Context, dst []byte, q lobby.ListQuery) ([]byte, error) {
	return s.Listing.AppendListJSON(ctx, dst, q)
}
