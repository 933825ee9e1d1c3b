package lobby

import (
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/lobbyd/lobbyd/protocol"
)

// Index is the lobby browser's index of public lobbies: the one listing
// fast path of both stores. The MemoryStore keeps its lobbies in one, and
// the cluster's listing replica keeps every shard's public lobbies in one,
// filled from Redis; either way GET /v1/lobbies walks it in memory (the
// replica's entries give their views from a cache or Redis).
//
// Every lobby is filed, by creation sequence, under the global index and
// one index per mode, region, state and attr key=value. A listing walks
// the smallest index that its filters name, from the cursor downwards, and
// checks the other filters on the lobby's Listed record, so a filtered
// request over 10,000 lobbies touches only its candidates. has_space is
// not indexed (it changes with every join): it is checked on the way.
//
// An index is a slice sorted by sequence. New lobbies have the highest
// sequence, so filing one is an append; a lobby re-filed (state or attrs
// changed) or removed costs one binary search and one memmove, which at
// 10,000 lobbies is a few microseconds. A tree would need a dependency or
// code of our own for no measurable gain at this size.
//
// The index does not hold views itself: each entry has a ListedView that
// gives the view when a page shows it, called after the index lock is
// released, so an implementation may take its lobby's lock. Index is safe
// for concurrent use; its lock is a leaf (docs/locks.md).
type Index struct {
	mu    sync.RWMutex
	items map[string]*indexItem // lobby id → entry
	byKey map[string]*seqIndex  // index key (keyAll, keyMode+mode, ...) → entries

	// onChange hears of every change of a filed lobby (SetOnChange); it is
	// called with no lock of the index held.
	onChange atomic.Pointer[func(id string)]
}

// Listed is what a listing filters a lobby on.
type Listed struct {
	Mode, Region, State string
	Members, MaxPlayers int
	Attrs               map[string]string // protocol.AttrString of each value
}

// ListedOf is the Listed record of a lobby view (Doc.Listed for a Doc).
func ListedOf(v *protocol.LobbyView) Listed {
	return listedOf(v.Mode, v.Region, v.State, len(v.Members), v.MaxPlayers, v.Attrs)
}

func listedOf(mode, region, state string, members, maxPlayers int, attrs protocol.Attrs) Listed {
	ls := Listed{Mode: mode, Region: region, State: state, Members: members, MaxPlayers: maxPlayers}
	if len(attrs) == 0 {
		return ls // nil Attrs: an empty map is 48 bytes a lobby, in the index and the live list's record
	}
	ls.Attrs = make(map[string]string, len(attrs))
	for k, a := range attrs {
		ls.Attrs[k], _ = protocol.AttrString(a) // checkAttrs stores strings and numbers only
	}
	return ls
}

// ListedView gives a listed lobby's public view (no code) when a page
// shows it. false: the lobby stopped being listable since the index was
// walked (deleted, made private); the page leaves it out, and the cursor
// still follows the walk, so nothing that existed throughout is skipped.
type ListedView interface {
	ListView() (protocol.LobbyView, bool)
	// AppendViewJSON appends the view as JSON, exactly as encoding the
	// view of ListView would give. false (dst unchanged): leave the lobby
	// out of this page; a view that cannot be encoded is the source's to
	// report, never a failed page.
	AppendViewJSON(dst []byte) ([]byte, bool)
}

type indexItem struct {
	id   string
	seq  uint64
	ls   Listed
	keys []string // the index keys it is filed under
	src  ListedView
}

// seqIndex is the entries filed under one index key, in ascending seq.
// key is that key, which every entry filed there shares (Put), so that a
// lobby's keys cost it no strings of its own.
type seqIndex struct {
	key   string
	items []*indexItem
}

func (x *seqIndex) search(seq uint64) int {
	return sort.Search(len(x.items), func(i int) bool { return x.items[i].seq >= seq })
}

func (x *seqIndex) insert(it *indexItem) {
	i := x.search(it.seq)
	if i < len(x.items) && x.items[i] == it {
		return
	}
	x.items = slices.Insert(x.items, i, it)
}

func (x *seqIndex) remove(it *indexItem) {
	// Sequences are unique per lobby, but a caller may file two ids under
	// one; look along the run of equal sequences.
	for i := x.search(it.seq); i < len(x.items) && x.items[i].seq == it.seq; i++ {
		if x.items[i] == it {
			x.items = slices.Delete(x.items, i, i+1)
			return
		}
	}
}

const (
	keyAll    = ""
	keyMode   = "m\x00"
	keyRegion = "r\x00"
	keyState  = "s\x00"
	keyAttr   = "a\x00"
)

func attrKey(k, v string) string { return keyAttr + k + "\x00" + v }

