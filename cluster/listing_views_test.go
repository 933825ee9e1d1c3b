package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/internal/redistest"
	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

// With a cache too small for a page, or none, every page reads its views
// from the hash and still lists exactly what one process would; with the
// default cache a page shown again reads nothing.
func TestListingViewsFromRedis(t *testing.T) {
	forEachRedis(t, func(t *testing.T, rdb redis.UniversalClient, ks Keyspace) {
		none := startListing(t, rdb, ks, ListingOptions{ViewCacheBytes: -1})
		tiny := startListing(t, rdb, ks, ListingOptions{ViewCacheBytes: 3 << 10}) // two or three views
		def := startListing(t, rdb, ks, ListingOptions{})
		wd := newWorld(t)
		for i := range 40 {
			wd.create(none, fmt.Sprint("L", i), i, 1+i%4)
		}
		for i := 0; i < 40; i += 3 {
			v := *wd.views[fmt.Sprint("L", i)]
			v.State = protocol.StateInGame
			wd.put(tiny, &v)
		}
		await(t, wd.last, 5*time.Second, none, tiny, def)
		samePages(t, wd.reference(), none, tiny, def)
		if n, b := tiny.Cached(); n == 0 || b > 3<<10 {
			t.Fatalf("tiny cache holds %d views, %d bytes", n, b)
		}
		if n, _ := none.Cached(); n != 0 {
			t.Fatalf("no cache holds %d views", n)
		}
		ctx := context.Background()
		if _, err := def.AppendListJSON(ctx, nil, lobby.ListQuery{}); err != nil {
			t.Fatal(err)
		}
		before := def.Fetches()
		for range 3 {
			if _, err := def.AppendListJSON(ctx, nil, lobby.ListQuery{}); err != nil {
				t.Fatal(err)
			}
		}
		if got := def.Fetches() - before; got != 0 {
			t.Fatalf("the first page again read Redis %d times, want 0", got)
		}
		// A change of a cached lobby comes with the log entry: the cache
		// follows it, and the page shows it without a read.
		v := *wd.views["L39"]
		v.Name = "renamed"
		wd.put(none, &v)
		await(t, wd.last, 5*time.Second, def)
		samePages(t, wd.reference(), def)
		page, err := def.AppendListJSON(ctx, nil, lobby.ListQuery{Limit: 1})
		if err != nil || !strings.Contains(string(page), `"renamed"`) {
			t.Fatalf("%s, %v", page, err)
		}
		if _, err := def.Get(ctx, "L39"); err != nil {
			t.Fatal(err)
		}
	})
}

