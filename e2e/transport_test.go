package e2e

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/lobbyd/lobbyd/config"
)

func TestHandshakeRefusedBeforeUpgrade(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.AllowedOrigins = []string{"https://game.example"} })
	otherKey := func(claims jwt.MapClaims) string {
		tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte("not-the-secret"))
		return tok
	}
	noneTok, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": "u", "exp": time.Now().Add(time.Hour).Unix()}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	hs384, _ := jwt.NewWithClaims(jwt.SigningMethodHS384, jwt.MapClaims{"sub": "u", "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(testSecret))
	noExp, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "u"}).SignedString([]byte(testSecret))
	cases := []struct {
		name   string
		query  string
		header http.Header
		status int
		code   string
	}{
		{"no token", "", nil, 401, "unauthorized"},
		{"garbage token", "token=abc.def.ghi", nil, 401, "unauthorized"},
		{"bad signature", "token=" + otherKey(jwt.MapClaims{"sub": "u", "exp": time.Now().Add(time.Hour).Unix()}), nil, 401, "unauthorized"},
		{"expired", "token=" + s.token("u", "", -time.Minute), nil, 401, "unauthorized"},
		{"alg none", "token=" + noneTok, nil, 401, "unauthorized"},
		{"other alg", "token=" + hs384, nil, 401, "unauthorized"},
		{"no exp", "token=" + noExp, nil, 401, "unauthorized"},
		{"origin not allowed", "token=" + s.token("u", "", time.Hour), http.Header{"Origin": {"https://evil.example"}}, 403, "forbidden"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, resp, err := websocket.DefaultDialer.Dial(s.wsURL(tc.query), tc.header)
			if err == nil {
				t.Fatal("upgrade succeeded")
			}
			if resp == nil || resp.StatusCode != tc.status {
				t.Fatalf("want HTTP %d, got %v (%v)", tc.status, resp, err)
			}
			body, _ := io.ReadAll(resp.Body)
			if !strings.Contains(string(body), `"code":"`+tc.code+`"`) {
				t.Fatalf("body %s lacks code %s", body, tc.code)
			}
		})
	}
	// An allowed Origin and the token in the Authorization header both work.
	h := http.Header{"Origin": {"https://game.example"}, "Authorization": {"Bearer " + s.token("u2", "", time.Hour)}}
	ws, _, err := websocket.DefaultDialer.Dial(s.wsURL(""), h)
	if err != nil {
		t.Fatal(err)
	}
	ws.Close()
}