func indexKeys(ls *Listed) []string {
	n := 2 + len(ls.Attrs) // kept with the entry: exactly as long as needed
	if ls.Mode != "" {
		n++
	}
	if ls.Region != "" {
		n++
	}
	keys := make([]string, 0, n)
	keys = append(keys, keyAll, keyState+ls.State)
	if ls.Mode != "" {
		keys = append(keys, keyMode+ls.Mode)
	}
	if ls.Region != "" {
		keys = append(keys, keyRegion+ls.Region)
	}
	for k, v := range ls.Attrs {
		keys = append(keys, attrKey(k, v))
	}
	return keys
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{items: make(map[string]*indexItem), byKey: make(map[string]*seqIndex)}
}

// Put files (or re-files) the lobby id with creation sequence seq, listing
// record ls and view source src. Only public lobbies belong in an index:
// a lobby made private is Removed. ls.Attrs is kept, not copied.
func (x *Index) Put(id string, seq uint64, ls Listed, src ListedView) {
	keys := indexKeys(&ls)
	defer x.changed(id)
	x.mu.Lock()
	defer x.mu.Unlock()
	it := x.items[id]
	if it != nil && it.seq != seq {
		x.unfileLocked(it, nil)
		it = nil
	}
	if it == nil {
		it = &indexItem{id: id, seq: seq}
		x.items[id] = it
	}
	x.unfileLocked(it, keys)
	for i, k := range keys {
		sx := x.byKey[k]
		if sx == nil {
			sx = &seqIndex{key: k}
			x.byKey[k] = sx
		}
		keys[i] = sx.key // the index's copy: this one is garbage
		if !slices.Contains(it.keys, k) {
			sx.insert(it)
		}
	}
	it.ls, it.keys, it.src = ls, keys, src
}

// unfileLocked takes it out of every index it is filed under that is not
// in keep; x.mu (write) must be held.
func (x *Index) unfileLocked(it *indexItem, keep []string) {
	for _, k := range it.keys {
		if slices.Contains(keep, k) {
			continue
		}
		if sx := x.byKey[k]; sx != nil {
			sx.remove(it)
			if len(sx.items) == 0 {
				delete(x.byKey, k)
			}
		}
	}
	if keep == nil {
		it.keys = nil
	}
}

// SetMembers changes the member count of a filed lobby (has_space), the
// one field that changes with every join and leave and files nothing
// anew. An id not filed is ignored.
func (x *Index) SetMembers(id string, n int) {
	x.mu.Lock()
	it := x.items[id]
	if it != nil {
		it.ls.Members = n
	}
	x.mu.Unlock()
	if it != nil {
		x.changed(id)
	}
}

// Remove unfiles the lobby id; an id not filed is ignored.
func (x *Index) Remove(id string) {
	x.mu.Lock()
	it := x.items[id]
	if it != nil {
		x.unfileLocked(it, nil)
		delete(x.items, id)
	}
	x.mu.Unlock()
	if it != nil {
		x.changed(id)
	}
}

// SetOnChange sets fn (nil: none) to be told the id of every lobby the
// index files, re-files or removes, and of every filed lobby whose view
// changed (Touch): the live lobby list follows the listing through it.
// fn runs synchronously, often under the lock of the lobby that changed
// (docs/locks.md), so it must only note the id and return; it must not
// call back into the index or a store.
func (x *Index) SetOnChange(fn func(id string)) {
	if fn == nil {
		x.onChange.Store(nil)
		return
	}
	x.onChange.Store(&fn)
}

// Touch tells SetOnChange's function that the view of the filed lobby id
// changed without a change of what the index files (a member's ready
// mark). An id not filed is ignored.
func (x *Index) Touch(id string) {
	if x.onChange.Load() == nil {
		return
	}
	x.mu.RLock()
	_, filed := x.items[id]
	x.mu.RUnlock()
	if filed {
		x.changed(id)
	}
}

func (x *Index) changed(id string) {
	if fn := x.onChange.Load(); fn != nil {
		(*fn)(id)
	}
}

// Entry returns what the index holds of the lobby id: its listing record
// (for a filter: Listed.Matches), view source and creation sequence.
func (x *Index) Entry(id string) (Listed, ListedView, uint64, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if it := x.items[id]; it != nil {
		return it.ls, it.src, it.seq, true
	}
	return Listed{}, nil, 0, false
}

// Each calls fn with every filed lobby's id and listing record, under the
// index's read lock: fn must not call into the index.
func (x *Index) Each(fn func(id string, ls Listed)) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for id, it := range x.items {
		fn(id, it.ls)
	}
}

// Source returns the view source and sequence the lobby id is filed with.
func (x *Index) Source(id string) (ListedView, uint64, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if it := x.items[id]; it != nil {
		return it.src, it.seq, true
	}
	return nil, 0, false
}

// Len is the number of lobbies filed.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.items)
}

// Get is the public view of a filed lobby; not filed: ErrNotFound.
func (x *Index) Get(id string) (protocol.LobbyView, error) {
	src, _, ok := x.Source(id)
	if !ok {
		return protocol.LobbyView{}, ErrNotFound
	}
	v, ok := src.ListView()
	if !ok {
		return protocol.LobbyView{}, ErrNotFound
	}
	return v, nil
}

func (it *indexItem) matches(q *ListQuery) bool { return it.ls.Matches(q) }

