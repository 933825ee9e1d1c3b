package e2e

import (
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/lobbyd/lobbyd/gateway"
	"github.com/lobbyd/lobbyd/internal/redistest"
)

// Redis-side faults (docs/failures.md) on real lobbyd processes, two shards
// of one cluster on a redis-server of the test's own: Redis paused for 5 s,
// restarted with its data (AOF), restarted empty, and a shard cut off from
// Redis by a proxy the test controls. Each runs while traffic flows — chat
// and relay in a lobby split over both shards, relay in a lobby on one
// shard, duel tickets queued from both — and checks afterwards what
// docs/protocol.md §5a promises: every session's events gap-free with
// nothing repeated, every chat answered ok delivered once in one order to
// every member and every chat refused never delivered, the lobbies alike on
// both shards, no player in two matches, no goroutine or heap growth.

// faultCluster is two lobbyd shards (a, b) on a private redis-server.
type faultCluster struct {
	t      *testing.T
	redis  *redistest.Process
	shards []*server
	procs  []*lobbydProc
}

// startFaultCluster starts a redis-server with redisArgs and two shards
// on it; addrOf, when set, gives the Redis address shard i dials (a proxy).
func startFaultCluster(t *testing.T, redisArgs []string, addrOf func(i int, redisAddr string) string) *faultCluster {
	t.Helper()
	fc := &faultCluster{t: t, redis: redistest.Server(t, redisArgs...)}
	cfg := filepath.Join(t.TempDir(), "lobbyd.yaml")
	if err := os.WriteFile(cfg, []byte("rate_limit: {per_second: 10000, burst: 10000}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	auth := gateway.NewHMACAuth([]byte(testSecret))
	for i := range 2 {
		addr := fc.redis.Addr
		if addrOf != nil {
			addr = addrOf(i, addr)
		}
		p := startLobbyd(t, []string{"LOBBY_DEV=", "LOBBY_REDIS_URL=", "LOBBY_JWT_SECRET=", "LOBBY_OPERATOR_TOKEN="},
			"--addr", "127.0.0.1:0", "--config", cfg,
			"--redis", "redis://"+addr+"/0", "--redis-prefix", "f:",
			"--shard-id", string(rune('a'+i)), "--jwt-secret", testSecret, "--operator-token", "op-token")
		fc.procs = append(fc.procs, p)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("shard %c's log:\n%s", 'a'+i, p.stderr.String())
			}
		})
		fc.shards = append(fc.shards, &server{t: t, addr: p.addr, auth: auth})
	}
	return fc
}

// tryCall is call without failing the test: it returns false when no
// reply came within d (or the connection closed). For traffic goroutines.
func (c *client) tryCall(op string, d any, within time.Duration) (msg, bool) {
	rid := c.nextRID()
	req := map[string]any{"op": op, "rid": rid}
	if d != nil {
		req["d"] = d
	}
	b, _ := msgpack.Marshal(req)
	if err := c.write(b); err != nil {
		return nil, false
	}
	deadline := time.After(within)
	for {
		c.mu.Lock()
		for i, m := range c.inbox {
			if _, isEv := m["ev"]; !isEv && toUint(m["rid"]) == uint64(rid) {
				c.inbox = append(c.inbox[:i], c.inbox[i+1:]...)
				c.mu.Unlock()
				return m, true
			}
		}
		closed := c.closed != nil
		c.mu.Unlock()
		if closed {
			return nil, false
		}
		select {
		case <-c.signal:
		case <-deadline:
			return nil, false
		case <-c.done:
		}
	}
}

// events returns the events received so far (seq > 0: the session's
// stream), leaving the inbox as it is.
func (c *client) streamEvents() []msg {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []msg
	for _, m := range c.inbox {
		if _, ok := m["ev"]; ok && toUint(m["seq"]) > 0 {
			out = append(out, m)
		}
	}
	return out
}

// traffic is what flows through the cluster while a fault happens.
type traffic struct {
	split   []*client // lobby "split": members alternate between a and b
	local   []*client // lobby "local": both members on a
	queued  []*client // duel players, half on each shard, each queued once
	splitID string
	localID string

	stop chan struct{}
	wg   sync.WaitGroup
	// crash: Redis died with requests in flight. Redis may have run one
	// and died before answering: answered unavailable, it took effect
	// (docs/failures.md). Such a chat may be delivered — once, in order.
	crash bool
	// pausedAt: when Redis was stopped (SIGSTOP), zero if it was not. A
	// request sent before it may have run in the instant before, its
	// reply held in the stopped Redis past the request's 2 s bound:
	// refused, yet in effect (docs/protocol.md §5a), as after a crash.
	pausedAt time.Time

	mu      sync.Mutex
	acked   map[string]time.Time // chat or data text → when its request was answered ok
	refused map[string]time.Duration
	// refusedSent: when each refused request was sent. One sent before a
	// link was cut may have run in Redis with its answer caught in the
	// cut: refused, yet in effect, as after a crash.
	refusedSent map[string]time.Time
	localData   []string // data l0 sent in "local", answered ok, in order
	localAt     []time.Time
	enqueued    map[string]bool // user → mm.enqueue answered ok
	// enqueueRefused: user → an mm.enqueue answered unavailable before
	// one answered ok. After a crash the refused one may have queued a
	// ticket that was matched before the retry queued another: two
	// matches, both asked for (the retry is the client's).
	enqueueRefused map[string]bool
	problems       []string // requests never answered, unexpected errors
}

