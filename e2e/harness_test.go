package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/lobbyd/lobbyd/app"
	"github.com/lobbyd/lobbyd/config"
	"github.com/lobbyd/lobbyd/gateway"
)

// server is one shard: in-process (app set) or a lobbyd process
// (cluster_binary_test.go). auth signs its player tokens.
type server struct {
	t    *testing.T
	app  *app.App
	addr string
	auth *gateway.Auth
}

const testSecret = "e2e-test-secret"

// startServer starts a shard on a free port with the defaults of
// config.Load, a known JWT secret and dev mode; mutate adjusts the config.
func startServer(t *testing.T, mutate func(*config.Config)) *server {
	t.Helper()
	cfg, err := config.Load(nil, func(string) string { return "" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = "127.0.0.1:0"
	cfg.JWTSecret = testSecret
	cfg.OperatorToken = "op-token"
	cfg.ShardID = "test-shard"
	if mutate != nil {
		mutate(cfg)
	}
	var log *slog.Logger
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	a, err := app.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	go a.Serve()
	t.Cleanup(func() { a.Shutdown() })
	return &server{t: t, app: a, addr: a.Addr(), auth: a.Auth}
}

// token issues a player token valid for ttl.
func (s *server) token(userID, name string, ttl time.Duration) string {
	s.t.Helper()
	tok, err := s.auth.Issue(userID, name, ttl)
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

func (s *server) wsURL(query string) string {
	return "ws://" + s.addr + "/ws?" + query
}

// httpDo sends an HTTP request and decodes a JSON answer into out (if not nil).
func (s *server) httpDo(method, path, bearer string, body any, out any) (int, http.Header) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+s.addr+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			s.t.Fatalf("%s %s: %d %q: %v", method, path, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode, resp.Header
}

// msg is one decoded server message.
type msg map[string]any

func (m msg) d() map[string]any {
	d, _ := m["d"].(map[string]any)
	return d
}

func (m msg) errCode() string {
	e, _ := m["err"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// client is a test player on a real WebSocket client.
type client struct {
	t       *testing.T
	ws      *websocket.Conn
	user    string
	welcome msg
	rid     uint32

	// wmu serializes writes and rid: a traffic goroutine may share a
	// client with the test's own goroutine (gorilla allows one writer).
	wmu sync.Mutex

	mu     sync.Mutex
	inbox  []msg         // messages not yet taken
	signal chan struct{} // poked on every new message
	closed *websocket.CloseError
	done   chan struct{}

	marked atomic.Int32 // pings answered that carried the server's mark
}

// dial connects and reads the welcome.
func (s *server) dial(userID string) *client {
	s.t.Helper()
	return s.dialQuery(userID, "token="+url.QueryEscape(s.token(userID, "", time.Hour)))
}

func (s *server) dialQuery(userID, query string) *client {
	s.t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(s.wsURL(query), nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		s.t.Fatalf("dial %s: %v (HTTP %d)", userID, err, status)
	}
	c := &client{t: s.t, ws: ws, user: userID, signal: make(chan struct{}, 1), done: make(chan struct{})}
	ws.SetPingHandler(func(data string) error {
		// gorilla's own answer (the payload echoed), then counted.
		err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		if len(data) == 8 {
			c.marked.Add(1)
		}
		return err
	})
	go c.readLoop()
	s.t.Cleanup(func() { ws.Close() })
	c.welcome = c.nextEvent("welcome")
	return c
}

func (c *client) readLoop() {
	defer close(c.done)
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			c.mu.Lock()
			if ce, ok := err.(*websocket.CloseError); ok {
				c.closed = ce
			} else {
				c.closed = &websocket.CloseError{Code: -1, Text: err.Error()}
			}
			c.mu.Unlock()
			c.poke()
			return
		}
		if typ != websocket.BinaryMessage {
			c.mu.Lock()
			c.closed = &websocket.CloseError{Code: -2, Text: "server sent a non-binary frame"}
			c.mu.Unlock()
			c.poke()
			return
		}
		var m msg
		if err := msgpack.Unmarshal(data, &m); err != nil {
			c.mu.Lock()
			c.closed = &websocket.CloseError{Code: -3, Text: "undecodable frame: " + err.Error()}
			c.mu.Unlock()
			c.poke()
			return
		}
		c.mu.Lock()
		c.inbox = append(c.inbox, m)
		c.mu.Unlock()
		c.poke()
	}
}

// acknowledged waits until the client has answered a ping that carried
// the server's mark (about a second after its events pause), and the
// server has read that answer: what the client read before is
// acknowledged, and the resume token of its welcome confirmed.
func (c *client) acknowledged() {
	c.t.Helper()
	eventually(c.t, c.user+" answered a marked ping", func() bool { return c.marked.Load() > 0 })
	c.ok("ping", nil) // after the pong on the same stream
}

func (c *client) poke() {
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

const waitFor = 5 * time.Second

// take waits for the first message matching f and removes it from the inbox.
func (c *client) take(what string, f func(msg) bool) msg {
	c.t.Helper()
	deadline := time.After(waitFor)
	for {
		c.mu.Lock()
		for i, m := range c.inbox {
			if f(m) {
				c.inbox = append(c.inbox[:i], c.inbox[i+1:]...)
				c.mu.Unlock()
				return m
			}
		}
		closed := c.closed
		c.mu.Unlock()
		if closed != nil {
			c.t.Fatalf("%s: waiting for %s: connection closed: %v", c.user, what, closed)
		}
		select {
		case <-c.signal:
		case <-deadline:
			c.t.Fatalf("%s: no %s within %v; inbox: %v", c.user, what, waitFor, c.inboxDump())
		}
	}
}

func (c *client) inboxDump() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprint(c.inbox)
}

// nextEvent takes the next event with the name (other events stay queued).
func (c *client) nextEvent(name string) msg {
	c.t.Helper()
	return c.take("event "+name, func(m msg) bool { return m["ev"] == name })
}

// events returns and clears every queued event.
func (c *client) drainEvents() []msg {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out, rest []msg
	for _, m := range c.inbox {
		if _, ok := m["ev"]; ok {
			out = append(out, m)
		} else {
			rest = append(rest, m)
		}
	}
	c.inbox = rest
	return out
}

// noEvent asserts that no event with the name has arrived, up to a
// barrier: a ping and its reply. A connection's messages are written in
// the order the server queues them, and an event is queued before the
// reply to the request that caused it; so an event caused by anything that
// completed before noEvent (another client's request that has had its
// reply included) is in the inbox by the time the pong is.
func (c *client) noEvent(name string) {
	c.t.Helper()
	c.call("ping", nil)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.inbox {
		if m["ev"] == name {
			c.t.Fatalf("%s: unexpected event %v", c.user, m)
		}
	}
}

// send writes a raw binary message.
func (c *client) sendRaw(b []byte) {
	c.t.Helper()
	if err := c.write(b); err != nil {
		c.t.Fatalf("%s: write: %v", c.user, err)
	}
}

// write writes one binary message; safe from several goroutines.
func (c *client) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.WriteMessage(websocket.BinaryMessage, b)
}

// nextRID is a fresh request id; safe from several goroutines.
func (c *client) nextRID() uint32 {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.rid++
	return c.rid
}

// call sends a request with a fresh rid and waits for its reply.
func (c *client) call(op string, d any) msg {
	c.t.Helper()
	rid := c.nextRID()
	req := map[string]any{"op": op, "rid": rid}
	if d != nil {
		req["d"] = d
	}
	b, err := msgpack.Marshal(req)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(b)
	return c.reply(rid)
}

// reply waits for the reply with rid.
func (c *client) reply(rid uint32) msg {
	c.t.Helper()
	return c.take(fmt.Sprintf("reply %d", rid), func(m msg) bool {
		_, isEv := m["ev"]
		return !isEv && toUint(m["rid"]) == uint64(rid)
	})
}

// ok calls and requires success; it returns the reply's d.
func (c *client) ok(op string, d any) map[string]any {
	c.t.Helper()
	r := c.call(op, d)
	if r["ok"] != true {
		c.t.Fatalf("%s: %s %v: %v", c.user, op, d, r)
	}
	return r.d()
}

// fail calls and requires the error code.
func (c *client) fail(op string, d any, code string) {
	c.t.Helper()
	r := c.call(op, d)
	if r["ok"] != false || r.errCode() != code {
		c.t.Fatalf("%s: %s %v: want error %s, got %v", c.user, op, d, code, r)
	}
}

// waitClose waits for the server to close the connection and returns the code.
func (c *client) waitClose() int {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(waitFor):
		c.t.Fatalf("%s: connection not closed within %v", c.user, waitFor)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed.Code
}

func toUint(v any) uint64 {
	switch n := v.(type) {
	case uint8:
		return uint64(n)
	case uint16:
		return uint64(n)
	case uint32:
		return uint64(n)
	case uint64:
		return n
	case int8:
		return uint64(n)
	case int16:
		return uint64(n)
	case int32:
		return uint64(n)
	case int64:
		return uint64(n)
	case int:
		return uint64(n)
	case float64: // JSON numbers
		return uint64(n)
	}
	return 1<<64 - 1
}

func str(v any) string { s, _ := v.(string); return s }
