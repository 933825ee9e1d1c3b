package config

import (
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lobbyd/lobbyd/budget"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestNoFlagsIsADevServer(t *testing.T) {
	c, err := Load(nil, env(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Dev || c.Addr != "127.0.0.1:8080" || c.HeartbeatMs != 15000 || c.RateLimit.Burst != 100 ||
		len(c.Queues) != 2 || c.Queues[0].Name != "duel" || c.Queues[1].Name != "squad" || c.ShardID == "" {
		t.Fatalf("%+v", c)
	}
}

// The defaults are defined by the packages that use them (netcode, gateway);
// this pins them to docs/protocol.md §6 and §5, the contract operators read.
func TestDefaultsArePROTOCOLs(t *testing.T) {
	want := File{
		HeartbeatMs: 15000, ResumeGraceMs: 30000, MaxMessageBytes: 65536, MaxConnections: 20000, MaxWatchers: 10000,
		RateLimit: RateLimit{PerSecond: 50, Burst: 100}, DrainSpreadMs: 5000, DrainTimeoutMs: 30000,
		// Ours, where the original contract is silent (docs/protocol.md §1, §6).
		HandshakeLimit: HandshakeLimit{PerUser: RateLimit{PerSecond: 2, Burst: 10}, PerAddress: RateLimit{PerSecond: 50, Burst: 500}},
		LogFormat:      "text", LogLevel: "info",
		// §5a: a dead shard found dead within 10 s (dead_after_ms +
		// heartbeat_ms: 8.5 s), its queues matched again within 10 s
		// (lease_ttl_ms + lease_renew_ms: 8 s).
		Cluster: ClusterTimings{HeartbeatMs: 500, DeadAfterMs: 8000, LeaseTTLMs: 6000, LeaseRenewMs: 2000},
	}
	if got := Defaults(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Defaults() = %+v\nwant docs/protocol.md's %+v", got, want)
	}
	// §5a's bounds with a second in hand: a shard is found dead at most
	// dead_after_ms + heartbeat_ms after it died, and a queue's matcher
	// runs again lease_ttl_ms + lease_renew_ms after.
	c := want.Cluster
	if d := c.DeadAfterMs + c.HeartbeatMs; d > 9000 {
		t.Errorf("a dead shard is found dead after up to %d ms, want at most 9000 (10 s less a margin)", d)
	}
	if d := c.LeaseTTLMs + c.LeaseRenewMs; d > 9000 {
		t.Errorf("a matcher runs again after up to %d ms, want at most 9000", d)
	}
}

// memory_budget_bytes is not in docs/protocol.md: 0 (the default) is worked
// out from the machine.
func TestMemoryBudgetFromTheMachine(t *testing.T) {
	c, err := Load(nil, env(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.MemoryBudgetBytes != budget.MachineDefault() {
		t.Fatalf("memory_budget_bytes %d, want the machine's %d", c.MemoryBudgetBytes, budget.MachineDefault())
	}
}

func TestSecretTurnsDevOff(t *testing.T) {
	c, err := Load([]string{"--jwt-secret", "s"}, env(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Dev || c.Addr != ":8080" {
		t.Fatalf("dev %v addr %q", c.Dev, c.Addr)
	}
	c, err = Load([]string{"--jwt-secret", "s", "--dev"}, env(nil), nil)
	if err != nil || !c.Dev {
		t.Fatalf("--dev with a secret: %v %v", c.Dev, err)
	}
}

func TestFlagsOverrideEnvironment(t *testing.T) {
	e := env(map[string]string{"LOBBY_ADDR": "127.0.0.1:9000", "LOBBY_SHARD_ID": "envshard", "LOBBY_DEV": "true", "LOBBY_JWT_SECRET": "x"})
	c, err := Load([]string{"--addr", "127.0.0.1:9100"}, e, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9100" || c.ShardID != "envshard" || !c.Dev || c.JWTSecret != "x" {
		t.Fatalf("%+v", c)
	}
	if _, err := Load(nil, env(map[string]string{"LOBBY_DEV": "perhaps"}), nil); err == nil || !strings.Contains(err.Error(), "LOBBY_DEV") {
		t.Fatalf("bad bool: %v", err)
	}
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "lobbyd.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFile(t *testing.T) {
	p := writeFile(t, `
heartbeat_ms: 5000
rate_limit: {per_second: 10, burst: 20}
allowed_origins: ["https://a.example"]
queues:
  - name: solo
    team_size: 1
    teams: 2
    max_party: 1
    skill_window: {initial: 50, growth_per_sec: 5, max: 500}
    region: any
    timeout_ms: 30000
`)
	c, err := Load([]string{"--config", p}, env(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.HeartbeatMs != 5000 || c.ResumeGraceMs != 30000 || c.RateLimit.PerSecond != 10 || c.AllowedOrigins[0] != "https://a.example" ||
		len(c.Queues) != 1 || c.Queues[0].Name != "solo" || c.Queues[0].SkillWindow.Max != 500 {
		t.Fatalf("%+v", c)
	}
	// JSON is valid YAML.
	p = writeFile(t, `{"max_connections": 10, "drain_spread_ms": 0, "memory_budget_bytes": 67108864}`)
	if c, err = Load([]string{"--config", p}, env(nil), nil); err != nil || c.MaxConnections != 10 || c.DrainSpreadMs != 0 || c.MemoryBudgetBytes != 64<<20 {
		t.Fatalf("json: %+v %v", c, err)
	}
	// An empty file is all defaults.
	if _, err = Load([]string{"--config", writeFile(t, "")}, env(nil), nil); err != nil {
		t.Fatal(err)
	}
}

func TestFileErrorsNameTheKey(t *testing.T) {
	cases := map[string]string{
		"heartbeat_ms: 0":                                "heartbeat_ms",
		"heartbet_ms: 100":                               "heartbet_ms",
		"max_message_bytes: 10":                          "max_message_bytes",
		"rate_limit: {per_second: -1}":                   "rate_limit.per_second",
		"rate_limit: {burst: 0}":                         "rate_limit.burst",
		"rate_limit: {bust: 3}":                          "bust",
		"allowed_origins: ['']":                          "allowed_origins[0]",
		"drain_timeout_ms: 1":                            "drain_timeout_ms",
		"max_connections: many":                          "max_connections",
		"memory_budget_bytes: 1000":                      "memory_budget_bytes",
		"memory_budget_bytes: -1":                        "memory_budget_bytes",
		"queues: [{name: duel, teams: 2, team_size: 0}]": "team_size",
		"queues: [{name: a, team_size: 1, teams: 2}, {name: a, team_size: 1, teams: 2}]": "listed twice",
		"queues: [{name: a, team_size: 1, teams: 2, colour: red}]":                       "colour",
		"log_format: xml": "log_format",
		"log_level: loud": "log_level",
		"log_level: [a]":  "log_level",
		"log: {level: 1}": "log",
	}
	for body, want := range cases {
		p := writeFile(t, body)
		_, err := Load([]string{"--config", p}, env(nil), nil)
		if err == nil {
			t.Errorf("%q: no error", body)
			continue
		}
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%q: error %q does not name %q and the file", body, err, want)
		}
	}
}

func TestBadArguments(t *testing.T) {
	for _, args := range [][]string{{"--nope"}, {"extra"}, {"--jwt-secret", "a", "--jwt-public-key", "k.pem"}, {"--redis", "http://x"}, {"--config", "/does/not/exist.yaml"}} {
		if _, err := Load(args, env(nil), nil); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// --version answers even when the rest would not start: a broken config
// file must not hide which build is installed.
func TestVersionFlagSkipsTheRest(t *testing.T) {
	c, err := Load([]string{"--version", "--config", "/nonexistent/lobbyd.yaml"}, env(map[string]string{"LOBBY_DEV": "notabool"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.ShowVersion {
		t.Fatal("ShowVersion not set")
	}
}

func TestRedisURLAndPrefix(t *testing.T) {
	load := func(args ...string) (*Config, error) {
		return Load(append(args, "--jwt-secret", "s"), env(nil), nil)
	}
	for _, u := range []string{"redis://127.0.0.1:6379/0", "rediss://h:1", "redis+sentinel://h:1?master_name=m", "redis+cluster://h:1?addr=h:2", "rediss+cluster://h:1"} {
		if _, err := load("--redis", u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	for _, u := range []string{"http://h:1", "redis+foo://h:1", "h:6379"} {
		if _, err := load("--redis", u); err == nil {
			t.Errorf("%s: accepted", u)
		}
	}
	c, err := Load([]string{"--jwt-secret", "s"}, env(map[string]string{"LOBBY_REDIS_PREFIX": "game1:"}), nil)
	if err != nil || c.RedisPrefix != "game1:" {
		t.Fatalf("prefix from env: %q %v", c.RedisPrefix, err)
	}
	if _, err := load("--redis-prefix", "a{b}"); err == nil {
		t.Fatal("a prefix with braces was accepted")
	}
}

func TestHandshakeLimitBounds(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		yaml string
		ok   bool
	}{
		{"handshake_limit: {per_user: {per_second: 0}}", true},
		{"handshake_limit: {per_address: {per_second: 0, burst: 0}}", true},
		{"handshake_limit: {per_user: {per_second: 5, burst: 20}, per_address: {per_second: 1000, burst: 5000}}", true},
		{"handshake_limit: {per_user: {per_second: -1, burst: 10}}", false},
		{"handshake_limit: {per_user: {per_second: .nan, burst: 10}}", false},
		{"handshake_limit: {per_address: {per_second: 5, burst: 0}}", false},
		{"handshake_limit: {per_ip: {per_second: 5}}", false},
	} {
		f := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(f, []byte(c.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load([]string{"--config", f}, env(nil), nil)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v", c.yaml, err)
		}
	}
}

// log_format and log_level come from the file, then the environment, then
// the flags, each winning over the one before; a bad value in any is
// refused naming the setting.
func TestLogSettingsPrecedence(t *testing.T) {
	p := writeFile(t, "log_format: json\nlog_level: warn\n")
	c, err := Load([]string{"--config", p}, env(nil), nil)
	if err != nil || c.LogFormat != "json" || c.LogLevel != "warn" || c.Level() != slog.LevelWarn {
		t.Fatalf("file: %+v %v", c, err)
	}
	c, err = Load([]string{"--config", p}, env(map[string]string{"LOBBY_LOG_LEVEL": "debug"}), nil)
	if err != nil || c.LogFormat != "json" || c.LogLevel != "debug" {
		t.Fatalf("env over file: %v %v %v", c.LogFormat, c.LogLevel, err)
	}
	c, err = Load([]string{"--config", p, "--log-level", "error", "--log-format", "text"},
		env(map[string]string{"LOBBY_LOG_LEVEL": "debug", "LOBBY_LOG_FORMAT": "json"}), nil)
	if err != nil || c.LogFormat != "text" || c.LogLevel != "error" {
		t.Fatalf("flags over env: %v %v %v", c.LogFormat, c.LogLevel, err)
	}
	c, err = Load(nil, env(nil), nil)
	if err != nil || c.LogFormat != "text" || c.LogLevel != "info" {
		t.Fatalf("defaults: %v %v %v", c.LogFormat, c.LogLevel, err)
	}
	if _, err := Load([]string{"--log-format", "xml"}, env(nil), nil); err == nil || !strings.Contains(err.Error(), "log_format") {
		t.Fatalf("bad flag: %v", err)
	}
	if _, err := Load(nil, env(map[string]string{"LOBBY_LOG_LEVEL": "verbose"}), nil); err == nil || !strings.Contains(err.Error(), "log_level") {
		t.Fatalf("bad variable: %v", err)
	}
}

// The effective settings mask the secrets and a Redis password, and show
// the merged values.
func TestEffectiveMasksSecrets(t *testing.T) {
	p := writeFile(t, "rate_limit: {per_second: 7, burst: 9}\n")
	c, err := Load([]string{"--config", p, "--jwt-secret", "s3cret-jwt", "--redis", "redis://:redispw@127.0.0.1:6379/0"},
		env(map[string]string{"LOBBY_OPERATOR_TOKEN": "op-s3cret"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Effective()
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, secret := range []string{"s3cret-jwt", "op-s3cret", "redispw"} {
		if strings.Contains(text, secret) {
			t.Errorf("effective settings show %q:\n%s", secret, text)
		}
	}
	for _, want := range []string{"jwt_secret: '" + Masked + "'", "operator_token: '" + Masked + "'", "per_second: 7", "burst: 9", "log_level: info", "name: duel"} {
		if !strings.Contains(text, want) {
			t.Errorf("effective settings lack %q:\n%s", want, text)
		}
	}
}

// The cluster timings are checked against each other: a shard is called
// dead only after several missed heartbeats, and a lease is renewed several
// times per TTL and expires before its shard is called dead.
func TestClusterTimingsChecked(t *testing.T) {
	for _, tc := range []struct{ yaml, key string }{
		{"cluster: {heartbeat_ms: 50}", "cluster.heartbeat_ms"},
		{"cluster: {heartbeat_ms: 1000, dead_after_ms: 2999}", "cluster.dead_after_ms"},
		{"cluster: {lease_renew_ms: 2000, lease_ttl_ms: 5999}", "cluster.lease_ttl_ms"},
		{"cluster: {dead_after_ms: 6000, lease_ttl_ms: 6001}", "cluster.lease_ttl_ms"},
	} {
		path := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load([]string{"--config", path}, env(nil), nil)
		if err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s: %v, want an error naming %s", tc.yaml, err, tc.key)
		}
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("cluster: {heartbeat_ms: 200, dead_after_ms: 1000, lease_ttl_ms: 900, lease_renew_ms: 300}"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load([]string{"--config", path}, env(nil), nil)
	if err != nil || c.Cluster.DeadAfter() != time.Second || c.Cluster.LeaseRenew() != 300*time.Millisecond {
		t.Fatalf("%+v, %v", c, err)
	}
}
