package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lobbyd/lobbyd/app"
	"github.com/lobbyd/lobbyd/config"
	"github.com/lobbyd/lobbyd/internal/redistest"
	"github.com/lobbyd/lobbyd/internal/wstest"
)

// lobbyctl's tests run it (run, as main does) against live in-process
// shards on 127.0.0.1, built by package app exactly as lobbyd builds them.

const opToken = "lobbyctl-test-operator"

func startShard(t *testing.T, mutate func(*config.Config)) *app.App {
	t.Helper()
	cfg, err := config.Load(nil, func(string) string { return "" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = "127.0.0.1:0"
	cfg.JWTSecret = "lobbyctl-test-secret"
	cfg.OperatorToken = opToken
	cfg.ShardID = "solo"
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

// ctl runs lobbyctl with env as its environment.
func ctl(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	var out, errb bytes.Buffer
	status = run(args, func(k string) string { return env[k] }, &out, &errb)
	return out.String(), errb.String(), status
}

// ok runs lobbyctl against a with the operator token in the environment
// and requires exit status 0.
func ok(t *testing.T, a *app.App, args ...string) string {
	t.Helper()
	out, errs, st := ctl(t, map[string]string{"LOBBYCTL_ADDR": a.Addr(), "LOBBY_OPERATOR_TOKEN": opToken}, args...)
	if st != 0 {
		t.Fatalf("lobbyctl %v: status %d, stderr %s", args, st, errs)
	}
	return out
}

func dial(t *testing.T, a *app.App, user string) *wstest.Player {
	t.Helper()
	tok, err := a.Auth.Issue(user, "Name "+user, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return wstest.Dial(t, a.Addr(), tok)
}

func lobbyField(d map[string]any, k string) string {
	l, _ := d["lobby"].(map[string]any)
	s, _ := l[k].(string)
	return s
}

func wantLines(t *testing.T, what, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s: no %q in:\n%s", what, w, out)
		}
	}
}

// eventually polls cond for up to 15 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 15 s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func readyz(addr string) int {
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Every command against one in-memory shard, tables and JSON.
func TestLobbyctlAgainstAShard(t *testing.T) {
	a := startShard(t, nil)
	host, guest := dial(t, a, "u1"), dial(t, a, "u2")
	d := host.Call("lobby.create", map[string]any{"name": "Night raid", "max_players": 4, "visibility": "private", "mode": "ctf", "region": "eu"})
	id, code := lobbyField(d, "id"), lobbyField(d, "code")
	guest.Call("lobby.join", map[string]any{"code": code})
	other := lobbyField(dial(t, a, "u3").Call("lobby.create", map[string]any{"name": "Open room", "max_players": 2, "visibility": "public"}), "id")
	tok, _ := a.Auth.Issue("q1", "", time.Hour)
	req, _ := http.NewRequest("POST", "http://"+a.Addr()+"/v1/queues/duel/tickets", strings.NewReader(`{"skill": 1000}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("enqueue: %v %v", resp, err)
	}

	out := ok(t, a, "shards")
	wantLines(t, "shards", out, "SHARD", "solo", a.Addr(), "serving", "duel,squad")
	var shards []shardInfo
	if err := json.Unmarshal([]byte(ok(t, a, "shards", "-o", "json")), &shards); err != nil || len(shards) != 1 || shards[0].ID != "solo" || shards[0].Connections != 3 {
		t.Fatalf("shards -o json: %+v %v", shards, err)
	}

	out = ok(t, a, "lobbies")
	wantLines(t, "lobbies", out, "LOBBY", id, "Night raid", "private", "ctf", "eu", "2/4", "u1", "solo", other, "Open room", "1/2")
	if strings.Index(out, other) > strings.Index(out, id) {
		t.Errorf("lobbies not newest first:\n%s", out)
	}
	wantLines(t, "lobbies --visibility public --mode ctf", ok(t, a, "lobbies", "--visibility", "public", "--mode", "ctf"), "(no lobby matches)")
	var page adminPage
	if err := json.Unmarshal([]byte(ok(t, a, "lobbies", "--user", "u2", "-o", "json")), &page); err != nil || len(page.Lobbies) != 1 || page.Lobbies[0].ID != id || page.NextCursor != nil {
		t.Fatalf("lobbies --user u2 -o json: %+v %v", page, err)
	}
	wantLines(t, "lobbies --limit 1", ok(t, a, "lobbies", "--limit", "1"), other, "(more: --cursor ")
	page = adminPage{}
	if err := json.Unmarshal([]byte(ok(t, a, "-o", "json", "lobbies", "--limit", "1", "--all")), &page); err != nil || len(page.Lobbies) != 2 || page.NextCursor != nil {
		t.Fatalf("lobbies --limit 1 --all: %+v %v", page, err)
	}

	out = ok(t, a, "lobby", id)
	wantLines(t, "lobby", out, "Code:", code, "private", "ctf / eu", "2/4", "MEMBER", "u1", "Name u1", "host", "u2", "member", "solo")
	var l adminLobby
	if err := json.Unmarshal([]byte(ok(t, a, "lobby", id, "-o", "json")), &l); err != nil || l.Code != code || len(l.Members) != 2 || l.Members[1].Shard != "solo" || !l.Members[1].Connected {
		t.Fatalf("lobby -o json: %+v %v", l, err)
	}

	out = ok(t, a, "queues")
	wantLines(t, "queues", out, "QUEUE", "MATCHER", "duel", "squad")
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "duel" && (f[1] != "1" || f[len(f)-1] != "solo") {
			t.Errorf("queues: duel line %q", line)
		}
	}

	wantLines(t, "close", ok(t, a, "close", id), "closed lobby "+id)
	_, errs, st := ctl(t, map[string]string{"LOBBYCTL_ADDR": a.Addr(), "LOBBY_OPERATOR_TOKEN": opToken}, "lobby", id)
	if st != 1 || !strings.Contains(errs, "no lobby "+id+" (404 not_found)") {
		t.Fatalf("lobby after close: status %d, %s", st, errs)
	}
	_, errs, st = ctl(t, map[string]string{"LOBBYCTL_ADDR": a.Addr(), "LOBBY_OPERATOR_TOKEN": opToken}, "close", id)
	if st != 1 || !strings.Contains(errs, "404") {
		t.Fatalf("close twice: status %d, %s", st, errs)
	}

	wantLines(t, "drain", ok(t, a, "drain", "solo"), "shard solo was told to drain")
	eventually(t, "the shard not ready", func() bool { return readyz(a.Addr()) == 503 })
	wantLines(t, "shards after drain", ok(t, a, "shards"), "draining")
}

// The errors an operator meets: unreachable, a wrong token, bad usage, an
// unknown shard; and the token from a file.
func TestLobbyctlErrors(t *testing.T) {
	a := startShard(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	cases := []struct {
		name   string
		env    map[string]string
		args   []string
		status int
		stderr string
	}{
		{"unreachable", map[string]string{"LOBBY_OPERATOR_TOKEN": opToken}, []string{"--addr", dead, "shards"}, 1, "cannot reach " + dead},
		{"no token", nil, []string{"--addr", a.Addr(), "shards"}, 1, "refused the operator token (401"},
		{"wrong token", nil, []string{"--addr", a.Addr(), "--token", "nope", "queues"}, 1, "refused the operator token (401"},
		{"unknown shard", map[string]string{"LOBBY_OPERATOR_TOKEN": opToken}, []string{"--addr", a.Addr(), "drain", "zz"}, 1, "no live shard zz (404 not_found)"},
		{"bad filter", map[string]string{"LOBBY_OPERATOR_TOKEN": opToken}, []string{"--addr", a.Addr(), "lobbies", "--state", "closed"}, 1, "400 Bad Request (bad_request)"},
		{"no command", nil, nil, 2, "no command"},
		{"unknown command", nil, []string{"lobbbies"}, 2, `unknown command "lobbbies"`},
		{"missing argument", nil, []string{"lobby"}, 2, "usage: lobbyctl lobby ID"},
		{"extra argument", nil, []string{"drain", "a", "b"}, 2, "usage: lobbyctl drain [SHARD]"},
		{"bad output", nil, []string{"-o", "yaml", "shards"}, 2, `-o "yaml"`},
		{"bad addr", nil, []string{"--addr", "ftp://x", "shards"}, 2, "--addr"},
		{"unknown flag", nil, []string{"shards", "--colour"}, 2, "flag provided but not defined"},
	}
	for _, c := range cases {
		_, errs, st := ctl(t, c.env, c.args...)
		if st != c.status || !strings.Contains(errs, c.stderr) {
			t.Errorf("%s: status %d (want %d), stderr %q (want %q)", c.name, st, c.status, errs, c.stderr)
		}
	}
	// -h never shows the token taken from the environment.
	_, errs, _ := ctl(t, map[string]string{"LOBBY_OPERATOR_TOKEN": opToken}, "-h")
	if strings.Contains(errs, opToken) || !strings.Contains(errs, "Usage:") {
		t.Errorf("-h: %s", errs)
	}
	f := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(f, []byte(opToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errs, st := ctl(t, nil, "shards", "--addr", "http://"+a.Addr()+"/", "--token-file", f); st != 0 || !strings.Contains(out, "solo") {
		t.Fatalf("--token-file: %d %s %s", st, out, errs)
	}
}

// In a cluster, one shard's address explains every shard, and drains
// another.
func TestLobbyctlDrainsAnotherShard(t *testing.T) {
	addr, prefix := redistest.SharedPrefix(t)
	var sh []*app.App
	for _, id := range []string{"a", "b"} {
		sh = append(sh, startShard(t, func(c *config.Config) {
			c.RedisURL = "redis://" + addr + "/0"
			c.RedisPrefix = prefix
			c.ShardID = id
		}))
	}
	a, b := sh[0], sh[1]
	host := dial(t, b, "cu1")
	id := lobbyField(host.Call("lobby.create", map[string]any{"name": "on b", "max_players": 2, "visibility": "private"}), "id")
	wantLines(t, "lobbies --shard b on a", ok(t, a, "lobbies", "--shard", "b"), id, "on b")
	wantLines(t, "lobby on a", ok(t, a, "lobby", id), "cu1", " b ")
	out := ok(t, a, "shards")
	wantLines(t, "shards on a", out, "a ", "b ", a.Addr(), b.Addr())

	wantLines(t, "drain b from a", ok(t, a, "drain", "b"), "shard b was told to drain")
	eventually(t, "b not ready", func() bool { return readyz(b.Addr()) == 503 })
	eventually(t, "a lists b draining", func() bool {
		for _, line := range strings.Split(ok(t, a, "shards"), "\n") {
			if f := strings.Fields(line); len(f) > 4 && f[0] == "b" {
				return f[4] == "draining"
			}
		}
		return false
	})
	if readyz(a.Addr()) != 200 {
		t.Fatal("a drains too")
	}
}
