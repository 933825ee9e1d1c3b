package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lobbyd/lobbyd/app"
	"github.com/lobbyd/lobbyd/client"
	"github.com/lobbyd/lobbyd/config"
	"github.com/lobbyd/lobbyd/internal/redistest"
	"github.com/lobbyd/lobbyd/protocol"
)

// Tests against real shards (in-process app.App, as lobbyd runs them).
// Every wait is bounded by wait: long enough for a loaded machine; no
// test asserts on timing.
const wait = 30 * time.Second

const secret = "client-test-secret"

// shard starts an in-process shard on addr ("127.0.0.1:0": a free port).
func shard(t *testing.T, addr string, mutate func(*config.Config)) *app.App {
	t.Helper()
	cfg, err := config.Load(nil, func(string) string { return "" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = addr
	cfg.JWTSecret = secret
	cfg.OperatorToken = "op"
	cfg.RateLimit.PerSecond, cfg.RateLimit.Burst = 10000, 10000
	if mutate != nil {
		mutate(cfg)
	}
	a, err := app.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	go a.Serve()
	t.Cleanup(func() { a.Shutdown() })
	return a
}

// tokens is a TokenSource that issues tokens for one user and counts the
// calls; ttl(n) is the lifetime of the n-th token (0-based).
type tokens struct {
	a     *app.App
	user  string
	ttl   func(n int) time.Duration
	calls atomic.Int32
}

func (s *tokens) Token(context.Context) (string, error) {
	n := int(s.calls.Add(1)) - 1
	ttl := time.Hour
	if s.ttl != nil {
		ttl = s.ttl(n)
	}
	return s.a.Auth.Issue(s.user, s.user, ttl)
}

func dial(t *testing.T, addr string, ts client.TokenSource) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := client.Dial(ctx, "ws://"+addr+"/ws", ts, &client.Options{MinBackoff: 20 * time.Millisecond, MaxBackoff: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return c
}

// proxy is a TCP relay between clients and a shard, a stand-in for a load
// balancer: it can cut every connection through it, or send new ones to
// another shard.
type proxy struct {
	ln     net.Listener
	mu     sync.Mutex
	target string
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	go p.accept()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		target := p.target
		p.mu.Unlock()
		out, err := net.Dial("tcp", target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		go func() { io.Copy(out, in); out.Close() }()
		go func() { io.Copy(in, out); in.Close() }()
	}
}

// cut drops every connection through the proxy, as a network failure
// would (no close frame).
func (p *proxy) cut() {
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

func (p *proxy) setTarget(addr string) {
	p.mu.Lock()
	p.target = addr
	p.mu.Unlock()
}

// chatLog collects the chat texts a client's application sees, and the
// client's own events, from its Events channel.
type chatLog struct {
	mu       sync.Mutex
	chats    []string
	own      []string // client.* and server.draining, in order
	closes   []int
	welcomes []protocol.WelcomeEv
	changed  chan struct{}
	seqs     []uint64
}

func collect(c *client.Client) *chatLog {
	l := &chatLog{changed: make(chan struct{}, 1)}
	go func() {
		for ev := range c.Events() {
			l.mu.Lock()
			switch d := ev.Data.(type) {
			case *protocol.ChatEv:
				l.chats = append(l.chats, d.Text)
			case *client.Disconnected:
				l.closes = append(l.closes, d.CloseCode)
			case *client.SessionReset:
				l.welcomes = append(l.welcomes, d.Welcome)
			case *client.Resumed:
				l.welcomes = append(l.welcomes, d.Welcome)
			}
			if ev.Seq == 0 {
				l.own = append(l.own, ev.Name)
			} else {
				l.seqs = append(l.seqs, ev.Seq)
			}
			l.mu.Unlock()
			select {
			case l.changed <- struct{}{}:
			default:
			}
		}
	}()
	return l
}

// until waits for f to hold over the log.
func (l *chatLog) until(t *testing.T, what string, f func(*chatLog) bool) {
	t.Helper()
	deadline := time.After(wait)
	for {
		l.mu.Lock()
		ok := f(l)
		l.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-l.changed:
		case <-deadline:
			l.mu.Lock()
			defer l.mu.Unlock()
			t.Fatalf("no %s within %v; chats %d, own events %v", what, wait, len(l.chats), l.own)
		}
	}
}

func (l *chatLog) has(text string) bool {
	for _, c := range l.chats {
		if c == text {
			return true
		}
	}
	return false
}

// exactlyOnce checks that the chats seen are want, in order, each once.
func (l *chatLog) exactlyOnce(t *testing.T, want []string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.chats) != len(want) {
		t.Fatalf("saw %d chats, want %d: %v", len(l.chats), len(want), l.chats)
	}
	for i := range want {
		if l.chats[i] != want[i] {
			t.Fatalf("chat %d is %q, want %q (all: %v)", i, l.chats[i], want[i], l.chats)
		}
	}
	for i := 1; i < len(l.seqs); i++ {
		if l.seqs[i] <= l.seqs[i-1] {
			t.Fatalf("seq %d after %d", l.seqs[i], l.seqs[i-1])
		}
	}
}

func (l *chatLog) count(name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, o := range l.own {
		if o == name {
			n++
		}
	}
	return n
}

// lobbyOfTwo makes a public lobby hosted by host and joined by guest.
func lobbyOfTwo(t *testing.T, host, guest *client.Client) protocol.LobbyView {
	t.Helper()
	lv, err := host.CreateLobby(ctx(t), protocol.CreateLobby{Name: "pair", MaxPlayers: 4, Visibility: protocol.VisibilityPublic})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := guest.JoinLobby(ctx(t), protocol.JoinLobby{Code: lv.Code}); err != nil {
		t.Fatal(err)
	}
	return lv
}

// The server side of alice's connection drops three times while bob
// chats: alice's application sees every chat once and in order, and each
// of her own requests meanwhile is answered or fails with an error.
func TestConnectionDroppedMidTraffic(t *testing.T) {
	s := shard(t, "127.0.0.1:0", nil)
	p := newProxy(t, s.Addr())
	alice := dial(t, p.addr(), &tokens{a: s, user: "alice"})
	bob := dial(t, s.Addr(), &tokens{a: s, user: "bob"})
	log := collect(alice)
	lobbyOfTwo(t, alice, bob)

	const n = 300
	var want []string
	cuts := map[int]bool{60: true, 140: true, 220: true}
	var lost, answered atomic.Int32
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // alice keeps asking while her connection drops
		defer wg.Done()
		for i := 0; i < 40; i++ {
			_, err := alice.Ping(ctx(t))
			switch {
			case err == nil:
				answered.Add(1)
			case errors.Is(err, client.ErrConnectionLost):
				lost.Add(1)
			default:
				t.Errorf("ping: %v", err)
				return
			}
		}
	}()
	for i := range n {
		text := "m" + strconv.Itoa(i)
		if err := bob.Chat(ctx(t), text); err != nil {
			t.Fatal(err)
		}
		want = append(want, text)
		if cuts[i] {
			log.until(t, "chat "+text, func(l *chatLog) bool { return l.has(text) })
			p.cut()
		}
	}
	wg.Wait()
	last := want[len(want)-1]
	log.until(t, "the last chat", func(l *chatLog) bool { return l.has(last) })
	log.exactlyOnce(t, want)
	if got := log.count(client.EvResumed); got < 3 {
		t.Fatalf("%d resumes after 3 cuts (own events %v)", got, log.own)
	}
	if log.count(client.EvSessionReset) != 0 {
		t.Fatalf("a session reset after a cut: %v", log.own)
	}
	if answered.Load()+lost.Load() != 40 {
		t.Fatalf("pings: %d answered, %d lost, want 40 in all", answered.Load(), lost.Load())
	}
}

// A token that expires on an open connection (close 4001) is replaced
// from the TokenSource and the session resumes: nothing lost, nothing
// twice.
func TestTokenExpiredIsRefreshed(t *testing.T) {
	s := shard(t, "127.0.0.1:0", nil)
	ts := &tokens{a: s, user: "alice", ttl: func(n int) time.Duration {
		if n == 0 {
			return 2 * time.Second // JWT exp has whole seconds
		}
		return time.Hour
	}}
	alice := dial(t, s.Addr(), ts)
	bob := dial(t, s.Addr(), &tokens{a: s, user: "bob"})
	log := collect(alice)
	lobbyOfTwo(t, alice, bob)
	var want []string
	for i := 0; ; i++ {
		text := "t" + strconv.Itoa(i)
		if err := bob.Chat(ctx(t), text); err != nil {
			t.Fatal(err)
		}
		want = append(want, text)
		if log.count(client.EvResumed) > 0 && i > 20 {
			break
		}
		if i > 100000 {
			t.Fatal("no resume after 100000 chats")
		}
		time.Sleep(5 * time.Millisecond)
	}
	last := want[len(want)-1]
	log.until(t, "the last chat", func(l *chatLog) bool { return l.has(last) })
	log.exactlyOnce(t, want)
	log.mu.Lock()
	closes := log.closes
	log.mu.Unlock()
	if len(closes) == 0 || closes[0] != int(protocol.CloseTokenExpired) {
		t.Fatalf("close codes %v, want 4001 first", closes)
	}
	if ts.calls.Load() < 2 {
		t.Fatalf("the token source was asked %d times", ts.calls.Load())
	}
}

// A drained shard tells its clients when to come back and closes them
// (4010); behind the load balancer another shard of the cluster resumes
// the session: every chat once, in order.
func TestDrainResumesOnAnotherShard(t *testing.T) {
	addr, prefix := redistest.SharedPrefix(t)
	cluster := func(id string) func(*config.Config) {
		return func(c *config.Config) {
			c.RedisURL = "redis://" + addr + "/0"
			c.RedisPrefix = prefix
			c.ShardID = id
			c.DrainSpreadMs = 500
		}
	}
	a := shard(t, "127.0.0.1:0", cluster("a"))
	b := shard(t, "127.0.0.1:0", cluster("b"))
	lb := newProxy(t, a.Addr())
	alice := dial(t, lb.addr(), &tokens{a: a, user: "alice"})
	bob := dial(t, b.Addr(), &tokens{a: b, user: "bob"})
	log := collect(alice)
	lobbyOfTwo(t, alice, bob)
	if w := alice.Welcome(); w.Shard != "a" {
		t.Fatalf("alice is on %q", w.Shard)
	}
	var want []string
	chat := func(i int) {
		text := "d" + strconv.Itoa(i)
		if err := bob.Chat(ctx(t), text); err != nil {
			t.Fatal(err)
		}
		want = append(want, text)
	}
	for i := range 20 {
		chat(i)
	}
	lb.setTarget(b.Addr()) // the load balancer sends new connections to b
	req, _ := http.NewRequest("POST", "http://"+a.Addr()+"/admin/drain", nil)
	req.Header.Set("Authorization", "Bearer op")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("drain: %v %v", resp, err)
	}
	resp.Body.Close()
	for i := 20; ; i++ {
		chat(i)
		if alice.Welcome().Shard == "b" && i > 40 {
			break
		}
		if i > 100000 {
			t.Fatal("alice never moved to b")
		}
		time.Sleep(5 * time.Millisecond)
	}
	last := want[len(want)-1]
	log.until(t, "the last chat", func(l *chatLog) bool { return l.has(last) })
	log.exactlyOnce(t, want)
	if log.count(protocol.EvServerDraining) != 1 || log.count(client.EvResumed) != 1 || log.count(client.EvSessionReset) != 0 {
		t.Fatalf("own events %v", log.own)
	}
	// Her requests go to b now.
	if _, err := alice.Ping(ctx(t)); err != nil {
		t.Fatal(err)
	}
}