// A page's views and its index entries disagree only as far as the hash
// is ahead of the replica: a newer view is served, a lobby gone from the
// hash (or older there than the entry) is left out and the page is
// shorter, its cursor unchanged.
func TestListingViewVersions(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ks := NewKeyspace(prefix)
	ctx := context.Background()
	r := startListing(t, rdb, ks, ListingOptions{ViewCacheBytes: -1})
	wd := newWorld(t)
	for i := range 4 {
		wd.create(r, fmt.Sprint("V", i), i, 1)
	}
	await(t, wd.last, 5*time.Second, r)
	full, err := r.List(ctx, lobby.ListQuery{Limit: 3})
	if err != nil || len(full.Lobbies) != 3 || full.NextCursor == "" {
		t.Fatalf("%+v, %v", full, err)
	}
	// Behind the replica's back (no log entry): V3 newer in the hash, V2
	// gone, V1 older than the replica's entry.
	newer := *wd.views["V3"]
	newer.Name = "newer"
	hset := func(id string, version uint64, v *protocol.LobbyView) {
		rec := append([]byte(fmt.Sprint(version, " ", wd.seqs[id], " ")), mustPayload(t, v)...)
		if err := rdb.HSet(ctx, ks.listingViews(), id, string(rec)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	hset("V3", wd.version["V3"]+1, &newer)
	hset("V1", wd.version["V1"], wd.views["V1"]) // the same version: served
	if err := rdb.HDel(ctx, ks.listingViews(), "V2").Err(); err != nil {
		t.Fatal(err)
	}
	page, err := r.List(ctx, lobby.ListQuery{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, v := range page.Lobbies {
		ids = append(ids, v.ID+"/"+v.Name)
	}
	if got := strings.Join(ids, " "); got != `V3/newer V1/lobby <1> "q"` || page.NextCursor != full.NextCursor {
		t.Fatalf("page %s, cursor %q; want V3 newer and V1, cursor %q", got, page.NextCursor, full.NextCursor)
	}
	if _, err := r.Get(ctx, "V2"); !errors.Is(err, lobby.ErrNotFound) {
		t.Fatalf("V2 gone from the hash: %v", err)
	}
	// Older in the hash than the replica's entry (Redis went back in time).
	older := *wd.views["V0"]
	older.Name = "older"
	wd.version["V0"]++
	if _, err := r.Write(ctx, "V0", wd.version["V0"], wd.seqs["V0"], wd.views["V0"]); err != nil {
		t.Fatal(err)
	}
	n, _ := rdb.Get(ctx, ks.listingN()).Uint64()
	await(t, n, 5*time.Second, r)
	hset("V0", wd.version["V0"]-1, &older)
	if _, err := r.Get(ctx, "V0"); !errors.Is(err, lobby.ErrNotFound) {
		t.Fatalf("V0 older in the hash: %v", err)
	}
	out, err := r.AppendListJSON(ctx, nil, lobby.ListQuery{Cursor: full.NextCursor})
	if err != nil || string(out) != `{"lobbies":[],"next_cursor":null}` {
		t.Fatalf("%s, %v", out, err)
	}
}

// While Redis is away, a page whose views are cached is served from
// memory; one that must read a view answers unavailable within the
// request's deadline, as the lobby store's reads do.
func TestListingViewsRedisDown(t *testing.T) {
	srv := redistest.Server(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	defer rdb.Close()
	ks := NewKeyspace(redistest.Prefix(t))
	ctx := context.Background()
	r := startListing(t, rdb, ks, ListingOptions{})
	wd := newWorld(t)
	for i := range 30 {
		wd.create(r, fmt.Sprint("D", i), i, 1)
	}
	await(t, wd.last, 5*time.Second, r)
	first, err := r.AppendListJSON(ctx, nil, lobby.ListQuery{Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	defer srv.Resume()
	again, err := r.AppendListJSON(ctx, nil, lobby.ListQuery{Limit: 5})
	if err != nil || string(again) != string(first) {
		t.Fatalf("cached page while Redis is away: %s, %v", again, err)
	}
	dctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err = r.AppendListJSON(dctx, nil, lobby.ListQuery{Limit: 20})
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeUnavailable {
		t.Fatalf("page needing Redis while it is away: %v, want unavailable", err)
	}
	gctx, cancel2 := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel2()
	if _, err := r.Get(gctx, "D0"); !errors.As(err, &pe) || pe.Code != protocol.CodeUnavailable {
		t.Fatalf("Get needing Redis while it is away: %v, want unavailable", err)
	}
}

// The cache keeps at most its bytes, drops the least recently shown view
// first, never replaces a view with an older one, and serves a view only
// at the asked version or newer.
func TestViewCache(t *testing.T) {
	view := strings.Repeat("x", 872) // 872 + 1-byte id + overhead = 1001 bytes
	c := newViewCache(3003)
	for _, id := range []string{"a", "b", "c"} {
		c.put(id, 5, view)
	}
	if n, b := c.stats(); n != 3 || b != 3003 {
		t.Fatalf("%d views, %d bytes", n, b)
	}
	if _, ok := c.get("a", 5); !ok { // a is now the most recent
		t.Fatal("a missing")
	}
	c.put("d", 1, view) // evicts b
	if _, ok := c.get("b", 1); ok {
		t.Fatal("b kept over the bound")
	}
	page := []pageLobby{{id: "a", version: 6}, {id: "c", version: 5}, {id: "d", version: 1}}
	c.find(page)
	if page[0].view != "" || page[1].view != view || page[2].view != view {
		t.Fatalf("find: %+v", page)
	}
	c.put("c", 4, "old")
	if v, _ := c.get("c", 5); v != view {
		t.Fatal("an older view replaced a newer one")
	}
	c.refresh("c", 6, func() (string, bool) { return "{6}", true })
	c.refresh("zz", 6, func() (string, bool) { t.Fatal("view of a lobby not cached extracted"); return "", false })
	if v, ok := c.get("c", 6); !ok || v != "{6}" {
		t.Fatalf("refresh: %q %v", v, ok)
	}
	c.remove("c")
	c.clear()
	if n, b := c.stats(); n != 0 || b != 0 {
		t.Fatalf("after clear: %d views, %d bytes", n, b)
	}
	off := newViewCache(-1)
	off.put("a", 1, "{}")
	if n, _ := off.stats(); n != 0 {
		t.Fatal("a cache that is off kept a view")
	}
}

// viewOfPayload finds exactly the view that a full decode finds, whatever
// the listing record holds (keys and values that look like the view's).
func TestViewOfPayload(t *testing.T) {
	v := testView("P", 1, 2)
	v.Attrs = protocol.Attrs{"v": `,"v":{"x":1}}`, "w": `\"}`, "l": "{["}
	for _, p := range [][]byte{mustPayload(t, testView("R", 4, 2)), mustPayload(t, v)} {
		r, err := parseListingRecord("3 4 " + string(p))
		if err != nil {
			t.Fatal(err)
		}
		view, ok := viewOfPayload(string(p))
		if !ok || view != string(r.view) {
			t.Fatalf("view %q, want %q", view, r.view)
		}
		var back protocol.LobbyView
		if err := gojson.Unmarshal([]byte(view), &back); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []string{"", `{"l":{}}`, `{"l":{},"v":null}`, `{"l":{"a":"}"},"v":{}`, `{"l":{},"v":{}}x`, `{"l":{},"v":{}{}}`} {
		if view, ok := viewOfPayload(bad); ok {
			t.Errorf("%q gave %q", bad, view)
		}
	}
}

// FuzzViewOfPayload: on any payload the replica's quick look agrees with
// the full decode: what it takes for a view is the decoded view.
func FuzzViewOfPayload(f *testing.F) {
	f.Add(string(mustPayload(f, testView("R", 4, 2))))
	f.Add(`{"l":{"s":"open","n":1,"x":2,"a":{"v":",\"v\":{}"}},"v":{"id":"}"}}`)
	f.Fuzz(func(t *testing.T, p string) {
		view, ok := viewOfPayload(p)
		if !ok {
			return
		}
		r, err := parseListingRecord("1 1 " + p)
		if err == nil && string(r.view) != view {
			t.Fatalf("%q: view %q, decoded %q", p, view, r.view)
		}
	})
}
