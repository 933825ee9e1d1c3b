package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "lobbyd.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func noEnv(string) string { return "" }

// A good file: check-config prints the effective settings, the file, the
// environment and the flags merged (each winning over the one before),
// with the secrets masked.
func TestCheckConfigPrintsTheEffectiveSettings(t *testing.T) {
	p := writeConfig(t, `
rate_limit: {per_second: 5, burst: 8}
allowed_origins: [https://game.example]
log_level: warn
queues:
  - {name: duel, team_size: 1, teams: 2, skill_window: {initial: 50, growth_per_sec: 5, max: 500}}
`)
	env := map[string]string{"LOBBY_OPERATOR_TOKEN": "op-token-from-env-41b", "LOBBY_LOG_LEVEL": "error", "LOBBY_ADDR": "127.0.0.1:9001"}
	var out, errOut bytes.Buffer
	err := checkConfig([]string{"--jwt-secret", "jwt-secret-from-flag-77c", "--addr", "127.0.0.1:9002", p},
		func(k string) string { return env[k] }, &out, &errOut)
	if err != nil {
		t.Fatalf("check-config: %v\n%s", err, errOut.String())
	}
	text := out.String()
	for _, want := range []string{
		p + " is valid",
		"addr: 127.0.0.1:9002",   // the flag over the variable
		"log_level: error",       // the variable over the file
		"per_second: 5",          // the file over the default
		"- https://game.example", // the file
		"initial: 50",
		"heartbeat_ms: 15000", // a default
		"dev: false",          // derived: a secret turns dev mode off
		"jwt_secret: '********'",
		"operator_token: '********'",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	for _, secret := range []string{"op-token-from-env-41b", "jwt-secret-from-flag-77c"} {
		if strings.Contains(text+errOut.String(), secret) {
			t.Errorf("output shows the secret %q", secret)
		}
	}
}

// A bad file: check-config fails (lobbyd exits 1) with the file, the key and
// the reason, and prints no settings.
func TestCheckConfigRefusesBadFiles(t *testing.T) {
	cases := []struct {
		body    string
		key     string
		reason  string
		envVars map[string]string
	}{
		{body: "heartbeat_ms: 5", key: "heartbeat_ms", reason: "between 100 and 600000"},
		{body: "rate_limit: {per_second: 10, brust: 3}", key: "brust", reason: "not found"},
		{body: "max_connections: lots", key: "max_connections", reason: "cannot unmarshal"},
		{body: "log_format: xml", key: "log_format", reason: "text or json"},
		{body: "queues: [{name: duel, team_size: 1, teams: 2, region: nearby}]", key: "region", reason: "strict"},
		{body: "drain_timeout_ms: 10", key: "drain_timeout_ms", reason: "between"},
		{body: "allowed_origins: ['']", key: "allowed_origins[0]", reason: "empty"},
		{body: "rate_limit: [", key: "", reason: "yaml"},
		{body: "log_level: info", key: "log_level", reason: "debug, info, warn or error", envVars: map[string]string{"LOBBY_LOG_LEVEL": "chatty"}},
	}
	for _, c := range cases {
		p := writeConfig(t, c.body)
		var out, errOut bytes.Buffer
		err := checkConfig([]string{p}, func(k string) string { return c.envVars[k] }, &out, &errOut)
		if err == nil {
			t.Errorf("%q: accepted:\n%s", c.body, out.String())
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, p) || !strings.Contains(msg, c.key) || !strings.Contains(msg, c.reason) {
			t.Errorf("%q: error %q does not name the file, %q and %q", c.body, msg, c.key, c.reason)
		}
		if out.Len() != 0 {
			t.Errorf("%q: printed settings for a bad file", c.body)
		}
	}
	// A file that is not there, a public key that does not parse, no file.
	var out bytes.Buffer
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	if err := checkConfig([]string{missing}, noEnv, &out, &out); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: %v", err)
	}
	key := writeConfig(t, "not a PEM key")
	if err := checkConfig([]string{"--jwt-public-key", key, writeConfig(t, "")}, noEnv, &out, &out); err == nil || !strings.Contains(err.Error(), "jwt-public-key") {
		t.Errorf("bad public key: %v", err)
	}
	if err := checkConfig(nil, noEnv, &out, &out); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Errorf("no file: %v", err)
	}
}
