package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/internal/redistest"
	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

// listingWorld is a cluster's lobbies as the tests' writers know them: the
// truth every replica must converge to.
type listingWorld struct {
	t       testing.TB
	ctx     context.Context
	seq     uint64
	version map[string]uint64
	views   map[string]*protocol.LobbyView // public only
	seqs    map[string]uint64
	last    uint64 // highest log position written
}

func newWorld(t testing.TB) *listingWorld {
	return &listingWorld{t: t, ctx: context.Background(), version: map[string]uint64{},
		views: map[string]*protocol.LobbyView{}, seqs: map[string]uint64{}}
}

// testView is a public lobby with n members.
func testView(id string, i, n int) *protocol.LobbyView {
	v := &protocol.LobbyView{
		ID: id, Name: fmt.Sprintf("lobby <%d> \"q\"", i), Host: "h" + id, Visibility: protocol.VisibilityPublic,
		Mode: []string{"ctf", "tdm", "ffa"}[i%3], Region: []string{"eu", "us"}[i%2],
		State: protocol.StateOpen, MaxPlayers: 4, CreatedAt: int64(1000 + i),
		Attrs: protocol.Attrs{"map": fmt.Sprint("map", i%4), "tier": int64(i % 3), "ratio": 0.5},
		Data:  protocol.RawMap{0x81, 0xa1, 'k', 0x01},
	}
	for m := range n {
		v.Members = append(v.Members, protocol.Member{UserID: fmt.Sprintf("%s-m%d", id, m), Name: "M", Connected: true, IsHost: m == 0})
	}
	return v
}

// create writes a new public lobby through w.
func (wd *listingWorld) create(w *Listing, id string, i, members int) {
	wd.seq++
	wd.seqs[id] = wd.seq
	wd.put(w, testView(id, i, members))
}

// put writes the lobby's next version through w (a view that is not
// public removes it from listings).
func (wd *listingWorld) put(w *Listing, v *protocol.LobbyView) {
	wd.t.Helper()
	wd.version[v.ID]++
	n, err := w.Write(wd.ctx, v.ID, wd.version[v.ID], wd.seqs[v.ID], v)
	if err != nil {
		wd.t.Fatal(err)
	}
	if v.Visibility == protocol.VisibilityPublic {
		wd.views[v.ID] = v
	} else {
		delete(wd.views, v.ID)
	}
	wd.last = max(wd.last, n)
}

// remove writes the lobby's deletion through w.
func (wd *listingWorld) remove(w *Listing, id string) {
	wd.t.Helper()
	wd.version[id]++
	n, err := w.Write(wd.ctx, id, wd.version[id], wd.seqs[id], nil)
	if err != nil {
		wd.t.Fatal(err)
	}
	delete(wd.views, id)
	wd.last = max(wd.last, n)
}

// staticView is a reference lobby.ListedView.
type staticView struct{ v protocol.LobbyView }

func (s staticView) ListView() (protocol.LobbyView, bool) { return s.v, true }
func (s staticView) AppendViewJSON(dst []byte) ([]byte, bool) {
	b, err := gojson.Marshal(s.v)
	if err != nil {
		panic(err)
	}
	return append(dst, b...), true
}

// reference is an index of the world's public lobbies, as a single
// process would list them.
func (wd *listingWorld) reference() *lobby.Index {
	x := lobby.NewIndex()
	for id, v := range wd.views {
		x.Put(id, wd.seqs[id], lobby.ListedOf(v), staticView{*v})
	}
	return x
}

var listingQueries = []lobby.ListQuery{
	{}, {Limit: 1}, {Limit: 7}, {Mode: "ctf"}, {Mode: "tdm", Region: "eu"}, {HasSpace: true, Limit: 100},
	{State: protocol.StateInGame}, {Attrs: map[string]string{"map": "map1"}},
	{Attrs: map[string]string{"tier": "2", "ratio": "0.5"}}, {Mode: "none"},
}

