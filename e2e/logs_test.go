package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/lobbyd/lobbyd/app"
	"github.com/lobbyd/lobbyd/config"
)

// lockedBuffer is a log sink several goroutines write to.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startLoggedServer is startServer with the operator log, JSON at debug
// level (the most lobbyd ever writes), captured in logs.
func startLoggedServer(t *testing.T, mutate func(*config.Config), logs *lockedBuffer) *server {
	t.Helper()
	cfg, err := config.Load([]string{"--log-format", "json", "--log-level", "debug"}, func(string) string { return "" }, nil)
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
	log, _ := app.NewLogger(logs, cfg)
	a, err := app.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	go a.Serve()
	t.Cleanup(func() { a.Shutdown() })
	return &server{t: t, app: a, addr: a.Addr(), auth: a.Auth}
}

// A busy shard's log — logins, lobbies with passwords (a wrong one tried),
// resumes, bad and expired tokens, a flood of them, a client closed for
// flooding — holds none of the secrets it used: no password, no resume
// token, no player token (nor any JWT at all), not the JWT secret nor the
// operator token. Every line about a session names its session id and
// user id. The flood of refused handshakes is held to the limiter's rate,
// and what it held back adds up: lines written plus lines dropped is every
// refusal.
func TestLogsHoldNoSecretsAndLimitFloods(t *testing.T) {
	var logs lockedBuffer
	s := startLoggedServer(t, metricsConfig, &logs)
	secrets := busyShard(t, s)

	start := time.Now()
	const flood = 300
	bad := s.token("m-zed", "", -time.Minute)
	for range flood {
		if _, resp, err := websocket.DefaultDialer.Dial(s.wsURL("token="+url.QueryEscape(bad)), nil); err == nil || resp == nil || resp.StatusCode != 401 {
			t.Fatalf("expired token: %v", err)
		}
	}
	elapsed := time.Since(start)
	got, _ := parseScrape(t, s.scrape(t)) // after the flood: every line of it is written by now
	text := logs.String()

	for _, secret := range append(secrets, bad) {
		if strings.Contains(text, secret) {
			t.Errorf("the log holds the secret %q", secret)
		}
	}
	if strings.Contains(text, "eyJ") { // the start of every JWT's header
		t.Error("the log holds a JWT")
	}

	refusedLines, sessionLines := 0, 0
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("not a JSON line: %q", sc.Text())
		}
		if _, ok := line["session_id"]; ok {
			sessionLines++
			if uid, _ := line["user_id"].(string); uid == "" {
				t.Errorf("a line about a session without its user id: %s", sc.Text())
			}
		}
		if strings.HasPrefix(line["msg"].(string), "session ") {
			if sid, _ := line["session_id"].(string); sid == "" {
				t.Errorf("a session line without its session id: %s", sc.Text())
			}
		}
		if line["msg"] == "connection refused" {
			refusedLines++
		}
	}
	if sessionLines < 8 {
		t.Errorf("%d lines about sessions at debug level; want one per session opened at least", sessionLines)
	}
	var refusals float64
	for k, v := range got {
		if strings.HasPrefix(k, "lobbyd_handshakes_refused_total{") {
			refusals += v
		}
	}
	dropped := got[`lobbyd_log_lines_dropped_total{kind="handshake_refused"}`]
	if float64(refusedLines)+dropped != refusals {
		t.Errorf("%d refusal lines + %v dropped != %v refusals", refusedLines, dropped, refusals)
	}
	// At most 10 lines a second of the kind, however fast the flood came.
	if limit := 10 * (int(elapsed/time.Second) + 3); refusedLines > limit+41 { // busyShard's own 41 may add a window's worth
		t.Errorf("%d refusal lines in %v", refusedLines, elapsed)
	}
	if !strings.Contains(text, `"dropped_since_last_line"`) && dropped > 0 && refusedLines > 10 {
		t.Error("no line reports the lines dropped before it")
	}
}
