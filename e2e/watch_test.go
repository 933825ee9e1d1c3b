package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lobbyd/lobbyd/config"
)

// The live lobby list, GET /v1/lobbies/watch (docs/protocol.md §4).

// watchWait bounds every "eventually" of these tests: long enough for a
// loaded machine; nothing here asserts on timing.
const watchWait = 20 * time.Second

// sse is one Server-Sent Event as a client reads it.
type sse struct {
	id, event, data string
}

// viewID is the "id" of the event's JSON data.
func (e sse) viewID(t *testing.T) string {
	t.Helper()
	var v struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(e.data), &v); err != nil {
		t.Fatalf("event %s: data %q: %v", e.event, e.data, err)
	}
	return v.ID
}

// watchStream is an open GET /v1/lobbies/watch.
type watchStream struct {
	t      *testing.T
	events chan sse
	cancel context.CancelFunc
	resp   *http.Response
	seen   map[string]bool // lobbies this stream was sent
}

// watch opens the live lobby list with the query; it fails the test
// unless the answer is a 200 event stream.
func (s *server) watch(query string) *watchStream {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+s.addr+"/v1/lobbies/watch?"+query, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		s.t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		cancel()
		resp.Body.Close()
		s.t.Fatalf("watch %q: %d %s", query, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	w := &watchStream{t: s.t, events: make(chan sse, 1024), cancel: cancel, resp: resp, seen: map[string]bool{}}
	go w.read()
	s.t.Cleanup(w.close)
	return w
}

func (w *watchStream) close() {
	w.cancel()
	w.resp.Body.Close()
}

// read parses the stream (the SSE format: fields up to a blank line;
// comment lines start with a colon) until it ends, then closes events.
func (w *watchStream) read() {
	defer close(w.events)
	sc := bufio.NewScanner(w.resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var cur sse
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.event != "" || cur.data != "" {
				w.events <- cur
			}
			cur = sse{}
		case strings.HasPrefix(line, ":"):
		default:
			k, v, _ := strings.Cut(line, ":")
			v = strings.TrimPrefix(v, " ")
			switch k {
			case "id":
				cur.id = v
			case "event":
				cur.event = v
			case "data":
				cur.data += v
			}
		}
	}
}

// next returns the next event; it fails the test if the stream ends or
// nothing comes within watchWait.
func (w *watchStream) next() sse {
	w.t.Helper()
	select {
	case e, ok := <-w.events:
		if !ok {
			w.t.Fatal("the watch stream ended")
		}
		return e
	case <-time.After(watchWait):
		w.t.Fatalf("no watch event within %v", watchWait)
	}
	return sse{}
}

// sync reads the initial list up to synced and returns the ids, in order.
func (w *watchStream) sync() []string {
	w.t.Helper()
	var ids []string
	for {
		e := w.next()
		switch e.event {
		case "synced":
			return ids
		case "lobby":
			ids = append(ids, e.viewID(w.t))
			w.seen[e.viewID(w.t)] = true
		default:
			w.t.Fatalf("before synced: event %q %q", e.event, e.data)
		}
	}
}

// expect reads events up to the one named event about the lobby id. On
// the way it skips only new views of lobbies this stream was sent
// already: the hub reads a lobby when it hears of a change, and one
// operation may be heard of twice (its event, then its re-filing), so the
// same view may come again. Anything else fails the test.
func (w *watchStream) expect(event, id string) sse {
	w.t.Helper()
	for {
		e := w.next()
		got := e.viewID(w.t)
		if e.id == "" {
			w.t.Fatalf("event without id: %v", e)
		}
		if e.event == event && got == id {
			if event == "lobby" {
				w.seen[id] = true
			}
			return e
		}
		if e.event != "lobby" || !w.seen[got] {
			w.t.Fatalf("want %s %s, got %s %s", event, id, e.event, e.data)
		}
	}
}

// ended waits for the server to end the stream and returns what came
// meanwhile.
func (w *watchStream) ended() []sse {
	w.t.Helper()
	var got []sse
	deadline := time.After(watchWait)
	for {
		select {
		case e, ok := <-w.events:
			if !ok {
				return got
			}
			got = append(got, e)
		case <-deadline:
			w.t.Fatalf("the watch stream did not end within %v; got %v", watchWait, got)
		}
	}
}

func createLobby(t *testing.T, c *client, name, mode string, maxPlayers int) string {
	t.Helper()
	lv := lobbyOf(c.ok("lobby.create", map[string]any{"name": name, "max_players": maxPlayers, "visibility": "public", "mode": mode}))
	return lv["id"].(string)
}

// On one shard: the filtered list first, then lobbies that start
// matching, changes of lobbies sent, and lobby_removed when one is
// deleted, made private or stops matching (has_space).
func TestWatchSingleShard(t *testing.T) {
	s := startServer(t, nil)
	ann, ben, cat, dan := s.dial("ann"), s.dial("ben"), s.dial("cat"), s.dial("dan")
	old := createLobby(t, ann, "old", "ctf", 4)
	createLobby(t, ben, "other mode", "dm", 4)

	w := s.watch("mode=ctf&has_space=true")
	if ids := w.sync(); len(ids) != 1 || ids[0] != old {
		t.Fatalf("initial list: %v, want [%s]", ids, old)
	}
	// A new lobby that matches is sent; one of another mode is not (the
	// change after it is the next event).
	fresh := createLobby(t, cat, "fresh", "ctf", 2)
	w.expect("lobby", fresh)
	dm := createLobby(t, dan, "dm again", "dm", 4)
	ben.ok("lobby.leave", nil)
	ben.ok("lobby.join", map[string]any{"lobby_id": old})
	var e sse
	for { // the view with ben in it (an earlier event may show the lobby as it was)
		if e = w.expect("lobby", old); strings.Count(e.data, `"user_id"`) == 2 {
			break
		}
	}
	var v struct {
		Members []struct {
			UserID string `json:"user_id"`
		} `json:"members"`
		Code *string `json:"code"`
	}
	if err := json.Unmarshal([]byte(e.data), &v); err != nil || len(v.Members) != 2 || v.Code != nil {
		t.Fatalf("changed view: %s (%v)", e.data, err)
	}
	if e.id == "" {
		t.Fatal("an event without id")
	}
	// Full: it stops matching has_space.
	dan.ok("lobby.leave", nil) // dm is deleted: never sent, never removed
	dan.ok("lobby.join", map[string]any{"lobby_id": fresh})
	w.expect("lobby_removed", fresh)
	// Private: no longer listed.
	ann.ok("lobby.update", map[string]any{"visibility": "private"})
	w.expect("lobby_removed", old)
	// Deleted.
	again := createLobby(t, ann2(t, s), "again", "ctf", 4)
	w.expect("lobby", again)
	_ = dm
}