// A restarted in-memory server cannot resume anything: the client says
// so (SessionReset, no lobby), and a request made while it was away waits
// for the new server and succeeds there.
func TestServerRestartIsASessionReset(t *testing.T) {
	s := shard(t, "127.0.0.1:0", nil)
	addr := s.Addr()
	alice := dial(t, addr, &tokens{a: s, user: "alice"})
	bob := dial(t, addr, &tokens{a: s, user: "bob"})
	log := collect(alice)
	lobbyOfTwo(t, alice, bob)
	for i := range 10 {
		if err := bob.Chat(ctx(t), fmt.Sprint("r", i)); err != nil {
			t.Fatal(err)
		}
	}
	log.until(t, "the chats", func(l *chatLog) bool { return l.has("r9") })
	s.Shutdown()
	log.until(t, "the disconnect", func(l *chatLog) bool { return len(l.closes) > 0 })
	// A request while nobody listens: it waits for the new server.
	type res struct {
		lv  protocol.LobbyView
		err error
	}
	got := make(chan res, 1)
	go func() {
		lv, err := alice.CreateLobby(ctx(t), protocol.CreateLobby{Name: "after", MaxPlayers: 2, Visibility: protocol.VisibilityPrivate})
		got <- res{lv, err}
	}()
	// The same address, the same secret: the tokens still verify; the
	// sessions are gone.
	var s2 *app.App
	deadline := time.Now().Add(wait)
	for {
		cfg, _ := config.Load(nil, func(string) string { return "" }, nil)
		cfg.Addr, cfg.JWTSecret, cfg.OperatorToken = addr, secret, "op"
		var err error
		if s2, err = app.New(cfg, nil); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restart on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	go s2.Serve()
	t.Cleanup(func() { s2.Shutdown() })
	r := <-got
	if r.err != nil || r.lv.Name != "after" {
		t.Fatalf("request made during the outage: %+v %v", r.lv, r.err)
	}
	log.until(t, "the session reset", func(l *chatLog) bool { return len(l.welcomes) > 0 })
	log.mu.Lock()
	w := log.welcomes[0]
	log.mu.Unlock()
	if w.Resumed || w.Lobby != nil || log.count(client.EvSessionReset) != 1 {
		t.Fatalf("welcome after restart %+v, own events %v", w, log.own)
	}
	// Before the restart: each chat once, in order.
	log.exactlyOnce(t, []string{"r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9"})
}

// Replaced by a newer connection of the same user (4009), a Client ends
// with ErrReplaced instead of fighting back; requests fail, Events closes.
func TestReplacedClientEnds(t *testing.T) {
	s := shard(t, "127.0.0.1:0", nil)
	first := dial(t, s.Addr(), &tokens{a: s, user: "alice"})
	events := collect(first)
	dial(t, s.Addr(), &tokens{a: s, user: "alice"})
	select {
	case <-first.Done():
	case <-time.After(wait):
		t.Fatal("the replaced client did not end")
	}
	if !errors.Is(first.Err(), client.ErrReplaced) {
		t.Fatalf("Err %v", first.Err())
	}
	if _, err := first.Ping(ctx(t)); !errors.Is(err, client.ErrReplaced) {
		t.Fatalf("ping after the end: %v", err)
	}
	_ = events
}

// Refusals are *protocol.Error with the server's code.
func TestRefusalIsProtocolError(t *testing.T) {
	s := shard(t, "127.0.0.1:0", nil)
	c := dial(t, s.Addr(), &tokens{a: s, user: "alice"})
	_, err := c.JoinLobby(ctx(t), protocol.JoinLobby{LobbyID: "nope"})
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeNotFound {
		t.Fatalf("join of no lobby: %v", err)
	}
	_, err = client.Dial(ctx(t), "http://"+s.Addr(), client.StaticToken("not a jwt"), nil)
	var he *client.HandshakeError
	if !errors.As(err, &he) || he.Status != 401 || !errors.As(err, &pe) || pe.Code != protocol.CodeUnauthorized {
		t.Fatalf("bad token: %v", err)
	}
}

// Watch follows the live lobby list: reset, list, synced, then changes.
func TestWatch(t *testing.T) {
	s := shard(t, "127.0.0.1:0", nil)
	c := dial(t, s.Addr(), &tokens{a: s, user: "alice"})
	evs, err := c.Watch(ctx(t), client.WatchQuery{Mode: "ctf"})
	if err != nil {
		t.Fatal(err)
	}
	next := func() client.WatchEvent {
		select {
		case e := <-evs:
			return e
		case <-time.After(wait):
			t.Fatal("no watch event")
		}
		return client.WatchEvent{}
	}
	if e := next(); e.Kind != client.WatchReset {
		t.Fatalf("first %+v", e)
	}
	if e := next(); e.Kind != client.WatchSynced {
		t.Fatalf("second %+v", e)
	}
	lv, err := c.CreateLobby(ctx(t), protocol.CreateLobby{Name: "w", MaxPlayers: 2, Visibility: protocol.VisibilityPublic, Mode: "ctf"})
	if err != nil {
		t.Fatal(err)
	}
	if e := next(); e.Kind != client.WatchLobby || e.ID != lv.ID || e.Lobby.Name != "w" {
		t.Fatalf("after create %+v", e)
	}
	if err := c.LeaveLobby(ctx(t)); err != nil {
		t.Fatal(err)
	}
	for {
		e := next()
		if e.Kind == client.WatchRemoved && e.ID == lv.ID {
			break
		}
		if e.Kind != client.WatchLobby || e.ID != lv.ID {
			t.Fatalf("want removed, got %+v", e)
		}
	}
	if _, err := client.WatchURL(ctx(t), "http://"+s.Addr(), client.WatchQuery{Limit: 500}, nil); err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("limit 500: %v", err)
	}
}