// samePages checks that every replica answers every query, and every page
// of it followed by cursor, exactly as the reference does.
func samePages(t testing.TB, want *lobby.Index, replicas ...*Listing) {
	t.Helper()
	ctx := context.Background()
	for _, q := range listingQueries {
		for page := 0; ; page++ {
			if page > 200 {
				t.Fatalf("query %+v: paging does not end", q)
			}
			exp, err := want.AppendListJSON(nil, q)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range replicas {
				got, err := r.AppendListJSON(ctx, []byte("x"), q)
				if err != nil {
					t.Fatalf("replica %d, query %+v: %v", i, q, err)
				}
				if string(got[1:]) != string(exp) {
					t.Fatalf("replica %d, query %+v, page %d:\n got %s\nwant %s", i, q, page, got[1:], exp)
				}
				lp, err := r.List(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				wp, _ := want.List(q)
				if a, b := mustJSON(t, lp), mustJSON(t, wp); a != b {
					t.Fatalf("replica %d, List %+v:\n got %s\nwant %s", i, q, a, b)
				}
			}
			wp, _ := want.List(q)
			if wp.NextCursor == "" {
				break
			}
			q.Cursor = wp.NextCursor
		}
	}
}

func mustJSON(t testing.TB, v any) string {
	b, err := gojson.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// startListing starts a replica stopped when the test ends. Close waits
// for the XREAD in flight, so tests block for 100 ms at a time, not 1 s.
func startListing(t testing.TB, rdb redis.UniversalClient, ks Keyspace, opts ListingOptions) *Listing {
	t.Helper()
	if opts.Block == 0 {
		opts.Block = 100 * time.Millisecond
	}
	l, err := NewListing(rdb, ks, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// await waits until every replica has applied position n: a replica that
// does not get there within the bound fails the test (it would break
// docs/protocol.md §4's "listed within 1 s").
func await(t testing.TB, n uint64, within time.Duration, replicas ...*Listing) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for i, r := range replicas {
		if err := r.Await(ctx, n); err != nil {
			t.Fatalf("replica %d at position %d, want %d: %v", i, r.Position(), n, err)
		}
	}
}

// forEachRedis runs f on the shared Redis and on a three-master Redis
// Cluster.
func forEachRedis(t *testing.T, f func(t *testing.T, rdb redis.UniversalClient, ks Keyspace)) {
	t.Run("node", func(t *testing.T) {
		rdb, prefix := redistest.Client(t)
		f(t, rdb, NewKeyspace(prefix))
	})
	t.Run("cluster", func(t *testing.T) {
		rdb, prefix := redistest.Cluster(t)
		f(t, rdb, NewKeyspace(prefix))
	})
}

// Two shards write lobbies and change each other's; both replicas, and a
// third started late from the hash, list exactly what one process would,
// page by page and cursor by cursor.
func TestListingShardsAgree(t *testing.T) {
	forEachRedis(t, func(t *testing.T, rdb redis.UniversalClient, ks Keyspace) {
		a := startListing(t, rdb, ks, ListingOptions{})
		b := startListing(t, rdb, ks, ListingOptions{})
		wd := newWorld(t)
		shards := []*Listing{a, b}
		for i := range 60 {
			wd.create(shards[i%2], fmt.Sprint("L", i), i, 1+i%4)
		}
		for i := 0; i < 60; i += 5 { // changes from the other shard
			id := fmt.Sprint("L", i)
			v := *wd.views[id]
			w := shards[(i+1)%2]
			switch i % 4 {
			case 0:
				v.State = protocol.StateInGame
				wd.put(w, &v)
			case 1:
				v.Members = v.Members[:0]
				v.Attrs = protocol.Attrs{"map": "map1"}
				wd.put(w, &v)
			case 2:
				v.Visibility = protocol.VisibilityPrivate
				wd.put(w, &v)
			case 3:
				wd.remove(w, id)
			}
		}
		await(t, wd.last, 5*time.Second, a, b)
		samePages(t, wd.reference(), a, b)

		late := startListing(t, rdb, ks, ListingOptions{})
		await(t, wd.last, 5*time.Second, late)
		if !late.Ready() || late.Len() != len(wd.views) {
			t.Fatalf("late replica: ready %v, %d lobbies, want %d", late.Ready(), late.Len(), len(wd.views))
		}
		samePages(t, wd.reference(), a, b, late)
	})
}

// A lobby written on one shard is listed on the other within 1 s
// (docs/protocol.md §4); a removal too.
func TestListingVisibleWithinOneSecond(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ks := NewKeyspace(prefix)
	a := startListing(t, rdb, ks, ListingOptions{})
	b := startListing(t, rdb, ks, ListingOptions{})
	wd := newWorld(t)
	wd.create(a, "first", 0, 1)
	await(t, wd.last, 5*time.Second, a, b) // both loaded
	for i := range 5 {
		id := fmt.Sprint("new", i)
		wd.create(a, id, i, 1)
		await(t, wd.last, time.Second, b)
		if _, err := b.Get(context.Background(), id); err != nil {
			t.Fatalf("%s on the other shard: %v", id, err)
		}
		wd.remove(a, id)
		await(t, wd.last, time.Second, b)
		if _, err := b.Get(context.Background(), id); !errors.Is(err, lobby.ErrNotFound) {
			t.Fatalf("removed %s on the other shard: %v", id, err)
		}
	}
}

// Two shards' writes of one lobby can reach Redis in either order: the
// older version is refused by the write script, a removal is remembered
// against a late write, and a replica ignores an older entry in the log.
func TestListingOutOfOrder(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ks := NewKeyspace(prefix)
	ctx := context.Background()
	a := startListing(t, rdb, ks, ListingOptions{})
	b := startListing(t, rdb, ks, ListingOptions{})
	v1, v2 := testView("X", 0, 1), testView("X", 0, 2)
	if _, err := a.Write(ctx, "X", 2, 1, v2); err != nil {
		t.Fatal(err)
	}
	if n, err := b.Write(ctx, "X", 1, 1, v1); err != nil || n != 0 {
		t.Fatalf("older version: position %d, %v; want ignored", n, err)
	}
	if n, err := b.Write(ctx, "X", 2, 1, v1); err != nil || n != 0 {
		t.Fatalf("same version again: position %d, %v; want ignored", n, err)
	}
	last, err := b.Write(ctx, "X", 3, 1, nil)
	if err != nil || last == 0 {
		t.Fatal(last, err)
	}
	if n, err := a.Write(ctx, "X", 2, 1, v2); err != nil || n != 0 {
		t.Fatalf("write older than the removal: position %d, %v; want ignored", n, err)
	}
	// A never-listed lobby removed before its late creation arrives.
	if n, err := a.Write(ctx, "Y", 2, 2, nil); err != nil || n != 0 {
		t.Fatalf("removal of an unlisted lobby logged: %d, %v", n, err)
	}
	if n, err := b.Write(ctx, "Y", 1, 2, testView("Y", 1, 1)); err != nil || n != 0 {
		t.Fatalf("creation older than the removal: position %d, %v; want ignored", n, err)
	}
	// Versions beyond 2^53 (not exact as Lua numbers) still compare.
	big := uint64(1)<<60 + 1
	if n, err := a.Write(ctx, "B", big, 4, testView("B", 3, 1)); err != nil || n == 0 {
		t.Fatal(n, err)
	}
	if n, err := b.Write(ctx, "B", big-1, 4, testView("B", 3, 2)); err != nil || n != 0 {
		t.Fatalf("big older version: position %d, %v; want ignored", n, err)
	}
	if n, err := b.Write(ctx, "B", big+1, 4, testView("B", 3, 3)); err != nil || n == 0 {
		t.Fatalf("big newer version: position %d, %v; want written", n, err)
	}
	// The replica's own check: an entry with an older version, logged
	// behind the back of the script.
	if _, err := a.Write(ctx, "Z", 5, 3, testView("Z", 2, 3)); err != nil {
		t.Fatal(err)
	}
	n, err := rdb.Incr(ctx, ks.listingN()).Uint64()
	if err != nil {
		t.Fatal(err)
	}
	gen, _ := rdb.Get(ctx, ks.listingGen()).Result()
	old := append([]byte("4 3 "), mustPayload(t, testView("Z", 2, 1))...)
	if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: ks.listingLog(), ID: fmt.Sprint(n, "-1"),
		Values: []any{"i", "Z", "r", string(old), "g", gen}}).Err(); err != nil {
		t.Fatal(err)
	}
	await(t, n, 5*time.Second, a, b)
	for _, r := range []*Listing{a, b} {
		if _, err := r.Get(ctx, "X"); !errors.Is(err, lobby.ErrNotFound) {
			t.Fatalf("X: %v", err)
		}
		if _, err := r.Get(ctx, "Y"); !errors.Is(err, lobby.ErrNotFound) {
			t.Fatalf("Y: %v", err)
		}
		z, err := r.Get(ctx, "Z")
		if err != nil || len(z.Members) != 3 {
			t.Fatalf("Z: %d members, %v; want version 5's 3", len(z.Members), err)
		}
		if bv, err := r.Get(ctx, "B"); err != nil || len(bv.Members) != 3 {
			t.Fatalf("B: %d members, %v; want the newest version's 3", len(bv.Members), err)
		}
	}
}

func mustPayload(t testing.TB, v *protocol.LobbyView) []byte {
	b, err := appendListingPayload(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A replica that fell behind past the log's trimming rebuilds from the
// hash and lists what the others list.
func TestListingTrimmedLogRebuilds(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ks := NewKeyspace(prefix)
	ctx := context.Background()
	w := startListing(t, rdb, ks, ListingOptions{})
	wd := newWorld(t)
	for i := range 10 {
		wd.create(w, fmt.Sprint("L", i), i, 1)
	}
	behind, err := NewListing(rdb, ks, ListingOptions{Block: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := behind.rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 10; i < 40; i++ {
		wd.create(w, fmt.Sprint("L", i), i, 2)
		if i%3 == 0 {
			wd.remove(w, fmt.Sprint("L", i-10))
		}
	}
	if err := rdb.XTrimMaxLen(ctx, ks.listingLog(), 5).Err(); err != nil {
		t.Fatal(err)
	}
	err = behind.follow(ctx)
	var rb errRebuild
	if !errors.As(err, &rb) || !strings.Contains(rb.why, "trimmed") {
		t.Fatalf("follow after the trim: %v, want a rebuild for the gap", err)
	}
	if err := behind.rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	await(t, wd.last, 5*time.Second, w)
	samePages(t, wd.reference(), w, behind)
}

// Redis restarted empty: the replica notices the new generation, drops
// the lobbies Redis forgot, and follows the new log from 1.
func TestListingRedisRestartedEmpty(t *testing.T) {
	srv := redistest.Server(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	ks := NewKeyspace(redistest.Prefix(t))
	r := startListing(t, rdb, ks, ListingOptions{Block: 50 * time.Millisecond})
	wd := newWorld(t)
	for i := range 10 {
		wd.create(r, fmt.Sprint("old", i), i, 1)
	}
	await(t, wd.last, 5*time.Second, r)
	if r.Len() != 10 {
		t.Fatalf("%d lobbies before the restart", r.Len())
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the replica forgets what Redis forgot", func() bool { return r.Len() == 0 })
	wd = newWorld(t)
	for i := range 3 {
		wd.create(r, fmt.Sprint("new", i), i, 1)
	}
	await(t, wd.last, 5*time.Second, r)
	if r.Len() != 3 {
		t.Fatalf("%d lobbies after the restart, want 3", r.Len())
	}
	samePages(t, wd.reference(), r)
}

// Paging through one shard while both shards create and delete lobbies
// between pages: every lobby that existed throughout shows up exactly
// once, newest first, and nothing shows twice (the MemoryStore's
// guarantee, lobbytest's testListPaging).
func TestListingPagingWhileChanging(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ks := NewKeyspace(prefix)
	a := startListing(t, rdb, ks, ListingOptions{})
	b := startListing(t, rdb, ks, ListingOptions{})
	wd := newWorld(t)
	var stable, churn []string
	made := 0
	mkChurn := func(w *Listing) {
		made++
		id := fmt.Sprint("C", made)
		wd.create(w, id, made, 1)
		churn = append(churn, id)
	}
	for i := range 45 {
		id := fmt.Sprintf("S%02d", i)
		wd.create(a, id, i, 1)
		stable = append(stable, id)
		if i%3 == 0 {
			mkChurn(b)
		}
	}
	await(t, wd.last, 5*time.Second, a, b)
	seen := map[string]int{}
	var order []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 20 {
			t.Fatal("paging does not end")
		}
		page, err := b.List(context.Background(), lobby.ListQuery{Limit: 10, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range page.Lobbies {
			seen[v.ID]++
			if v.ID[0] == 'S' {
				order = append(order, v.ID)
			}
		}
		mkChurn(a)
		mkChurn(b)
		for range 2 {
			wd.remove(a, churn[0])
			churn = churn[1:]
		}
		await(t, wd.last, 5*time.Second, a, b)
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s listed %d times", id, n)
		}
	}
	want := slices.Clone(stable)
	slices.Reverse(want)
	if !slices.Equal(order, want) {
		t.Errorf("stable lobbies seen %v, want %v", order, want)
	}
}

// Before its first load a replica answers unavailable, never an empty
// page; a bad query is bad_request as on the MemoryStore.
func TestListingNotReady(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	l, err := NewListing(rdb, NewKeyspace(prefix), ListingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var pe *protocol.Error
	if _, err := l.AppendListJSON(ctx, nil, lobby.ListQuery{}); !errors.As(err, &pe) || pe.Code != protocol.CodeUnavailable {
		t.Fatalf("before the load: %v", err)
	}
	if l.Ready() {
		t.Fatal("ready before Start")
	}
	if err := l.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	waitFor(t, 5*time.Second, "ready", l.Ready)
	if l.Health() != nil {
		t.Fatal(l.Health())
	}
	if b, err := l.AppendListJSON(ctx, nil, lobby.ListQuery{}); err != nil || string(b) != `{"lobbies":[],"next_cursor":null}` {
		t.Fatalf("empty listing: %s, %v", b, err)
	}
	if _, err := l.List(ctx, lobby.ListQuery{Limit: 101}); !errors.As(err, &pe) || pe.Code != protocol.CodeBadRequest {
		t.Fatalf("limit 101: %v", err)
	}
}

// Records written by Write parse back; anything else is refused.
func TestListingRecordParse(t *testing.T) {
	v := testView("R", 4, 2)
	rec := append([]byte("7 42 "), mustPayload(t, v)...)
	r, err := parseListingRecord(string(rec))
	if err != nil || r.version != 7 || r.seq != 42 || r.removed || r.listed.Members != 2 || r.listed.Attrs["tier"] != "1" {
		t.Fatalf("%+v, %v", r, err)
	}
	want, _ := gojson.Marshal(v)
	if string(r.view) != string(want) {
		t.Fatalf("view %s, want %s", r.view, want)
	}
	if r, err := parseListingRecord("8 42 "); err != nil || !r.removed {
		t.Fatalf("tombstone: %+v, %v", r, err)
	}
	for _, bad := range []string{"", "7", "7 42", "x 42 {}", "0 42 ", "7 42 {", "7 0 " + string(mustPayload(t, v)), `7 42 {"l":{}}`, `7 42 {"l":{},"v":null}`} {
		if _, err := parseListingRecord(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// FuzzParseListingRecord: whatever a key holds (another version's writer,
// a hand edit), parsing never panics, and what parses as a listed lobby
// has a version, a sequence and a view.
func FuzzParseListingRecord(f *testing.F) {
	f.Add("7 42 " + string(mustPayload(f, testView("R", 4, 2))))
	f.Add("8 42 ")
	f.Add(`1 1 {"l":{"s":"open","n":1,"x":2,"a":{"k":"v"}},"v":{}}`)
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseListingRecord(s)
		if err != nil {
			return
		}
		if r.version == 0 || (!r.removed && (r.seq == 0 || len(r.view) == 0 || r.view[0] != '{')) {
			t.Fatalf("%q parsed as %+v", s, r)
		}
	})
}