// ann2 is a fresh player (ann is in a lobby already).
func ann2(t *testing.T, s *server) *client {
	t.Helper()
	return s.dial("eve")
}

// Deleting a lobby that was sent is lobby_removed; limit bounds the first
// list only; a bad query is 400 before any stream.
func TestWatchLimitRemovedAndBadQuery(t *testing.T) {
	s := startServer(t, nil)
	ann, ben := s.dial("ann"), s.dial("ben")
	first := createLobby(t, ann, "first", "", 4)
	second := createLobby(t, ben, "second", "", 4)
	w := s.watch("limit=1")
	if ids := w.sync(); len(ids) != 1 || ids[0] != second {
		t.Fatalf("limit=1: %v, want the newest, %s", ids, second)
	}
	ben.ok("lobby.leave", nil)
	w.expect("lobby_removed", second)
	// first was not sent (beyond limit): its changes are not sent either,
	// but its removal is not news to this watcher. A new lobby is.
	ann.ok("lobby.chat", map[string]any{"text": "hi"})
	ann.ok("lobby.set_member", map[string]any{"ready": true})
	third := createLobby(t, ben, "third", "", 4)
	w.expect("lobby", third)
	_ = first
	for _, q := range []string{"limit=0", "limit=101", "cursor=abc", "state=playing", "has_space=yes"} {
		var body struct {
			Error struct{ Code string } `json:"error"`
		}
		if st, _ := s.httpDo("GET", "/v1/lobbies/watch?"+q, "", nil, &body); st != 400 || body.Error.Code != "bad_request" {
			t.Fatalf("%s: %d %+v", q, st, body)
		}
	}
}

// max_watchers bounds the streams of a shard: over it, 503 with
// Retry-After; a stream closed by its client frees its place.
func TestWatchMaxWatchers(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.MaxWatchers = 1 })
	w := s.watch("")
	w.sync()
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	st, h := s.httpDo("GET", "/v1/lobbies/watch", "", nil, &body)
	if st != 503 || body.Error.Code != "unavailable" || h.Get("Retry-After") == "" {
		t.Fatalf("over max_watchers: %d %+v Retry-After %q", st, body, h.Get("Retry-After"))
	}
	w.close()
	deadline := time.Now().Add(watchWait)
	for {
		req, _ := http.NewRequest("GET", "http://"+s.addr+"/v1/lobbies/watch", nil)
		ctx, cancel := context.WithCancel(context.Background())
		resp, err := http.DefaultClient.Do(req.WithContext(ctx))
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		resp.Body.Close()
		cancel()
		if resp.StatusCode == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the place of a closed stream was not freed: %d", resp.StatusCode)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A drain ends the streams (within drain_spread) and refuses new ones.
func TestWatchDrainEndsStreams(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.DrainSpreadMs = 300 })
	w := s.watch("")
	w.sync()
	if st, _ := s.httpDo("POST", "/admin/drain", "op-token", nil, nil); st != 202 {
		t.Fatalf("drain: %d", st)
	}
	if got := w.ended(); len(got) != 0 {
		t.Fatalf("events before the end of a drained stream: %v", got)
	}
	if st, h := s.httpDo("GET", "/v1/lobbies/watch", "", nil, nil); st != 503 || h.Get("Retry-After") == "" {
		t.Fatalf("watch while draining: %d", st)
	}
	select {
	case <-s.app.Gateway.Drained():
	case <-time.After(watchWait):
		t.Fatal("the drain did not end once the stream was gone")
	}
}

// Across shards: a lobby created on b appears in a's stream; removed, it
// is lobby_removed there.
func TestWatchAcrossShards(t *testing.T) {
	sh := startShards(t, 2, nil)
	w := sh[0].watch("mode=ctf")
	if ids := w.sync(); len(ids) != 0 {
		t.Fatalf("initial list: %v", ids)
	}
	ben := sh[1].dial("ben")
	id := createLobby(t, ben, "on b", "ctf", 4)
	w.expect("lobby", id)
	cat := sh[0].dial("cat")
	cat.ok("lobby.join", map[string]any{"lobby_id": id})
	// The join (on a) arrives as a new view of the lobby; coalescing may
	// merge changes, so read until the view shows two members.
	for {
		e := w.expect("lobby", id)
		if strings.Count(e.data, `"user_id"`) == 2 {
			break
		}
	}
	cat.ok("lobby.leave", nil)
	ben.ok("lobby.leave", nil)
	w.expect("lobby_removed", id)
	// A second shard's watcher sees the lobby list as a's: the lobby is gone.
	w2 := sh[1].watch("mode=ctf")
	if ids := w2.sync(); len(ids) != 0 {
		t.Fatalf("b's initial list after the removal: %v", ids)
	}
}