func (tr *traffic) problem(format string, args ...any) {
	tr.mu.Lock()
	tr.problems = append(tr.problems, fmt.Sprintf(format, args...))
	tr.mu.Unlock()
}

// startTraffic builds the lobbies and players and starts the loops; each
// member of "split" sends every 15 ms (and its reply).
func startTraffic(t *testing.T, sh []*server) *traffic {
	t.Helper()
	return startTrafficEvery(t, sh, 15*time.Millisecond)
}

// startTrafficEvery is startTraffic with each member of "split" sending
// every splitEvery.
func startTrafficEvery(t *testing.T, sh []*server, splitEvery time.Duration) *traffic {
	t.Helper()
	tr := &traffic{stop: make(chan struct{}), acked: map[string]time.Time{}, refused: map[string]time.Duration{}, refusedSent: map[string]time.Time{}, enqueued: map[string]bool{}, enqueueRefused: map[string]bool{}}
	for i := range 4 {
		c := sh[i%2].dial(fmt.Sprint("s", i))
		tr.split = append(tr.split, c)
		if i == 0 {
			tr.splitID = str(lobbyOf(c.ok("lobby.create", map[string]any{"name": "split", "max_players": 8, "visibility": "public", "mode": "fault"}))["id"])
		} else {
			c.ok("lobby.join", map[string]any{"lobby_id": tr.splitID})
		}
	}
	var code string
	for i := range 2 {
		c := sh[0].dial(fmt.Sprint("l", i))
		tr.local = append(tr.local, c)
		if i == 0 {
			lv := lobbyOf(c.ok("lobby.create", map[string]any{"name": "local", "max_players": 2, "visibility": "private"}))
			tr.localID, code = str(lv["id"]), str(lv["code"])
		} else {
			c.ok("lobby.join", map[string]any{"code": code})
		}
	}
	for i := range 12 {
		tr.queued = append(tr.queued, sh[i%2].dial(fmt.Sprint("q", i)))
	}
	// Chat from every member of "split", relay from two of them.
	for i, c := range tr.split {
		tr.wg.Add(1)
		go func() {
			defer tr.wg.Done()
			for k := 0; ; k++ {
				select {
				case <-tr.stop:
					return
				case <-time.After(splitEvery):
				}
				op, text := "lobby.chat", fmt.Sprintf("c%d-%d", i, k)
				d := map[string]any{"text": text}
				if i >= 2 && k%2 == 1 {
					op, text = "lobby.send", fmt.Sprintf("d%d-%d", i, k)
					d = map[string]any{"data": []byte(text)}
				}
				sent := time.Now()
				r, ok := c.tryCall(op, d, 20*time.Second)
				switch {
				case !ok:
					tr.problem("%s: %s %s: no reply", c.user, op, text)
					return
				case r["ok"] == true:
					tr.mu.Lock()
					tr.acked[text] = time.Now()
					tr.mu.Unlock()
				case r.errCode() == "unavailable":
					tr.mu.Lock()
					tr.refused[text] = time.Since(sent)
					tr.refusedSent[text] = sent
					tr.mu.Unlock()
				default:
					tr.problem("%s: %s %s: %v", c.user, op, text, r)
				}
			}
		}()
	}
	// Relay in "local": needs no Redis, so it goes on through the fault.
	tr.wg.Add(1)
	go func() {
		defer tr.wg.Done()
		c := tr.local[0]
		for k := 0; ; k++ {
			select {
			case <-tr.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			text := fmt.Sprint("l-", k)
			r, ok := c.tryCall("lobby.send", map[string]any{"data": []byte(text)}, 20*time.Second)
			switch {
			case !ok:
				tr.problem("l0: lobby.send %s: no reply", text)
				return
			case r["ok"] == true:
				tr.mu.Lock()
				tr.localData = append(tr.localData, text)
				tr.localAt = append(tr.localAt, time.Now())
				tr.mu.Unlock()
			default:
				tr.problem("l0: same-shard lobby.send %s: %v", text, r)
			}
		}
	}()
	// Duel tickets: each player queued once (again after a refusal).
	tr.wg.Add(1)
	go func() {
		defer tr.wg.Done()
		for _, c := range tr.queued {
			for {
				select {
				case <-tr.stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				r, ok := c.tryCall("mm.enqueue", map[string]any{"queue": "duel", "skill": 1000.0, "region": "eu"}, 20*time.Second)
				if !ok {
					tr.problem("%s: mm.enqueue: no reply", c.user)
					return
				}
				if r["ok"] == true {
					tr.mu.Lock()
					tr.enqueued[c.user] = true
					tr.mu.Unlock()
					break
				}
				if r.errCode() == "already_queued" && tr.crash {
					break // an earlier try, answered unavailable, did queue it
				}
				if r.errCode() != "unavailable" {
					tr.problem("%s: mm.enqueue: %v", c.user, r)
					break
				}
				tr.mu.Lock()
				tr.enqueueRefused[c.user] = true
				tr.mu.Unlock()
				if slices.ContainsFunc(c.streamEvents(), func(m msg) bool { return m["ev"] == "mm.matched" }) {
					break // the refused one did queue it, and it was matched: a careful client stops here
				}
			}
		}
	}()
	return tr
}

// halt stops the loops and waits for them.
func (tr *traffic) halt() {
	close(tr.stop)
	tr.wg.Wait()
}

// ackedSince reports whether a chat was answered ok after t.
func (tr *traffic) ackedSince(t time.Time) bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, at := range tr.acked {
		if at.After(t) {
			return true
		}
	}
	return false
}

// check runs every check of the file's comment once the traffic stopped.
func (tr *traffic) check(t *testing.T, sh []*server) {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, p := range tr.problems {
		t.Error(p)
	}
	// Let the last events arrive: a ping is a barrier for what its own
	// shard queued; events from the other shard come through Redis. At
	// most 20 s; then the checks below name what is missing.
	for deadline := time.Now().Add(20 * time.Second); !tr.allDelivered() && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	var order []string
	for i, c := range tr.split {
		evs := c.streamEvents()
		checkSeqs(t, c.user, evs)
		var chats []string
		seen := map[string]bool{}
		for _, ev := range evs {
			var text string
			switch ev["ev"] {
			case "lobby.chat":
				text = str(ev.d()["text"])
				chats = append(chats, text)
			case "lobby.data":
				b, _ := ev.d()["data"].([]byte)
				text = string(b)
			default:
				continue
			}
			if seen[text] {
				t.Errorf("%s: %q delivered twice", c.user, text)
			}
			seen[text] = true
			if _, ok := tr.acked[text]; !ok && !tr.mayBeInEffect(text) {
				t.Errorf("%s: %q delivered but its request was not answered ok (refused: %v)", c.user, text, tr.refused[text] > 0)
			}
		}
		for text := range tr.acked {
			if text[0] == 'c' && !seen[text] {
				t.Errorf("%s: chat %q answered ok, never delivered", c.user, text)
			}
			if text[0] == 'd' && text[1] != byte('0'+i) && !seen[text] {
				t.Errorf("%s: send %q answered ok, never delivered", c.user, text)
			}
		}
		if i == 0 {
			order = chats
		} else if !slices.Equal(order, chats) {
			t.Errorf("%s saw the chats in another order than %s", c.user, tr.split[0].user)
		}
	}
	// "local": every send answered ok reached the other member, in order.
	n := 0
	waitUntil(t, 20*time.Second, "every same-shard send delivered", func() bool {
		n = 0
		for _, ev := range tr.local[1].streamEvents() {
			if ev["ev"] == "lobby.data" {
				n++
			}
		}
		if n < len(tr.localData) {
			t.Logf("local relay: %d of %d delivered", n, len(tr.localData))
		}
		return n >= len(tr.localData)
	})
	var got []string
	evs := tr.local[1].streamEvents()
	checkSeqs(t, tr.local[1].user, evs)
	for _, ev := range evs {
		if ev["ev"] == "lobby.data" {
			b, _ := ev.d()["data"].([]byte)
			got = append(got, string(b))
		}
	}
	if !slices.Equal(got, tr.localData) {
		t.Errorf("local relay: %d delivered, %d answered ok, or out of order", len(got), len(tr.localData))
	}
	// Tickets: nobody in two matches, each match two players queued.
	byLobby := map[string][]string{}
	for _, c := range tr.queued {
		checkSeqs(t, c.user, c.streamEvents())
		n := 0
		tickets := map[string]bool{}
		for _, ev := range c.streamEvents() {
			if ev["ev"] == "mm.matched" {
				n++
				tickets[str(ev.d()["ticket_id"])] = true
				byLobby[str(lobbyOf(ev.d())["id"])] = append(byLobby[str(lobbyOf(ev.d())["id"])], c.user)
			}
		}
		// Two matches are the client's own doing only with two tickets: a
		// refused enqueue that did queue one, and its retry.
		if n > 1 && !(n == 2 && len(tickets) == 2 && tr.crash && tr.enqueueRefused[c.user]) {
			t.Errorf("%s matched %d times (tickets %v)", c.user, n, slices.Collect(maps.Keys(tickets)))
		}
		if n == 1 && !tr.enqueued[c.user] && !tr.crash {
			t.Errorf("%s matched, but its mm.enqueue was never answered ok", c.user)
		}
	}
	for id, users := range byLobby {
		if len(users) != 2 {
			t.Errorf("match lobby %s has players %v", id, users)
		}
	}
	// The lobbies alike on both shards: the stored document (GET by id)
	// and each shard's listing replica.
	for _, id := range []string{tr.splitID} { // "local" is private: not readable by id
		var views []string
		for _, s := range sh {
			var v map[string]any
			if st, _ := s.httpDo("GET", "/v1/lobbies/"+id, "", nil, &v); st != 200 {
				t.Errorf("GET /v1/lobbies/%s on %s: %d", id, s.addr, st)
				continue
			}
			views = append(views, lobbySummary(v))
		}
		if len(views) == 2 && views[0] != views[1] {
			t.Errorf("lobby %s differs between shards:\n a: %s\n b: %s", id, views[0], views[1])
		}
	}
	waitUntil(t, 20*time.Second, "the split lobby listed alike on both shards", func() bool {
		var first string
		for i, s := range sh {
			var page struct {
				Lobbies []map[string]any `json:"lobbies"`
			}
			s.httpDo("GET", "/v1/lobbies?mode=fault", "", nil, &page)
			if len(page.Lobbies) != 1 {
				return false
			}
			if sum := lobbySummary(page.Lobbies[0]); i == 0 {
				first = sum
			} else if sum != first {
				return false
			}
		}
		return true
	})
}

// mayBeInEffect reports whether text's request, refused unavailable, may
// still have taken effect: after a crash, or sent before a pause. Caller
// holds tr.mu.
func (tr *traffic) mayBeInEffect(text string) bool {
	if tr.refused[text] == 0 {
		return false
	}
	return tr.crash || (!tr.pausedAt.IsZero() && tr.refusedSent[text].Before(tr.pausedAt))
}

// allDelivered reports whether every member of "split" has every chat
// and send in effect that is addressed to it (a chat: every member; a
// send: every member but its sender): each one answered ok and, after a
// crash, each one refused that some member got (it took effect, so it
// reaches every member, in the one order the checks compare). Texts, not
// a count: a count took a refused chat in effect for the last request
// answered ok, still on its way to some member (a cross-shard delivery
// does not wait for the sender's reply, nor one client's reader for
// another's), and let the checks run a few ms before it arrived. Caller
// holds tr.mu.
func (tr *traffic) allDelivered() bool {
	seen := make([]map[string]bool, len(tr.split))
	inEffect := map[string]bool{}
	for text := range tr.acked {
		inEffect[text] = true
	}
	for i, c := range tr.split {
		seen[i] = map[string]bool{}
		for _, ev := range c.streamEvents() {
			var text string
			switch ev["ev"] {
			case "lobby.chat":
				text = str(ev.d()["text"])
			case "lobby.data":
				b, _ := ev.d()["data"].([]byte)
				text = string(b)
			default:
				continue
			}
			seen[i][text] = true
			if tr.mayBeInEffect(text) {
				inEffect[text] = true
			}
		}
	}
	for i := range tr.split {
		for text := range inEffect {
			if (text[0] == 'c' || text[1] != byte('0'+i)) && !seen[i][text] {
				return false
			}
		}
	}
	return true
}

// checkSeqs: a session's events numbered 1, 2, 3, ... with none missing
// or repeated (one connection throughout).
func checkSeqs(t *testing.T, user string, evs []msg) {
	t.Helper()
	for i, ev := range evs {
		if seq := toUint(ev["seq"]); seq != uint64(i+1) {
			t.Errorf("%s: event #%d has seq %d (%v)", user, i+1, seq, ev["ev"])
			return
		}
	}
}

// lobbySummary is what must agree between shards: members (id,
// connected), host, state.
func lobbySummary(v map[string]any) string {
	var ms []string
	for _, m := range members(v) {
		ms = append(ms, fmt.Sprintf("%s:%v", str(m["user_id"]), m["connected"]))
	}
	sort.Strings(ms)
	return fmt.Sprintf("host=%s state=%s members=%s", str(v["host"]), str(v["state"]), strings.Join(ms, ","))
}

func waitUntil(t *testing.T, within time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readyStatus is GET /readyz's status (0: no answer).
func readyStatus(s *server) int {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + s.addr + "/readyz")
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// footprint is a shard's goroutines and live heap (after a GC forced by
// the heap profile endpoint).
func footprint(t *testing.T, s *server) (goroutines, heap float64) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+s.addr+"/debug/pprof/heap?gc=1", nil)
	req.Header.Set("Authorization", "Bearer op-token")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return s.metric(t, "go_goroutines"), s.metric(t, "go_memstats_heap_alloc_bytes")
}