// Matches reports whether a lobby with this listing record passes the
// filters of q (Cursor and Limit are not filters).
func (ls *Listed) Matches(q *ListQuery) bool {
	if (q.Mode != "" && ls.Mode != q.Mode) ||
		(q.Region != "" && ls.Region != q.Region) ||
		(q.State != "" && ls.State != q.State) ||
		(q.HasSpace && ls.Members >= ls.MaxPlayers) {
		return false
	}
	for k, v := range q.Attrs {
		if got, ok := ls.Attrs[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// candidate is a lobby a listing walk picked, copied out of the index so
// that views are made after its lock is released.
type candidate struct {
	id  string
	seq uint64
	src ListedView
}

// List is one page of the listing (Store.List). q must be unchecked: List
// checks it.
func (x *Index) List(q ListQuery) (ListPage, error) {
	buf, next, err := x.walk(q)
	if err != nil {
		return ListPage{}, err
	}
	defer releaseCandidates(buf)
	page := ListPage{Lobbies: make([]protocol.LobbyView, 0, len(*buf)), NextCursor: next}
	for _, c := range *buf {
		if v, ok := c.src.ListView(); ok {
			page.Lobbies = append(page.Lobbies, v)
		}
	}
	return page, nil
}

// Page calls fn with the id and view source of each lobby of q's page,
// newest first, after the index's lock is released (so fn may build
// views), and returns the cursor of the next page ("" on the last), as
// List's. q is checked as List checks it.
func (x *Index) Page(q ListQuery, fn func(id string, src ListedView)) (string, error) {
	buf, next, err := x.walk(q)
	if err != nil {
		return "", err
	}
	defer releaseCandidates(buf)
	for _, c := range *buf {
		fn(c.id, c.src)
	}
	return next, nil
}

// AppendListJSON is List written as JSON (JSONLister): the views come from
// each entry's AppendViewJSON, which may keep them encoded, so a page of
// lobbies that did not change costs a copy per lobby and no garbage.
func (x *Index) AppendListJSON(dst []byte, q ListQuery) ([]byte, error) {
	buf, next, err := x.walk(q)
	if err != nil {
		return dst, err
	}
	defer releaseCandidates(buf)
	dst = append(dst, `{"lobbies":[`...)
	first := true
	for _, c := range *buf {
		mark := len(dst)
		if !first {
			dst = append(dst, ',')
		}
		var ok bool
		if dst, ok = c.src.AppendViewJSON(dst); !ok {
			dst = dst[:mark]
			continue
		}
		first = false
	}
	dst = append(dst, `],"next_cursor":`...)
	if next == "" {
		return append(dst, "null}"...), nil
	}
	// A cursor is URL-safe base64: nothing in it needs escaping.
	dst = append(dst, '"')
	dst = append(dst, next...)
	return append(dst, `"}`...), nil
}

// walk checks q and returns the lobbies of its page, newest first, in a
// pooled buffer the caller gives back with releaseCandidates, and the
// cursor of the next page ("" on the last).
func (x *Index) walk(q ListQuery) (*[]candidate, string, error) {
	q, before, err := CheckListQuery(q)
	if err != nil {
		return nil, "", err
	}
	buf := candBufs.Get().(*[]candidate)
	cands := x.appendCandidates((*buf)[:0], &q, before)
	next := ""
	if len(cands) > q.Limit {
		next = EncodeCursor(cands[q.Limit-1].seq)
		cands[q.Limit] = candidate{}
		cands = cands[:q.Limit]
	}
	*buf = cands
	return buf, next, nil
}

func releaseCandidates(buf *[]candidate) {
	clear(*buf) // keep no lobby alive from the pool
	*buf = (*buf)[:0]
	candBufs.Put(buf)
}

// candBufs are the candidate scratch slices of walk: a page keeps nothing
// of them after it is written.
var candBufs = sync.Pool{New: func() any { b := make([]candidate, 0, MaxListLimit+1); return &b }}

// appendCandidates appends up to q.Limit+1 matching lobbies below the
// sequence before to out, newest first.
func (x *Index) appendCandidates(out []candidate, q *ListQuery, before uint64) []candidate {
	x.mu.RLock()
	defer x.mu.RUnlock()
	best := x.byKey[keyAll]
	pick := func(key string) bool {
		sx := x.byKey[key]
		if sx == nil {
			return false // nothing is filed there: no lobby matches
		}
		if best == nil || len(sx.items) < len(best.items) {
			best = sx
		}
		return true
	}
	if best == nil ||
		(q.Mode != "" && !pick(keyMode+q.Mode)) ||
		(q.Region != "" && !pick(keyRegion+q.Region)) ||
		(q.State != "" && !pick(keyState+q.State)) {
		return out
	}
	for k, v := range q.Attrs {
		if !pick(attrKey(k, v)) {
			return out
		}
	}
	for i := best.search(before) - 1; i >= 0 && len(out) <= q.Limit; i-- {
		if it := best.items[i]; it.matches(q) {
			out = append(out, candidate{it.id, it.seq, it.src})
		}
	}
	return out
}
