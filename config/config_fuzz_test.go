package config

import (
	"strings"
	"testing"
)

// FuzzDecodeFile feeds any bytes to the configuration file loader (strict
// YAML into File, defaults, validation). It must never panic; a refusal
// names a reason; an accepted file gives settings inside their bounds and
// queues the matchmaker accepts.
func FuzzDecodeFile(f *testing.F) {
	for _, s := range []string{
		"", "{}", "heartbeat_ms: 15000\n", "rate_limit: {per_second: 50, burst: 100}\n",
		"handshake_limit: {per_user: {per_second: 2, burst: 10}, per_address: {per_second: 0}}\n",
		"allowed_origins: [\"https://game.example\", \"*\"]\n",
		"queues:\n  - name: duel\n    team_size: 1\n    teams: 2\n    skill_window: {initial: 100, growth_per_sec: 20, max: 1000}\n    region: strict\n",
		"queues:\n  - name: squad\n    team_size: 2\n    teams: 2\n    max_party: 2\n    region: any\n    region_relax_after_ms: 5000\n",
		"{\"max_connections\": 10, \"resume_grace_ms\": 0}", "heartbeat_ms: 1e400\n", "max_message_bytes: -1\n",
		"unknown_key: 1\n", "rate_limit: [1, 2]\n", "a: &a [*a]\n", "queues: [{name: \"\"}]\n", "drain_spread_ms: 0x10\n",
		"heartbeat_ms: !!binary AAAA\n", "- - - -\n", "%YAML 1.2\n---\nheartbeat_ms: 100\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 { // a configuration file, not a stress test of the YAML library
			return
		}
		c := &Config{File: Defaults(), JWTSecret: "s"}
		err := decodeFile(data, &c.File)
		if err == nil {
			c.fillDerived()
			err = c.validate()
		}
		if err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatalf("%q: refused without a reason", data)
			}
			return
		}
		if c.HeartbeatMs < 100 || c.MaxConnections < 1 || c.MaxMessageBytes < 1024 || c.RateLimit.Burst < 1 ||
			!(c.RateLimit.PerSecond > 0) || len(c.Queues) == 0 {
			t.Fatalf("%q: accepted out of bounds: %+v", data, c.File)
		}
	})
}