// noGrowth waits (≤ 20 s) for each shard's goroutines and heap to come
// back near what they were before the fault, with the same traffic.
func noGrowth(t *testing.T, sh []*server, before [][2]float64) {
	t.Helper()
	for i, s := range sh {
		var g, h float64
		waitUntil(t, 20*time.Second, fmt.Sprintf("shard %d back to its goroutines and heap", i), func() bool {
			g, h = footprint(t, s)
			return g <= before[i][0]+8 && h <= 2*before[i][1]+(8<<20)
		})
		t.Logf("shard %d: goroutines %v → %v, heap %.1f → %.1f MiB", i, before[i][0], g, before[i][1]/(1<<20), h/(1<<20))
	}
}

// redisFault runs fault while the traffic flows and checks everything
// after. fault returns when Redis is back (its start).
func redisFault(t *testing.T, fc *faultCluster, fault func(*traffic) time.Time) {
	sh := fc.shards
	tr := startTraffic(t, sh)
	time.Sleep(time.Second) // the traffic settles: the footprint to compare with
	var before [][2]float64
	for _, s := range sh {
		g, h := footprint(t, s)
		before = append(before, [2]float64{g, h})
	}
	back := fault(tr)
	waitUntil(t, 20*time.Second, "a chat answered ok after the fault", func() bool { return tr.ackedSince(back) })
	recovered := time.Since(back)
	waitUntil(t, 20*time.Second, "/readyz 200 again on both shards", func() bool {
		return readyStatus(sh[0]) == 200 && readyStatus(sh[1]) == 200
	})
	time.Sleep(time.Second) // traffic after recovery
	noGrowth(t, sh, before)
	tr.halt()
	tr.check(t, sh)
	var slowest time.Duration
	for _, d := range tr.refused {
		slowest = max(slowest, d)
	}
	t.Logf("recovered (first chat answered ok) %v after Redis was back; %d requests answered ok, %d refused unavailable (slowest refusal %v); %d same-shard sends",
		recovered.Round(time.Millisecond), len(tr.acked), len(tr.refused), slowest.Round(time.Millisecond), len(tr.localData))
}