// A handshake that passes the gateway's checks but not RFC 6455's is
// refused by netcode through the gateway's writer: still docs/protocol.md §5's
// JSON body (docs/protocol.md: 400, or 426 for a wrong version).
func TestMalformedHandshakeRefusedWithJSON(t *testing.T) {
	s := startServer(t, nil)
	cases := []struct {
		name, version, key string
		status             int
	}{
		{"wrong version", "8", "dGhlIHNhbXBsZSBub25jZQ==", 426},
		{"no key", "13", "", 400},
		{"short key", "13", "c2hvcnQ=", 400},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest("GET", "http://"+s.addr+"/ws?token="+url.QueryEscape(s.token("u", "", time.Hour)), nil)
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Sec-WebSocket-Version", tc.version)
		if tc.key != "" {
			req.Header.Set("Sec-WebSocket-Key", tc.key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct{ Error struct{ Code, Msg string } }
		if resp.StatusCode != tc.status || json.Unmarshal(body, &e) != nil || e.Error.Code != "bad_request" || e.Error.Msg == "" {
			t.Errorf("%s: %d %s", tc.name, resp.StatusCode, body)
		}
		if tc.status == 426 && resp.Header.Get("Sec-WebSocket-Version") != "13" {
			t.Errorf("%s: 426 without Sec-WebSocket-Version: 13", tc.name)
		}
	}
}

func TestWelcomeAndPing(t *testing.T) {
	s := startServer(t, nil)
	tok := s.token("alice", "Alice", time.Hour)
	c := s.dialQuery("alice", "token="+url.QueryEscape(tok))
	w := c.welcome
	if toUint(w["seq"]) != 0 {
		t.Fatalf("welcome seq = %v, want 0", w["seq"])
	}
	d := w.d()
	if d["user_id"] != "alice" || d["name"] != "Alice" || d["resumed"] != false || d["shard"] != "test-shard" ||
		toUint(d["heartbeat_ms"]) != 15000 || str(d["resume_token"]) == "" || str(d["session_id"]) == "" {
		t.Fatalf("welcome = %v", w)
	}
	if v, present := d["lobby"]; !present || v != nil {
		t.Fatalf("welcome.lobby = %v (present %v), want nil", v, present)
	}
	before := time.Now().UnixMilli()
	r := c.ok("ping", map[string]any{})
	if ts := int64(toUint(r["t"])); ts < before-1000 || ts > time.Now().UnixMilli()+1000 {
		t.Fatalf("ping t = %v", r["t"])
	}
	// A request without d, and one with rid 0 (no reply wanted).
	rid := c.nextRID()
	b, _ := msgpack.Marshal(map[string]any{"op": "ping", "rid": rid})
	c.sendRaw(b)
	if r := c.reply(rid); r["ok"] != true {
		t.Fatalf("ping without d: %v", r)
	}
	b, _ = msgpack.Marshal(map[string]any{"op": "ping"})
	c.sendRaw(b)
	c.ok("ping", nil)
	c.mu.Lock()
	n := len(c.inbox)
	c.mu.Unlock()
	if n != 0 {
		t.Fatalf("rid 0 got a reply: %v", c.inboxDump())
	}
}

func TestBadRequestsKeepTheConnection(t *testing.T) {
	s := startServer(t, nil)
	c := s.dial("bob")
	c.fail("no.such.op", map[string]any{}, "unknown_op")

	rawCases := []struct {
		name string
		b    []byte
		rid  uint64
	}{
		{"not msgpack", []byte{0xc1, 0xff, 0x00}, 0},
		{"not a map", mp([]any{"op", "ping"}), 0},
		{"no op", mp(map[string]any{"rid": 7}), 7},
		{"op not a string", mp(map[string]any{"op": 5, "rid": 8}), 8},
		{"rid not a number", mp(map[string]any{"op": "ping", "rid": "x"}), 0},
		{"rid too big", mp(map[string]any{"op": "ping", "rid": uint64(1) << 33}), 0},
		{"d not a map", mp(map[string]any{"op": "ping", "rid": 9, "d": "x"}), 9},
		{"truncated after rid", truncated(mp(struct {
			Op  string         `msgpack:"op"`
			Rid int            `msgpack:"rid"`
			D   map[string]any `msgpack:"d"`
		}{"lobby.create", 10, map[string]any{"name": "xyz"}})), 10},
		{"truncated before rid", truncated(mp(struct {
			D   map[string]any `msgpack:"d"`
			Rid int            `msgpack:"rid"`
		}{map[string]any{"name": "xyz"}, 12})), 0},
		{"huge array claim", []byte{0xdd, 0x02, 0xfa, 0xf0, 0x80}, 0},
		{"wrong field type", mp(map[string]any{"op": "lobby.create", "rid": 11, "d": map[string]any{"name": 42}}), 11},
	}
	for _, tc := range rawCases {
		c.sendRaw(tc.b)
		r := c.take("bad_request for "+tc.name, func(m msg) bool { _, ev := m["ev"]; return !ev })
		if r["ok"] != false || r.errCode() != "bad_request" || toUint(r["rid"]) != tc.rid {
			t.Fatalf("%s: reply %v, want bad_request with rid %d", tc.name, r, tc.rid)
		}
	}
	c.ok("ping", nil) // still open
}

// truncated cuts the last 4 bytes off an encoded message.
func truncated(b []byte) []byte { return b[:len(b)-4] }

func mp(v any) []byte {
	b, err := msgpack.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func TestTextFrameClosed1003(t *testing.T) {
	s := startServer(t, nil)
	c := s.dial("carol")
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if code := c.waitClose(); code != 1003 {
		t.Fatalf("close code %d, want 1003", code)
	}
}

func TestOversizeClosed1009(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.MaxMessageBytes = 2048 })
	c := s.dial("dave")
	c.sendRaw(mp(map[string]any{"op": "ping", "rid": 1, "d": map[string]any{"pad": strings.Repeat("x", 1500)}}))
	c.reply(1) // under the limit: fine
	c.sendRaw(mp(map[string]any{"op": "ping", "rid": 2, "d": map[string]any{"pad": strings.Repeat("x", 3000)}}))
	if code := c.waitClose(); code != 1009 {
		t.Fatalf("close code %d, want 1009", code)
	}
}

// rawDial performs the WebSocket handshake by hand so the test can then
// send frames no client library would (unmasked, reserved bits).
func rawDial(t *testing.T, s *server, user string) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	key := make([]byte, 16)
	rand.Read(key)
	fmt.Fprintf(nc, "GET /ws?token=%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n\r\n",
		url.QueryEscape(s.token(user, "", time.Hour)), s.addr, base64.StdEncoding.EncodeToString(key))
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 {
		t.Fatalf("handshake: %d", resp.StatusCode)
	}
	return nc, br
}

