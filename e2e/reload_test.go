package e2e

import (
	"errors"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/lobbyd/lobbyd/gateway"
)

// waitLog waits (≤ 20 s) for a line of p's log containing every part.
func (p *lobbydProc) waitLog(t *testing.T, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, line := range strings.Split(p.stderr.String(), "\n") {
			all := true
			for _, part := range parts {
				all = all && strings.Contains(line, part)
			}
			if all {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q; log:\n%s", parts, p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pings sends n pings on c and counts the ones answered and the ones
// refused rate_limited.
func pings(t *testing.T, c *client, n int) (ok, limited int) {
	t.Helper()
	for range n {
		r := c.call("ping", nil)
		switch {
		case r["ok"] == true:
			ok++
		case r.errCode() == "rate_limited":
			limited++
		default:
			t.Fatalf("ping: %v", r)
		}
	}
	return ok, limited
}

// SIGHUP on a real lobbyd puts a new rate limit in force for the
// connections already open and for new ones, applies a new origin list,
// logs what it changed and what needs a restart (and does not apply that),
// and a file that no longer loads changes nothing and says why.
func TestBinarySIGHUPReloadsLiveSettings(t *testing.T) {
	cfgPath := filepath.Join(t.TempDir(), "lobbyd.yaml")
	write := func(body string) {
		if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("rate_limit: {per_second: 1000, burst: 1000}\nheartbeat_ms: 15000\n")
	p := startLobbyd(t, []string{"LOBBY_DEV=", "LOBBY_REDIS_URL=", "LOBBY_JWT_SECRET=", "LOBBY_OPERATOR_TOKEN=", "LOBBY_LOG_LEVEL=", "LOBBY_LOG_FORMAT="},
		"--addr", "127.0.0.1:0", "--config", cfgPath, "--jwt-secret", testSecret, "--operator-token", "op-token")
	s := &server{t: t, addr: p.addr, auth: gateway.NewHMACAuth([]byte(testSecret))}

	old := s.dial("hup-old")
	if ok, limited := pings(t, old, 20); ok != 20 || limited != 0 {
		t.Fatalf("before the reload: %d ok, %d limited", ok, limited)
	}

	// A limit a few pings reach (it refills once in 100 s: no test is that
	// slow), an origin list, and a heartbeat, which needs a restart.
	write("rate_limit: {per_second: 0.01, burst: 3}\nheartbeat_ms: 20000\nallowed_origins: [https://game.example]\n")
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, "SIGHUP: configuration reloaded", "rate_limit.per_second: 1000 → 0.01", "rate_limit.burst: 1000 → 3", "allowed_origins: [] → [https://game.example]")
	p.waitLog(t, "level=WARN", "need a restart", "heartbeat_ms: 15000 → 20000")

	// The connection opened before the reload: its bucket (1000 tokens
	// left) holds no more than the new burst from its next message.
	if ok, limited := pings(t, old, 8); ok != 3 || limited != 5 {
		t.Fatalf("existing connection after the reload: %d ok, %d limited; want 3 and 5", ok, limited)
	}
	// A connection opened after it.
	fresh := s.dial("hup-new")
	if ok, limited := pings(t, fresh, 8); ok != 3 || limited != 5 {
		t.Fatalf("new connection after the reload: %d ok, %d limited; want 3 and 5", ok, limited)
	}
	// The new origin list: a foreign origin is refused now.
	_, resp, err := websocket.DefaultDialer.Dial(s.wsURL("token="+url.QueryEscape(s.token("hup-o", "", time.Hour))),
		http.Header{"Origin": {"https://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("foreign origin after the reload: %v", err)
	}
	// The heartbeat was not applied: the welcome still says 15000.
	if hb := toUint(fresh.welcome.d()["heartbeat_ms"]); hb != 15000 {
		t.Fatalf("heartbeat_ms %d after a reload that needs a restart", hb)
	}

	// A file that does not load: nothing changes, the log says where.
	write("rate_limit: {per_second: -1, burst: 3}\n")
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitLog(t, "level=ERROR", "not reloaded", cfgPath, "rate_limit.per_second")
	got, _ := parseScrape(t, s.scrape(t))
	if got[`lobbyd_config_reloads_total{result="applied"}`] != 1 || got[`lobbyd_config_reloads_total{result="refused"}`] != 1 {
		t.Fatalf("reloads: applied %v, refused %v", got[`lobbyd_config_reloads_total{result="applied"}`], got[`lobbyd_config_reloads_total{result="refused"}`])
	}
	if ok, _ := pings(t, s.dial("hup-third"), 4); ok != 3 {
		t.Fatalf("after a refused reload the limit changed: %d of 4 pings passed", ok)
	}
}

// `lobbyd check-config` as operators run it: 0 and the settings for a good
// file, 1 and the file, key and reason for a bad one.
func TestBinaryCheckConfig(t *testing.T) {
	bin, err := lobbydBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.yaml"), filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("rate_limit: {per_second: 9, burst: 12}\n"), 0o600)
	os.WriteFile(bad, []byte("rate_limit: {per_second: 9, burst: 0}\n"), 0o600)

	cmd := exec.Command(bin, "check-config", "--operator-token", "op-secret-91", good)
	cmd.Env = append(os.Environ(), "LOBBY_JWT_SECRET=jwt-secret-3e")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("good file: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "burst: 12") || strings.Contains(string(out), "op-secret-91") || strings.Contains(string(out), "jwt-secret-3e") {
		t.Fatalf("good file output:\n%s", out)
	}
	out, err = exec.Command(bin, "check-config", bad).CombinedOutput()
	var exit *exec.ExitError
	if err == nil || !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("bad file: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), bad) || !strings.Contains(string(out), "rate_limit.burst") || !strings.Contains(string(out), "between 1 and") {
		t.Fatalf("bad file output does not name the file, key and reason:\n%s", out)
	}
}