// Redis stopped with SIGSTOP for 5 s: sockets stay open, pings and
// same-shard relay go on, requests that need Redis are answered
// unavailable (and have no effect), /readyz answers 503; then everything
// recovers on its own with nothing lost or repeated.
func TestRedisPausedFiveSeconds(t *testing.T) {
	fc := startFaultCluster(t, nil, nil)
	redisFault(t, fc, func(tr *traffic) time.Time {
		sh := fc.shards
		ping := sh[0].dial("pinger")
		fc.redis.Pause()
		paused := time.Now()
		tr.mu.Lock()
		tr.pausedAt = paused // a request sent before it may have run before the stop
		tr.mu.Unlock()
		saw503 := [2]bool{}
		var pinged bool
		for time.Since(paused) < 5*time.Second {
			for i, s := range sh {
				if !saw503[i] && readyStatus(s) == 503 {
					saw503[i] = true
					t.Logf("shard %d: /readyz 503 %v into the pause", i, time.Since(paused).Round(time.Millisecond))
				}
			}
			if !pinged {
				if r, ok := ping.tryCall("ping", nil, 5*time.Second); ok && r["ok"] == true {
					pinged = true
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		fc.redis.Resume()
		back := time.Now()
		if !saw503[0] || !saw503[1] {
			t.Errorf("/readyz never answered 503 during the pause: %v", saw503)
		}
		if !pinged {
			t.Error("no ping answered during the pause")
		}
		tr.mu.Lock()
		relayed := 0
		for _, at := range tr.localAt {
			if at.After(paused.Add(time.Second)) && at.Before(back) {
				relayed++
			}
		}
		tr.mu.Unlock()
		if relayed == 0 {
			t.Error("no same-shard lobby.send answered during the pause")
		}
		t.Logf("during the pause: %d same-shard sends answered ok", relayed)
		return back
	})
}

// Redis killed and restarted with its data (AOF, appendfsync always):
// nothing is lost, the shards reconnect on their own.
func TestRedisRestartedWithData(t *testing.T) {
	fc := startFaultCluster(t, []string{"--appendonly", "yes", "--appendfsync", "always"}, nil)
	redisFault(t, fc, func(tr *traffic) time.Time {
		tr.mu.Lock()
		tr.crash = true
		tr.mu.Unlock()
		if err := fc.redis.Restart(); err != nil {
			t.Fatal(err)
		}
		return time.Now()
	})
}

// Redis restarted EMPTY (no AOF): both shards notice within a heartbeat
// (the cluster token is gone), close every connection with 4010 "store
// lost", and keep no stale state: the resume that follows finds no session
// (welcome resumed: false, no lobby), the old lobbies are neither listed
// nor readable, the tickets are gone (queueing again works), and new
// lobbies work across the shards without restarting anything.
func TestRedisRestartedEmpty(t *testing.T) {
	fc := startFaultCluster(t, nil, nil)
	sh := fc.shards
	tr := startTraffic(t, sh)
	time.Sleep(time.Second)
	var before [][2]float64
	for _, s := range sh {
		g, h := footprint(t, s)
		before = append(before, [2]float64{g, h})
	}
	tr.mu.Lock()
	tr.crash = true
	tr.mu.Unlock()
	if err := fc.redis.Restart(); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	all := slices.Concat(tr.split, tr.local, tr.queued)
	for _, c := range all {
		select {
		case <-c.done:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: still connected 20 s after Redis came back empty", c.user)
		}
		c.mu.Lock()
		code, reason := c.closed.Code, c.closed.Text
		c.mu.Unlock()
		// A restart slower than the liveness (a loaded machine) makes the
		// shard cut off first: the same close, the other reason.
		if code != 4010 || (reason != "store lost: start a new session" && reason != "store unreachable: reconnect") {
			t.Errorf("%s: closed %d %q, want 4010 \"store lost: start a new session\"", c.user, code, reason)
		}
	}
	closedIn := time.Since(back)
	tr.halt()
	// What came before the close: gap-free, each chat once, one order.
	var order []string
	for i, c := range tr.split {
		evs := c.streamEvents()
		checkSeqs(t, c.user, evs)
		var chats []string
		for _, ev := range evs {
			if ev["ev"] == "lobby.chat" {
				text := str(ev.d()["text"])
				if slices.Contains(chats, text) {
					t.Errorf("%s: %q twice", c.user, text)
				}
				if _, ok := tr.acked[text]; !ok && tr.refused[text] == 0 {
					t.Errorf("%s: %q delivered, never answered", c.user, text)
				}
				chats = append(chats, text)
			}
		}
		if i == 0 {
			order = chats
		} else if n := min(len(order), len(chats)); !slices.Equal(order[:n], chats[:n]) {
			t.Errorf("%s saw the chats in another order than %s", c.user, tr.split[0].user)
		}
	}
	// Every player resumes (on the other shard for half of them): a new
	// session, no lobby.
	var again []*client
	for i, c := range all {
		s := sh[(i+1)%2]
		q := "token=" + url.QueryEscape(s.token(c.user, "", time.Hour)) +
			"&resume=" + url.QueryEscape(str(c.welcome.d()["resume_token"])) + "&last_seq=1"
		n := s.dialQuery(c.user, q)
		// No lobby, or one made in the new store in the moment before
		// the shards noticed (a match of two players queued then): real.
		w := n.welcome.d()
		lv, _ := w["lobby"].(map[string]any)
		if w["resumed"] != false || (lv != nil && (lv["id"] == tr.splitID || lv["id"] == tr.localID)) {
			t.Errorf("%s: welcome after the store was lost: %v", c.user, w)
		}
		again = append(again, n)
	}
	for _, s := range sh {
		if st, _ := s.httpDo("GET", "/v1/lobbies/"+tr.splitID, "", nil, nil); st != 404 {
			t.Errorf("the lost lobby read on %s: %d", s.addr, st)
		}
	}
	waitUntil(t, 20*time.Second, "no lost lobby listed on either shard", func() bool {
		for _, s := range sh {
			var page struct {
				Lobbies []map[string]any `json:"lobbies"`
			}
			if st, _ := s.httpDo("GET", "/v1/lobbies", "", nil, &page); st != 200 || len(page.Lobbies) != 0 {
				return false
			}
		}
		return true
	})
	// The cluster works again: a lobby over both shards, chat in one order,
	// tickets queued and matched.
	chatOneOrder(t, sh)
	p, q := sh[0].dial("z0"), sh[1].dial("z1")
	// (region us: tickets the traffic queued in the new store, in the
	// moment before the shards noticed, are real and wait in eu)
	p.ok("mm.enqueue", map[string]any{"queue": "duel", "skill": 1000.0, "region": "us"})
	q.ok("mm.enqueue", map[string]any{"queue": "duel", "skill": 1000.0, "region": "us"})
	if a, b := lobbyOf(p.nextEvent("mm.matched").d())["id"], lobbyOf(q.nextEvent("mm.matched").d())["id"]; a != b {
		t.Errorf("matched into %v and %v", a, b)
	}
	for _, s := range sh {
		if st := readyStatus(s); st != 200 {
			t.Errorf("/readyz on %s: %d", s.addr, st)
		}
		if n := s.metric(t, `lobbyd_store_losses_total{why="redis lost its data"}`) + s.metric(t, `lobbyd_store_losses_total{why="cut off from redis"}`); n != 1 {
			t.Errorf("%s: lobbyd_store_losses_total %v, want 1", s.addr, n)
		}
	}
	noGrowth(t, sh, before)
	t.Logf("every connection closed 4010 within %v of Redis coming back empty", closedIn.Round(time.Millisecond))
}

// linkProxy is a TCP proxy between one shard and Redis that the test can
// hold: while held, nothing crosses it either way, but connections stay
// open and what was sent waits in buffers (a partition TCP outlasts); on
// release it all arrives late — the writes a shard gave up on included.
type linkProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	gate   chan struct{} // closed while the link is up
	conns  []net.Conn
}

func startLinkProxy(t *testing.T, target string) *linkProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &linkProxy{ln: ln, target: target, gate: make(chan struct{})}
	close(p.gate)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, r)
			p.mu.Unlock()
			go p.pipe(r, c)
			go p.pipe(c, r)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.release()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	})
	return p
}