// readFrame reads one unmasked server frame.
func readFrame(t *testing.T, nc net.Conn, br *bufio.Reader) (opcode byte, payload []byte) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(waitFor))
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		t.Fatalf("read frame: %v", err)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		io.ReadFull(br, e[:])
		n = uint64(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		io.ReadFull(br, e[:])
		n = binary.BigEndian.Uint64(e[:])
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(br, payload); err != nil {
		t.Fatalf("read payload: %v", err)
	}
	return h[0] & 0x0f, payload
}

// readUntilClose skips data frames and returns the close code.
func readUntilClose(t *testing.T, nc net.Conn, br *bufio.Reader) uint16 {
	t.Helper()
	for i := 0; i < 100; i++ {
		op, p := readFrame(t, nc, br)
		if op == 0x8 {
			if len(p) < 2 {
				return 1005
			}
			return binary.BigEndian.Uint16(p)
		}
	}
	t.Fatal("no close frame")
	return 0
}

func TestProtocolViolationsClosed1002(t *testing.T) {
	s := startServer(t, nil)
	ping := mp(map[string]any{"op": "ping", "rid": 1})
	cases := map[string][]byte{
		"unmasked":           append([]byte{0x82, byte(len(ping))}, ping...),
		"reserved bits":      maskedFrame(0x82|0x40, ping),
		"bad opcode":         maskedFrame(0x83, ping),
		"long ping":          maskedFrame(0x89, make([]byte, 126)),
		"fragmented ping":    maskedFrame(0x09, []byte("x")),
		"continuation first": maskedFrame(0x80, ping),
	}
	for name, frame := range cases {
		t.Run(name, func(t *testing.T) {
			nc, br := rawDial(t, s, "raw-"+strings.ReplaceAll(name, " ", "-"))
			if op, _ := readFrame(t, nc, br); op != 0x2 { // the welcome
				t.Fatalf("first frame opcode %d", op)
			}
			nc.Write(frame)
			if code := readUntilClose(t, nc, br); code != 1002 {
				t.Fatalf("close code %d, want 1002", code)
			}
		})
	}
}

