package e2e

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/lobbyd/lobbyd/gateway"
	"github.com/lobbyd/lobbyd/internal/redistest"
)

// The tests of this file are the shard-side faults of docs/failures.md, on
// real lobbyd processes sharing a redis-server of the test's own, while
// traffic flows: a shard killed (SIGKILL) — its chores and its matcher
// leases pass to the live shards —, and a shard drained. Cluster timings
// are shortened through the configuration (cluster.*, resume_grace_ms) so
// that each test takes seconds; the bounds they stand for are in
// docs/failures.md.

// faultConfig is the configuration of the shards of a fault test: a dead
// shard noticed after 1.5 s, matcher leases of 900 ms renewed every
// 300 ms, a resume grace of 6 s.
const faultConfig = `rate_limit: {per_second: 10000, burst: 10000}
resume_grace_ms: 6000
drain_spread_ms: 1500
drain_timeout_ms: 10000
cluster: {heartbeat_ms: 250, dead_after_ms: 1500, lease_ttl_ms: 900, lease_renew_ms: 300}
`

// faultShard is one lobbyd process of a fault test.
type faultShard struct {
	*server
	proc *lobbydProc
}

// startFaultShard starts shard id on the Redis at redisAddr.
func startFaultShard(t *testing.T, redisAddr, prefix, id string) *faultShard {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "lobbyd.yaml")
	if err := os.WriteFile(cfg, []byte(faultConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startLobbyd(t, []string{"LOBBY_DEV=", "LOBBY_REDIS_URL=", "LOBBY_JWT_SECRET=", "LOBBY_OPERATOR_TOKEN="},
		"--addr", "127.0.0.1:0", "--config", cfg,
		"--redis", "redis://"+redisAddr+"/0", "--redis-prefix", prefix,
		"--shard-id", id, "--jwt-secret", testSecret, "--operator-token", "op-token")
	return &faultShard{server: &server{t: t, addr: p.addr, auth: gateway.NewHMACAuth([]byte(testSecret))}, proc: p}
}

// talker sends lobby.chat (and lobby.send) from its own connection in a
// goroutine until stopped, numbering its texts; it owns the connection's
// writes, so nobody else may call on it. Write errors (its shard died)
// end it quietly.
type talker struct {
	c    *client
	stop chan struct{}
	done chan struct{}
	sent int // after done: chats sent
}

func startTalker(c *client, relay bool) *talker {
	tk := &talker{c: c, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(tk.done)
		for i := 0; ; i++ {
			select {
			case <-tk.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			chat, _ := msgpack.Marshal(map[string]any{"op": "lobby.chat", "d": map[string]any{"text": fmt.Sprintf("%s %d", c.user, i)}})
			if c.ws.WriteMessage(websocket.BinaryMessage, chat) != nil {
				return
			}
			tk.sent = i + 1
			if relay {
				send, _ := msgpack.Marshal(map[string]any{"op": "lobby.send", "d": map[string]any{"data": []byte{byte(i)}}})
				if c.ws.WriteMessage(websocket.BinaryMessage, send) != nil {
					return
				}
			}
		}
	}()
	return tk
}

func (tk *talker) halt() {
	close(tk.stop)
	<-tk.done
}

// checkStream checks a connection's numbered events: seq from first
// upwards with no gap and no repeat, and each talker's chats in the order
// it sent them, none twice. It returns the lobby events (chat, member and
// host changes) as "name user text" lines, to compare two members' views.
func checkStream(t *testing.T, c *client, first uint64) []string {
	t.Helper()
	select {
	case <-c.done: // closed: everything it got is in
	default:
		c.call("ping", nil) // a barrier: every event queued before it is in
	}
	return checkEvents(t, c.user, c.drainEvents(), first, map[string]int{})
}

// checkEvents is checkStream on events already taken; lastChat carries
// each talker's last chat number over from an earlier connection.
func checkEvents(t *testing.T, user string, evs []msg, first uint64, lastChat map[string]int) []string {
	t.Helper()
	next := first
	var view []string
	for _, m := range evs {
		seq := toUint(m["seq"])
		if seq == 0 {
			continue // welcome, server.draining: not numbered
		}
		if seq != next {
			t.Fatalf("%s: seq %d after %d: a gap or a repeat (%v)", user, seq, next-1, m)
		}
		next++
		d := m.d()
		switch ev := str(m["ev"]); ev {
		case "lobby.chat":
			var who string
			var n int
			if _, err := fmt.Sscanf(str(d["text"]), "%s %d", &who, &n); err != nil {
				t.Fatalf("%s: chat %v", user, d)
			}
			if last, ok := lastChat[who]; ok && n <= last {
				t.Fatalf("%s: chat %q after %s %d: repeated or out of order", user, d["text"], who, last)
			}
			lastChat[who] = n
			view = append(view, ev+" "+str(d["from"])+" "+str(d["text"]))
		case "lobby.member_left":
			view = append(view, ev+" "+str(d["user_id"])+" "+str(d["reason"]))
		case "lobby.host_changed":
			view = append(view, ev+" "+str(d["host"]))
		case "lobby.member_joined":
			m, _ := d["member"].(map[string]any)
			view = append(view, ev+" "+str(m["user_id"]))
		}
	}
	return view
}

// lobbyOn is GET /v1/lobbies/{id} on s: members (id, connected), host and
// state, for comparing shards.
func lobbyOn(t *testing.T, s *server, id string) string {
	t.Helper()
	var v map[string]any
	if st, _ := s.httpDo("GET", "/v1/lobbies/"+id, "", nil, &v); st != 200 {
		t.Fatalf("GET lobby %s on %s: %d", id, s.addr, st)
	}
	var members []string
	for _, m := range v["members"].([]any) {
		mm := m.(map[string]any)
		members = append(members, fmt.Sprintf("%s:%v", mm["user_id"], mm["connected"]))
	}
	return fmt.Sprintf("host=%v state=%v members=%v", v["host"], v["state"], members)
}

// resumeQuery is the /ws query resuming c's session after its last seq.
func resumeQuery(s *server, c *client, last uint64) string {
	return "token=" + url.QueryEscape(s.token(c.user, "", time.Hour)) +
		"&resume=" + url.QueryEscape(str(c.welcome.d()["resume_token"])) + fmt.Sprintf("&last_seq=%d", last)
}

// lastSeq is the seq of the last numbered event c received.
func lastSeq(c *client) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var last uint64
	for _, m := range c.inbox {
		if s := toUint(m["seq"]); m["ev"] != nil && s > last {
			last = s
		}
	}
	return last
}

// duelTickets is the number of tickets queued in duel, per GET /v1/queues.
func duelTickets(t *testing.T, s *server) int {
	var qs []map[string]any
	if st, _ := s.httpDo("GET", "/v1/queues", "", nil, &qs); st != 200 {
		t.Fatalf("GET /v1/queues: %d", st)
	}
	for _, q := range qs {
		if q["name"] == "duel" {
			return int(toUint(q["tickets"]))
		}
	}
	t.Fatal("no duel queue")
	return 0
}

// TestBinaryClusterShardKilled: shard a, which holds the matchmaking
// leases, is killed with SIGKILL while chat and relay flow in a lobby split
// over a, b and c and in a lobby all on a, and tickets are queued.
//   - Its players reconnect to b and c at once with their last seq and
//     resume (resumed: true; a's delivery records place their last seq in
//     the lobbies' logs): each stream, old connection then new, is
//     gap-free with nothing repeated, and the split lobby's player has
//     every chat a member on b has, in the same order.
//   - b or c notices a is dead (one of them: docs/failures.md) and does its
//     chores: a's players who do not come back are shown disconnected,
//     and after the grace leave with reason disconnected, the host
//     migrating; the ticket of one who does not come back is cancelled,
//     the one of a player who came back is kept.
//   - The matcher leases pass to b or c: duels queued after the kill are
//     matched, and no ticket is in two matches.
//   - The members on b and c saw one gap-free stream each, the same lobby
//     events in the same order, and b and c show the same lobbies.
//   - Goroutines and sessions on b and c go back to their level before.
func TestBinaryClusterShardKilled(t *testing.T) {
	rs := redistest.Server(t)
	prefix := redistest.Prefix(t)
	a := startFaultShard(t, rs.Addr, prefix, "a")
	eventually(t, "a holds the duel lease", func() bool {
		return strings.Contains(a.proc.stderr.String(), `msg="cluster: matcher lease acquired" queue=duel`)
	})
	b := startFaultShard(t, rs.Addr, prefix, "b")
	c := startFaultShard(t, rs.Addr, prefix, "c")
	baseline := map[*faultShard]float64{b: b.metric(t, "go_goroutines"), c: c.metric(t, "go_goroutines")}

	// L1 split over a, b, c; L2 all on a.
	h1, r1 := a.dial("h1"), a.dial("r1")
	m1b, t1b, m1c := b.dial("m1b"), b.dial("t1b"), c.dial("m1c")
	l1 := str(lobbyOf(h1.ok("lobby.create", map[string]any{"name": "split", "max_players": 8, "visibility": "public"}))["id"])
	for _, p := range []*client{r1, m1b, m1c, t1b} {
		p.ok("lobby.join", map[string]any{"lobby_id": l1})
	}
	h2, r2, t2a := a.dial("h2"), a.dial("r2"), a.dial("t2a")
	l2 := str(lobbyOf(h2.ok("lobby.create", map[string]any{"name": "local", "max_players": 8, "visibility": "public"}))["id"])
	r2.ok("lobby.join", map[string]any{"lobby_id": l2})
	t2a.ok("lobby.join", map[string]any{"lobby_id": l2})
	// q1 never comes back (its ticket is cancelled), q2 does (kept). Their
	// skills are far apart: they never match each other or the duels below.
	q1, q2 := a.dial("q1"), a.dial("q2")
	q1.ok("mm.enqueue", map[string]any{"queue": "duel", "skill": 0.0, "region": "eu"})
	q2.ok("mm.enqueue", map[string]any{"queue": "duel", "skill": 9000.0, "region": "eu"})
	// A duel matched by a, before the kill.
	pb, pc := b.dial("p0b"), c.dial("p0c")
	pb.ok("mm.enqueue", map[string]any{"queue": "duel", "skill": 4000.0, "region": "eu"})
	pc.ok("mm.enqueue", map[string]any{"queue": "duel", "skill": 4000.0, "region": "eu"})
	matchOf := map[string]string{}
	for _, p := range []*client{pb, pc} {
		matchOf[p.user] = str(lobbyOf(p.nextEvent("mm.matched").d())["id"])
	}

	tk1, tk2 := startTalker(t1b, true), startTalker(t2a, true)
	time.Sleep(500 * time.Millisecond) // traffic flows
	killed := time.Now()
	if err := a.proc.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	tk2.halt() // its writes fail once a is gone

	// a's players who come back, through the "load balancer": r1 and q2 to
	// b, r2 to c, 300 ms after the kill (the chats of t1b meanwhile are
	// replayed to r1 from L1's log). (h2 comes back too, without a resume
	// token: a new login.)
	time.Sleep(300 * time.Millisecond)
	back := map[string]*client{}
	lastOf := map[string]uint64{}
	for _, x := range []struct {
		s *faultShard
		c *client
	}{{b, r1}, {c, r2}, {b, q2}} {
		x.c.waitClose()
		last := lastSeq(x.c) // all it got before a died
		n := x.s.dialQuery(x.c.user, resumeQuery(x.s.server, x.c, last))
		w := n.welcome.d()
		if w["shard"] == "a" || w["resumed"] != true {
			t.Fatalf("%s after a died: welcome %v", x.c.user, w)
		}
		back[x.c.user], lastOf[x.c.user] = n, last
	}
	reconnected := time.Since(killed)
	for user, lobby := range map[string]string{"r1": l1, "r2": l2} {
		if w := back[user].welcome.d(); lobbyOf(w)["id"] != lobby {
			t.Fatalf("%s after a died: welcome %v", user, w)
		}
	}
	h2.waitClose()
	back["h2"] = c.dial("h2")

	// Duels queued after the kill are matched once the lease moved.
	pairs := []*client{}
	for i := 1; i <= 3; i++ {
		x, y := b.dial(fmt.Sprintf("p%db", i)), c.dial(fmt.Sprintf("p%dc", i))
		x.ok("mm.enqueue", map[string]any{"queue": "duel", "skill": 4000.0, "region": "eu"})
		y.ok("mm.enqueue", map[string]any{"queue": "duel", "skill": 4000.0, "region": "eu"})
		pairs = append(pairs, x, y)
	}
	var failover time.Duration
	shardOf := map[string]string{}
	for i, p := range pairs {
		shardOf[p.user] = []string{"b", "c"}[i%2]
	}
	shardOf[pb.user], shardOf[pc.user] = "b", "c"
	for _, p := range pairs {
		p.take("mm.matched (the matcher failed over)", func(m msg) bool {
			if m["ev"] != "mm.matched" {
				return false
			}
			failover = max(failover, time.Since(killed))
			matchOf[p.user] = str(lobbyOf(m.d())["id"])
			return true
		})
	}
	// No ticket in two matches: each player matched once, each match of two.
	perMatch := map[string][]string{}
	for u, l := range matchOf {
		perMatch[l] = append(perMatch[l], u)
	}
	for l, us := range perMatch {
		if len(us) != 2 {
			t.Fatalf("match %s has %v", l, us)
		}
	}
	for _, p := range append(pairs, pb, pc) {
		p.noEvent("mm.matched")
	}

	// h1 and t2a do not come back: shown disconnected, then gone after the
	// grace, the host migrating; q1's ticket is cancelled, q2's kept.
	eventually(t, "h1 and t2a leave after the grace", func() bool {
		var v1, v2 map[string]any
		b.httpDo("GET", "/v1/lobbies/"+l1, "", nil, &v1)
		c.httpDo("GET", "/v1/lobbies/"+l2, "", nil, &v2)
		return len(v1["members"].([]any)) == 4 && len(v2["members"].([]any)) == 2
	})
	left := time.Since(killed)
	// Every match lobby keeps both players, connected, each recorded on
	// the shard its session is on, past the grace after the match (a
	// player of another shard than the matcher's is not taken for absent).
	time.Sleep(time.Until(killed.Add(failover + 7*time.Second)))
	for l, us := range perMatch {
		var v adminLobby
		if st, _ := b.httpDo("GET", "/admin/lobbies/"+l, "op-token", nil, &v); st != 200 {
			t.Fatalf("GET /admin/lobbies/%s: %d", l, st)
		}
		if len(v.Members) != 2 {
			t.Fatalf("match %s of %v has %+v", l, us, v.Members)
		}
		for _, m := range v.Members {
			if !m.Connected || m.Shard != shardOf[m.UserID] {
				t.Fatalf("match %s: member %+v, connected on %s", l, m, shardOf[m.UserID])
			}
		}
	}
	eventually(t, "q1's ticket cancelled, q2's kept", func() bool { return duelTickets(t, b.server) == 1 })
	tk1.halt()
	// Every member has t1b's last chat before the streams are compared: a
	// ping is no barrier for an event whose delivery record is still being
	// written on its shard (docs/cluster.md, "Delivery records").
	waitChat(t, fmt.Sprintf("t1b %d", tk1.sent-1), m1b, m1c, back["r1"])

	// Every shard shows each lobby alike.
	for _, l := range []string{l1, l2} {
		if vb, vc := lobbyOn(t, b.server, l), lobbyOn(t, c.server, l); vb != vc {
			t.Fatalf("lobby %s: b shows %s, c shows %s", l, vb, vc)
		}
	}
	if v := lobbyOn(t, b.server, l1); !strings.Contains(v, "host=r1 ") || strings.Contains(v, "h1:") {
		t.Fatalf("L1 after h1's grace: %s", v)
	}
	// The members on b and c: one gap-free stream each, the same events.
	fromChat := func(v []string) []string { // both had joined by the first chat
		i := slices.IndexFunc(v, func(e string) bool { return strings.HasPrefix(e, "lobby.chat ") })
		if i < 0 {
			t.Fatalf("no chat in %v", v)
		}
		return v[i:]
	}
	vb, vc := fromChat(checkStream(t, m1b, 1)), fromChat(checkStream(t, m1c, 1))
	if !reflect.DeepEqual(vb, vc) {
		t.Fatalf("m1b and m1c saw different lobby events:\n%v\n%v", vb, vc)
	}
	want := []string{"lobby.member_left h1 disconnected", "lobby.host_changed r1"}
	if i := slices.Index(vb, want[0]); i < 0 || i+1 >= len(vb) || vb[i+1] != want[1] {
		t.Fatalf("no member_left h1 disconnected then host_changed r1 in %v", vb)
	}
	// a's players who resumed: one stream each across the kill, seq and
	// each talker's chats going on from the old connection's last; r1 has
	// every chat m1b has (all of them: both joined before the first), in
	// the same order, none twice.
	replayed := map[string]int{}
	for _, old := range []*client{r1, r2, q2} {
		n := back[old.user]
		lastChat := map[string]int{}
		before := checkEvents(t, old.user, old.drainEvents(), 1, lastChat)
		n.call("ping", nil)
		after := checkEvents(t, n.user, n.drainEvents(), lastOf[old.user]+1, lastChat)
		replayed[old.user] = len(chatsOf(after))
		if old == r1 {
			got, ref := chatsOf(append(before, after...)), chatsOf(vb)
			if !slices.Equal(got, ref) {
				t.Fatalf("r1: %d chats across the kill, m1b has %d; first difference at %d", len(got), len(ref), firstDiff(got, ref))
			}
		}
	}
	checkStream(t, back["h2"], 1)
	t.Logf("a killed: its players reconnected and resumed within %v (chats on the new connection: %v); matcher failed over within %v; h1 and t2a left %v after the kill",
		reconnected.Round(time.Millisecond), replayed, failover.Round(time.Millisecond), left.Round(time.Millisecond))
	chores := regexp.MustCompile(`shard found dead`)
	if nb, nc := len(chores.FindAllString(b.proc.stderr.String(), -1)), len(chores.FindAllString(c.proc.stderr.String(), -1)); nb+nc != 1 {
		t.Fatalf("a's chores done %d times on b and %d on c, want once in all", nb, nc)
	}

	// Goroutines and sessions go back to where they were once the players
	// leave and their grace is over.
	var all []*client
	all = append(all, m1b, t1b, m1c, pb, pc)
	all = append(all, pairs...)
	for _, n := range back {
		all = append(all, n)
	}
	for _, p := range all {
		p.call("lobby.leave", nil) // not_in_lobby for some: fine
		p.ws.Close()
	}
	for _, s := range []*faultShard{b, c} {
		eventually(t, "sessions and goroutines back to their level", func() bool {
			return s.metric(t, `lobbyd_sessions{state="connected"}`) == 0 && s.metric(t, `lobbyd_sessions{state="resumable"}`) == 0 &&
				s.metric(t, "go_goroutines") <= baseline[s]+2
		})
	}
}

// waitChat waits until every client has the chat with text in its inbox.
func waitChat(t *testing.T, text string, cs ...*client) {
	t.Helper()
	eventually(t, "chat "+text+" at every member", func() bool {
		for _, c := range cs {
			c.mu.Lock()
			found := slices.ContainsFunc(c.inbox, func(e msg) bool { return e["ev"] == "lobby.chat" && str(e.d()["text"]) == text })
			c.mu.Unlock()
			if !found {
				return false
			}
		}
		return true
	})
}

// chatsOf is the chat lines of a view.
func chatsOf(view []string) []string {
	var out []string
	for _, e := range view {
		if strings.HasPrefix(e, "lobby.chat ") {
			out = append(out, e)
		}
	}
	return out
}

// TestBinaryClusterDrainAcrossShards: shard a is drained (POST
// /admin/drain) while a member on b chats without pause in a lobby split
// over a, b and c. a's players get server.draining, are closed with 4010
// at their own time within drain_spread_ms, and resume on b and c
// (resumed: true, a hands their replay rings over): their streams, old
// connection then new, are gap-free with nothing repeated and hold every
// chat the member on b holds, in the same order. A player of a who does
// not come back leaves after the grace (a hands its waiting sessions over
// when it stops); a exits 0 and is never reported dead.
func TestBinaryClusterDrainAcrossShards(t *testing.T) {
	rs := redistest.Server(t)
	prefix := redistest.Prefix(t)
	a := startFaultShard(t, rs.Addr, prefix, "a")
	b := startFaultShard(t, rs.Addr, prefix, "b")
	c := startFaultShard(t, rs.Addr, prefix, "c")
	d1, d2, gone := a.dial("d1"), a.dial("d2"), a.dial("gone")
	m, tk := b.dial("m"), b.dial("tk")
	id := str(lobbyOf(d1.ok("lobby.create", map[string]any{"name": "drain", "max_players": 8, "visibility": "public"}))["id"])
	for _, p := range []*client{d2, gone, m, tk} {
		p.ok("lobby.join", map[string]any{"lobby_id": id})
	}
	talk := startTalker(tk, true)
	time.Sleep(300 * time.Millisecond)
	drained := time.Now()
	if st, _ := a.httpDo("POST", "/admin/drain", "op-token", nil, nil); st != 202 {
		t.Fatalf("POST /admin/drain: %d", st)
	}
	type moved struct {
		old, now *client
		last     uint64
	}
	var ms []moved
	var slowest time.Duration
	for _, x := range []struct {
		c  *client
		to *faultShard
	}{{d1, b}, {d2, c}} {
		x.c.nextEvent("server.draining")
		if code := x.c.waitClose(); code != 4010 {
			t.Fatalf("%s closed with %d, want 4010", x.c.user, code)
		}
		last := lastSeq(x.c)
		n := x.to.dialQuery(x.c.user, resumeQuery(x.to.server, x.c, last))
		if w := n.welcome.d(); w["resumed"] != true || lobbyOf(w)["id"] != id {
			t.Fatalf("%s on %s after the drain: %v", x.c.user, w["shard"], w)
		}
		slowest = max(slowest, time.Since(drained))
		ms = append(ms, moved{x.c, n, last})
	}
	gone.nextEvent("server.draining")
	gone.waitClose()
	// a exits 0 once its connections are gone.
	select {
	case <-a.proc.logsDone:
	case <-time.After(20 * time.Second):
		t.Fatal("a did not exit after its drain")
	}
	if err := a.proc.cmd.Wait(); err != nil {
		t.Fatalf("a's exit: %v", err)
	}
	time.Sleep(300 * time.Millisecond) // more chats after the move
	talk.halt()
	last := fmt.Sprintf("lobby.chat tk tk %d", talk.sent-1)
	eventually(t, "the last chat everywhere", func() bool {
		for _, p := range []*client{m, ms[0].now, ms[1].now} {
			p.mu.Lock()
			found := false
			for _, e := range p.inbox {
				if e["ev"] == "lobby.chat" && str(e.d()["text"]) == strings.TrimPrefix(last, "lobby.chat tk ") {
					found = true
				}
			}
			p.mu.Unlock()
			if !found {
				return false
			}
		}
		return true
	})
	ref := chatsOf(checkStream(t, m, 1))
	for _, x := range ms {
		// One stream across the move: seq and each chat go on from the
		// old connection's last.
		lastChat := map[string]int{}
		before := checkEvents(t, x.old.user, x.old.drainEvents(), 1, lastChat)
		x.now.call("ping", nil)
		after := checkEvents(t, x.now.user, x.now.drainEvents(), x.last+1, lastChat)
		got := chatsOf(append(before, after...))
		if !slices.Equal(got, ref) {
			t.Fatalf("%s: %d chats across the drain, m on b has %d; first difference at %d", x.old.user, len(got), len(ref), firstDiff(got, ref))
		}
	}
	// The grace (6 s here) runs from a's exit, then a live shard removes
	// the player; a removal that fails on a loaded machine is tried again
	// orphanRetry (10 s) later.
	waitUntil(t, 30*time.Second, "gone leaves after the grace", func() bool {
		var v map[string]any
		b.httpDo("GET", "/v1/lobbies/"+id, "", nil, &v)
		return len(v["members"].([]any)) == 4
	})
	if vb, vc := lobbyOn(t, b.server, id), lobbyOn(t, c.server, id); vb != vc || strings.Contains(vb, "gone:") {
		t.Fatalf("after the drain: b shows %s, c shows %s", vb, vc)
	}
	for _, s := range []*faultShard{b, c} {
		if strings.Contains(s.proc.stderr.String(), "shard found dead") {
			t.Fatal("a drained shard was reported dead")
		}
	}
	t.Logf("drain: a's players resumed elsewhere within %v of POST /admin/drain", slowest.Round(time.Millisecond))
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestBinaryClusterShardRestartedSameID: shard a is killed and started
// again at once under the same id (a container restarted in place), while
// a member on b chats. a's player resumes on the new a: the directory
// still names a, whose new process has no such session, so a's delivery
// record of the lobby places the client's last seq (or, if b found a
// dead first, the orphan's resume does the same): resumed: true, and the
// stream, old connection then new, holds every chat the member on b has,
// in the same order, none twice.
func TestBinaryClusterShardRestartedSameID(t *testing.T) {
	rs := redistest.Server(t)
	prefix := redistest.Prefix(t)
	a := startFaultShard(t, rs.Addr, prefix, "a")
	b := startFaultShard(t, rs.Addr, prefix, "b")
	m, p, talker := b.dial("m"), a.dial("p"), b.dial("tk")
	id := str(lobbyOf(m.ok("lobby.create", map[string]any{"name": "restart", "max_players": 8, "visibility": "public"}))["id"])
	p.ok("lobby.join", map[string]any{"lobby_id": id})
	talker.ok("lobby.join", map[string]any{"lobby_id": id})
	tk := startTalker(talker, false)
	time.Sleep(300 * time.Millisecond)
	if err := a.proc.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.waitClose()
	last := lastSeq(p)
	a2 := startFaultShard(t, rs.Addr, prefix, "a")
	n := a2.dialQuery(p.user, resumeQuery(a2.server, p, last))
	if w := n.welcome.d(); w["resumed"] != true || w["shard"] != "a" || lobbyOf(w)["id"] != id {
		t.Fatalf("p on the restarted a: %v", w)
	}
	if v := a2.metric(t, "lobbyd_cluster_resumes_from_record_total"); v != 1 {
		t.Fatalf("lobbyd_cluster_resumes_from_record_total on the restarted a: %v, want 1", v)
	}
	time.Sleep(300 * time.Millisecond) // chats after the move
	tk.halt()
	waitChat(t, fmt.Sprintf("tk %d", tk.sent-1), m, n)
	ref := chatsOf(checkStream(t, m, 1))
	lastChat := map[string]int{}
	before := checkEvents(t, p.user, p.drainEvents(), 1, lastChat)
	after := checkEvents(t, n.user, n.drainEvents(), last+1, lastChat)
	if got := chatsOf(append(before, after...)); !slices.Equal(got, ref) {
		t.Fatalf("p: %d chats across the restart, m has %d; first difference at %d", len(got), len(ref), firstDiff(got, ref))
	}
	t.Logf("p resumed on the restarted a after %d chats on its old connection, %d on the new", len(chatsOf(before)), len(chatsOf(after)))
}