// pipe copies src to dst, each chunk only while the link is up.
func (p *linkProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			gate := p.gate
			p.mu.Unlock()
			<-gate
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if tc, ok := dst.(*net.TCPConn); ok {
				tc.CloseWrite()
			}
			return
		}
	}
}

func (p *linkProxy) hold() {
	p.mu.Lock()
	p.gate = make(chan struct{})
	p.mu.Unlock()
}

func (p *linkProxy) release() {
	p.mu.Lock()
	select {
	case <-p.gate:
	default:
		close(p.gate)
	}
	p.mu.Unlock()
}

// Shard a cut off from Redis (its link held by a proxy) while its players
// stay connected: within its liveness (TTL - 2 s) a stops writing, closes
// every connection with 4010 and answers /readyz 503; its players resume
// on b, where the lobby goes on; b declares a dead. When the link comes
// back, every write a had in flight reaches Redis late and is refused (no
// chat sent after the cut and answered unavailable ever appears, no
// session or member goes back to a; one sent just before may have run,
// its answer held in the cut link), and a rejoins as a new incarnation
// that serves players again.
func TestShardCutOffFromRedis(t *testing.T) {
	var proxy *linkProxy
	fc := startFaultCluster(t, nil, func(i int, addr string) string {
		if i > 0 {
			return addr
		}
		proxy = startLinkProxy(t, addr)
		return proxy.ln.Addr().String()
	})
	sh := fc.shards
	a, b := sh[0], sh[1]
	// a's players miss the split lobby's events from the cut to their
	// resume on b, 7-9 s later; at 15 ms a send, the members on b made
	// about 1,000 of them under load, the replay ring's bound (1,024), and
	// a resume past it is answered resumed: false (docs/protocol.md,
	// "Resume"). At 30 ms they stay near half of it.
	tr := startTrafficEvery(t, sh, 30*time.Millisecond)
	time.Sleep(time.Second)
	var before [][2]float64
	for _, s := range sh {
		g, h := footprint(t, s)
		before = append(before, [2]float64{g, h})
	}
	onA := func(c *client) bool { return str(c.welcome.d()["shard"]) == "a" }
	proxy.hold()
	cut := time.Now()
	// a's players are closed with 4010 and resume on b: resumed: true, a's
	// delivery records placing their last seq in the lobbies' logs.
	var moved, fromA []*client
	oldOf := map[*client]*client{}
	var closedAfter time.Duration
	for _, c := range slices.Concat(tr.split, tr.local, tr.queued) {
		if !onA(c) {
			continue
		}
		select {
		case <-c.done:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: still connected to a 20 s after it was cut off", c.user)
		}
		closedAfter = max(closedAfter, time.Since(cut))
		fromA = append(fromA, c)
	}
	for _, c := range fromA {
		c.mu.Lock()
		code, reason := c.closed.Code, c.closed.Text
		c.mu.Unlock()
		if code != 4010 || reason != "store unreachable: reconnect" {
			t.Errorf("%s: closed %d %q, want 4010 \"store unreachable: reconnect\"", c.user, code, reason)
		}
		evs := c.streamEvents()
		checkSeqs(t, c.user, evs)
		var last uint64
		if len(evs) > 0 {
			last = toUint(evs[len(evs)-1]["seq"])
		}
		q := "token=" + url.QueryEscape(b.token(c.user, "", time.Hour)) +
			"&resume=" + url.QueryEscape(str(c.welcome.d()["resume_token"])) + fmt.Sprintf("&last_seq=%d", last)
		n := b.dialQuery(c.user, q)
		w := n.welcome.d()
		if w["shard"] != "b" {
			t.Errorf("%s: welcome %v", c.user, w)
		}
		if strings.HasPrefix(c.user, "s") || strings.HasPrefix(c.user, "l") {
			if lv, _ := w["lobby"].(map[string]any); lv == nil {
				t.Errorf("%s: resumed on b without its lobby: %v", c.user, w)
			}
		}
		// The one exception: a player matched by b after a was cut off
		// (its mm.matched never reached it) is in a match lobby of which
		// a recorded nothing: a new session, the lobby in its welcome.
		matchedLate := !slices.ContainsFunc(evs, func(m msg) bool { return m["ev"] == "mm.matched" }) && w["lobby"] != nil
		if w["resumed"] != true && !matchedLate {
			t.Errorf("%s: not resumed on b after a was cut off: %v", c.user, w)
		}
		t.Logf("%s: resumed on b %v after the cut (resumed: %v)", c.user, time.Since(cut).Round(time.Millisecond), w["resumed"])
		moved = append(moved, n)
		oldOf[n] = c
	}
	if st := readyStatus(a); st != 503 {
		t.Errorf("/readyz on a cut off: %d", st)
	}
	waitUntil(t, 20*time.Second, "b declares a dead", func() bool {
		var list []map[string]any
		b.httpDo("GET", "/admin/shards", "op-token", nil, &list)
		return len(list) == 1 && list[0]["id"] == "b"
	})
	// The lobby goes on from b while a is away.
	chatter := tr.split[1] // on b throughout
	chatter.ok("lobby.chat", map[string]any{"text": "while a is away"})
	proxy.release()
	back := time.Now()
	waitUntil(t, 20*time.Second, "a ready again", func() bool { return readyStatus(a) == 200 })
	rejoined := time.Since(back)
	tr.halt()
	if !strings.Contains(fc.procs[0].stderr.String(), "rejoined as a new incarnation") {
		t.Error("a did not log its new incarnation")
	}
	if n := a.metric(t, `lobbyd_store_losses_total{why="cut off from redis"}`); n != 1 {
		t.Errorf("a: lobbyd_store_losses_total{cut off} %v, want 1", n)
	}
	// Nothing a wrote late took effect: the moved sessions are b's (their
	// connections stay open), the members are on b and connected.
	time.Sleep(2 * time.Second) // a's late writes have reached Redis
	for _, n := range moved {
		if r, ok := n.tryCall("ping", nil, 10*time.Second); !ok || r["ok"] != true {
			t.Errorf("%s: connection on b lost after a came back: %v", n.user, n.closed)
		}
	}
	var adm map[string]any
	if st, _ := b.httpDo("GET", "/admin/lobbies/"+tr.splitID, "op-token", nil, &adm); st != 200 {
		t.Fatalf("GET /admin/lobbies/%s: %d", tr.splitID, st)
	}
	for _, m := range members(adm) {
		if m["shard"] != "b" || m["connected"] != true {
			t.Errorf("member after a came back: %v", m)
		}
	}
	// Chats: every member on b all along saw each chat answered ok once,
	// in one order; none answered unavailable ever appears anywhere. A
	// moved player's stream is its old connection's then its new one's:
	// gap-free, nothing twice, and for a member of the split lobby the
	// chats of a member on b throughout, in the same order.
	var order []string
	for _, c := range slices.Concat(tr.split, moved) {
		seen := map[string]bool{}
		var chats []string
		evs := c.streamEvents()
		if old := oldOf[c]; old != nil && c.welcome.d()["resumed"] != true {
			// The one new session (matched late, above): its seq starts
			// again at 1 (docs/protocol.md §3), each stream gap-free.
			checkSeqs(t, c.user, evs)
			evs = append(old.streamEvents(), evs...)
		} else {
			if old != nil {
				evs = append(old.streamEvents(), evs...)
			}
			checkSeqs(t, c.user, evs)
		}
		for _, ev := range evs {
			if ev["ev"] != "lobby.chat" {
				continue
			}
			text := str(ev.d()["text"])
			if seen[text] {
				t.Errorf("%s: %q twice", c.user, text)
			}
			seen[text] = true
			chats = append(chats, text)
			// Refused and in effect is stale only when sent after the cut:
			// then it reached Redis after its deadline and must have been
			// refused there. One sent before may have run in time, its
			// answer caught in the held link (docs/protocol.md §5a cannot
			// promise more: the shard answers within 2 s, not knowing).
			sentBefore := tr.refused[text] > 0 && tr.refusedSent[text].Before(cut)
			if _, ok := tr.acked[text]; !ok && text != "while a is away" && !sentBefore {
				t.Errorf("%s: %q delivered, never answered ok (refused: %v)", c.user, text, tr.refused[text] > 0)
			}
		}
		if !onA(c) && strings.HasPrefix(c.user, "s") && c.welcome.d()["shard"] == "b" && slices.Contains(tr.split, c) {
			if order == nil {
				order = chats
			} else if !slices.Equal(order, chats) {
				t.Errorf("%s saw the chats in another order", c.user)
			}
			for text := range tr.acked {
				if text[0] == 'c' && !seen[text] {
					t.Errorf("%s (on b throughout): chat %q answered ok, never delivered", c.user, text)
				}
			}
		}
		if old := oldOf[c]; old != nil && slices.Contains(tr.split, old) && !slices.Equal(order, chats) {
			t.Errorf("%s: %d chats across the move, a member on b has %d; first difference at %d", c.user, len(chats), len(order), firstDiff(chats, order))
		}
	}
	// Tickets: nobody in two matches.
	matched := map[string]string{}
	for _, c := range slices.Concat(tr.queued, moved) {
		for _, ev := range c.streamEvents() {
			if ev["ev"] == "mm.matched" {
				id := str(lobbyOf(ev.d())["id"])
				if prev, ok := matched[c.user]; ok && prev != id {
					t.Errorf("%s in two matches: %s and %s", c.user, prev, id)
				}
				matched[c.user] = id
			}
		}
	}
	// a serves players again, in lobbies across the shards.
	chatOneOrder(t, sh)
	noGrowth(t, sh, before)
	t.Logf("a closed its %d players within %v of the cut; a ready again %v after the link came back", len(fromA), closedAfter.Round(time.Millisecond), rejoined.Round(time.Millisecond))
}