func maskedFrame(first byte, payload []byte) []byte {
	out := []byte{first}
	switch n := len(payload); {
	case n < 126:
		out = append(out, 0x80|byte(n))
	default:
		out = append(out, 0x80|126, byte(n>>8), byte(n))
	}
	mask := [4]byte{1, 2, 3, 4}
	out = append(out, mask[:]...)
	for i, b := range payload {
		out = append(out, b^mask[i%4])
	}
	return out
}

func TestFragmentedMessageWithPingBetween(t *testing.T) {
	s := startServer(t, nil)
	nc, br := rawDial(t, s, "frag")
	readFrame(t, nc, br) // welcome
	req := mp(map[string]any{"op": "ping", "rid": 3})
	var b []byte
	b = append(b, maskedFrame(0x02, req[:4])...)      // binary, not FIN
	b = append(b, maskedFrame(0x89, []byte("hb"))...) // ping between fragments
	b = append(b, maskedFrame(0x80, req[4:])...)      // continuation, FIN
	nc.Write(b)
	op, p := readFrame(t, nc, br)
	if op != 0xA || string(p) != "hb" {
		t.Fatalf("want pong hb, got op %d %q", op, p)
	}
	op, p = readFrame(t, nc, br)
	var m msg
	if op != 0x2 || msgpack.Unmarshal(p, &m) != nil || toUint(m["rid"]) != 3 || m["ok"] != true {
		t.Fatalf("want ping reply, got op %d %v", op, m)
	}
	// Close handshake: the server echoes our close.
	nc.Write(maskedFrame(0x88, []byte{0x03, 0xe8}))
	if code := readUntilClose(t, nc, br); code != 1000 {
		t.Fatalf("close echo code %d", code)
	}
}

func TestDuplicateLoginReplacesOldConnection(t *testing.T) {
	s := startServer(t, nil)
	old := s.dial("erin")
	newer := s.dial("erin")
	if code := old.waitClose(); code != 4009 {
		t.Fatalf("old connection closed with %d, want 4009", code)
	}
	if newer.welcome.d()["resumed"] != false {
		t.Fatalf("new connection welcome: %v", newer.welcome)
	}
	newer.ok("ping", nil)
}

func TestRateLimit(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.RateLimit.PerSecond = 1; c.RateLimit.Burst = 5 })
	c := s.dial("frank")
	var limited, passed int
	for i := 0; i < 10; i++ {
		r := c.call("ping", nil)
		switch {
		case r["ok"] == true:
			passed++
		case r.errCode() == "rate_limited":
			limited++
		default:
			t.Fatalf("reply %v", r)
		}
	}
	if passed < 5 || passed > 6 || limited < 4 {
		t.Fatalf("passed %d limited %d, want about 5 and 5", passed, limited)
	}
	// More than 10 × burst refusals within 10 s: closed with 4008.
	b := mp(map[string]any{"op": "ping"})
	for i := 0; i < 60; i++ {
		if c.ws.WriteMessage(websocket.BinaryMessage, b) != nil {
			break
		}
	}
	if code := c.waitClose(); code != 4008 {
		t.Fatalf("close code %d, want 4008", code)
	}
}

func TestTokenExpiryCloses4001(t *testing.T) {
	s := startServer(t, nil)
	c := s.dialQuery("gina", "token="+url.QueryEscape(s.token("gina", "", 1500*time.Millisecond)))
	if code := c.waitClose(); code != 4001 {
		t.Fatalf("close code %d, want 4001", code)
	}
}

func TestConnectionLimit503(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.MaxConnections = 2 })
	s.dial("h1")
	s.dial("h2")
	_, resp, err := websocket.DefaultDialer.Dial(s.wsURL("token="+s.token("h3", "", time.Hour)), nil)
	if err == nil || resp == nil || resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third connection: %v %v", resp, err)
	}
}

func TestDrain(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.DrainSpreadMs = 300; c.DrainTimeoutMs = 5000 })
	a, b := s.dial("ivy"), s.dial("jack")
	if st, _ := s.httpDo("POST", "/admin/drain", "", nil, nil); st != 401 {
		t.Fatalf("drain without operator token: %d", st)
	}
	if st, _ := s.httpDo("POST", "/admin/drain", "op-token", nil, nil); st != 202 {
		t.Fatalf("drain: %d", st)
	}
	for _, c := range []*client{a, b} {
		ev := c.nextEvent("server.draining")
		if ms := toUint(ev.d()["reconnect_after_ms"]); ms > 300 {
			t.Fatalf("reconnect_after_ms %d over the spread", ms)
		}
		if code := c.waitClose(); code != 4010 {
			t.Fatalf("close code %d, want 4010", code)
		}
	}
	_, resp, err := websocket.DefaultDialer.Dial(s.wsURL("token="+s.token("kim", "", time.Hour)), nil)
	if err == nil || resp == nil || resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("handshake while draining: %v %v", resp, err)
	}
	if st, _ := s.httpDo("GET", "/readyz", "", nil, nil); st != 503 {
		t.Fatalf("readyz while draining: %d", st)
	}
	select {
	case <-s.app.Gateway.Drained():
	case <-time.After(waitFor):
		t.Fatal("drain did not finish")
	}
}

// drain_spread_ms: 0 tells every client to reconnect at once.
func TestDrainWithoutSpread(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.DrainSpreadMs = 0 })
	c := s.dial("nospread")
	s.app.Gateway.StartDrain()
	if ms := toUint(c.nextEvent("server.draining").d()["reconnect_after_ms"]); ms != 0 {
		t.Fatalf("reconnect_after_ms %d with no spread", ms)
	}
	if code := c.waitClose(); code != 4010 {
		t.Fatalf("close code %d", code)
	}
}

func TestHTTPBasics(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.Dev = true })
	var ok map[string]any
	if st, _ := s.httpDo("GET", "/healthz", "", nil, &ok); st != 200 || ok["ok"] != true {
		t.Fatalf("healthz %d %v", st, ok)
	}
	if st, _ := s.httpDo("GET", "/readyz", "", nil, nil); st != 200 {
		t.Fatalf("readyz %d", st)
	}
	var guest struct {
		Token  string `json:"token"`
		UserID string `json:"user_id"`
	}
	if st, _ := s.httpDo("POST", "/v1/auth/guest", "", map[string]string{"name": "Zed"}, &guest); st != 200 || guest.Token == "" {
		t.Fatalf("guest %d %+v", st, guest)
	}
	c := s.dialQuery(guest.UserID, "token="+url.QueryEscape(guest.Token))
	if c.welcome.d()["name"] != "Zed" || c.welcome.d()["user_id"] != guest.UserID {
		t.Fatalf("guest welcome %v", c.welcome)
	}
	var e struct{ Error struct{ Code, Msg string } }
	if st, _ := s.httpDo("GET", "/nope", "", nil, &e); st != 404 || e.Error.Code != "not_found" {
		t.Fatalf("unknown path %d %+v", st, e)
	}
	if st, _ := s.httpDo("GET", "/metrics", "", nil, nil); st != 401 {
		t.Fatalf("metrics without token %d", st)
	}
	if st, _ := s.httpDo("GET", "/metrics", "op-token", nil, nil); st != 200 {
		t.Fatalf("metrics %d", st)
	}
	var shards []map[string]any
	if st, _ := s.httpDo("GET", "/admin/shards", "op-token", nil, &shards); st != 200 || len(shards) != 1 || shards[0]["id"] != "test-shard" {
		t.Fatalf("shards %d %v", st, shards)
	}
}

func TestGuestDisabledOutsideDevMode(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.Dev = false })
	var e struct{ Error struct{ Code string } }
	if st, _ := s.httpDo("POST", "/v1/auth/guest", "", map[string]string{"name": "x"}, &e); st != 404 || e.Error.Code != "not_found" {
		t.Fatalf("guest outside dev mode: %d %+v", st, e)
	}
}
