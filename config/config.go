package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/lobbyd/lobbyd/budget"
	"github.com/lobbyd/lobbyd/cluster"
	"github.com/lobbyd/lobbyd/gateway"
	"github.com/lobbyd/lobbyd/matchmaking"
	"github.com/lobbyd/lobbyd/netcode"
	"github.com/lobbyd/lobbyd/watch"
)

// RateLimit is the message token bucket (docs/protocol.md §5): one per
// user, which the user's connection draws from, kept across reconnects.
type RateLimit struct {
	PerSecond float64 `yaml:"per_second"` // tokens added per second
	Burst     int     `yaml:"burst"`      // bucket size
}

// HandshakeLimit is the token buckets on /ws handshakes, per user id and
// per source address; per_second 0 turns one off.
type HandshakeLimit struct {
	PerUser    RateLimit `yaml:"per_user"`
	PerAddress RateLimit `yaml:"per_address"`
}

// File holds the settings of the YAML configuration file. Every key is
// optional; an absent key keeps its default (see Defaults).
type File struct {
	HeartbeatMs     int64          `yaml:"heartbeat_ms"`
	ResumeGraceMs   int64          `yaml:"resume_grace_ms"`
	MaxMessageBytes int            `yaml:"max_message_bytes"`
	MaxConnections  int            `yaml:"max_connections"`
	MaxWatchers     int            `yaml:"max_watchers"` // live lobby list streams
	RateLimit       RateLimit      `yaml:"rate_limit"`
	HandshakeLimit  HandshakeLimit `yaml:"handshake_limit"`
	AllowedOrigins  []string       `yaml:"allowed_origins"` // empty: any Origin
	DrainSpreadMs   int64          `yaml:"drain_spread_ms"`
	DrainTimeoutMs  int64          `yaml:"drain_timeout_ms"`
	// MemoryBudgetBytes bounds what the shard holds for write queues and
	// replay rings together; over it, load is shed (gateway/shed.go).
	// 0 (the default): a quarter of the cgroup memory limit or of physical
	// RAM, worked out by Load (budget.MachineDefault).
	MemoryBudgetBytes int64                     `yaml:"memory_budget_bytes"`
	Cluster           ClusterTimings            `yaml:"cluster"`
	Queues            []matchmaking.QueueConfig `yaml:"queues"` // none: matchmaking.DefaultQueues
	// LogFormat is the log's format: text (slog's key=value) or json (one
	// object a line). --log-format and LOBBY_LOG_FORMAT win over it.
	LogFormat string `yaml:"log_format"`
	// LogLevel is the least level logged: debug, info, warn or error.
	// --log-level and LOBBY_LOG_LEVEL win over it; a reload changes it live.
	LogLevel string `yaml:"log_level"`
}

// Log formats and levels (log_format, log_level).
var (
	LogFormats = []string{"text", "json"}
	LogLevels  = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}
)

// Level is the slog level of LogLevel (validated by Load).
func (f *File) Level() slog.Level { return LogLevels[f.LogLevel] }

// ClusterTimings set how fast the shards of a cluster notice a dead one
// and take its chores and matcher leases over (docs/failures.md). Only a
// shard with a Redis reads them.
type ClusterTimings struct {
	HeartbeatMs  int64 `yaml:"heartbeat_ms"`   // registry heartbeat
	DeadAfterMs  int64 `yaml:"dead_after_ms"`  // no heartbeat this long: dead
	LeaseTTLMs   int64 `yaml:"lease_ttl_ms"`   // a queue's matcher lease
	LeaseRenewMs int64 `yaml:"lease_renew_ms"` // its renewal, and the others' tries
}

// Durations of the cluster timings.
func (t ClusterTimings) Heartbeat() time.Duration  { return ms(t.HeartbeatMs) }
func (t ClusterTimings) DeadAfter() time.Duration  { return ms(t.DeadAfterMs) }
func (t ClusterTimings) LeaseTTL() time.Duration   { return ms(t.LeaseTTLMs) }
func (t ClusterTimings) LeaseRenew() time.Duration { return ms(t.LeaseRenewMs) }

// Config is everything lobbyd needs to start.
type Config struct {
	File

	Addr             string // listen address; ":8080", "127.0.0.1:8080" in dev mode
	RedisURL         string // empty: in-memory single shard
	RedisPrefix      string // key prefix of this cluster in Redis; default "lobbyd:"
	ShardID          string // default host name + port
	JWTSecret        string // HS256 secret
	JWTPublicKeyFile string // RS256 or EdDSA public key (PEM)
	Dev              bool   // guest tokens; a random secret if none is set
	OperatorToken    string // bearer token for /metrics and /admin/*
	ConfigPath       string // the YAML file, if any
	ShowVersion      bool   // --version: print the build's version and exit

	// --log-format and --log-level (or their variables), which win over
	// the file's log_format and log_level; empty when not given.
	logFormatFlag, logLevelFlag string
}

// Defaults returns the built-in settings (docs/protocol.md §6). Each is defined
// by the package whose behaviour it sets; this only gathers them.
func Defaults() File {
	return File{
		HeartbeatMs:     netcode.DefaultHeartbeatInterval.Milliseconds(),
		ResumeGraceMs:   gateway.DefaultResumeGrace.Milliseconds(),
		MaxMessageBytes: netcode.DefaultMaxMessageBytes,
		MaxConnections:  gateway.DefaultMaxConnections,
		MaxWatchers:     watch.DefaultMaxWatchers,
		RateLimit:       RateLimit{PerSecond: gateway.DefaultRatePerSecond, Burst: gateway.DefaultRateBurst},
		HandshakeLimit: HandshakeLimit{
			PerUser:    RateLimit(gateway.DefaultHandshakesPerUser),
			PerAddress: RateLimit(gateway.DefaultHandshakesPerAddress),
		},
		DrainSpreadMs:  gateway.DefaultDrainSpread.Milliseconds(),
		DrainTimeoutMs: gateway.DefaultDrainTimeout.Milliseconds(),
		LogFormat:      "text",
		LogLevel:       "info",
		Cluster: ClusterTimings{
			HeartbeatMs:  cluster.DefaultRegistryInterval.Milliseconds(),
			DeadAfterMs:  cluster.DefaultRegistryTTL.Milliseconds(),
			LeaseTTLMs:   cluster.DefaultLeaseTTL.Milliseconds(),
			LeaseRenewMs: cluster.DefaultLeaseRenew.Milliseconds(),
		},
	}
}

// Heartbeat, ResumeGrace, DrainSpread and DrainTimeout return the durations.
func (f *File) Heartbeat() time.Duration    { return ms(f.HeartbeatMs) }
func (f *File) ResumeGrace() time.Duration  { return ms(f.ResumeGraceMs) }
func (f *File) DrainSpread() time.Duration  { return ms(f.DrainSpreadMs) }
func (f *File) DrainTimeout() time.Duration { return ms(f.DrainTimeoutMs) }

func ms(v int64) time.Duration { return time.Duration(v) * time.Millisecond }

// flagSpec ties a flag to its environment variable.
type flagSpec struct {
	name, env, usage string
	str              *string
	boolean          *bool
}

// Load parses args (without the program name) and the environment, reads the
// configuration file if one is named, fills defaults and validates.
// Usage text goes to usage (nil: io.Discard).
func Load(args []string, getenv func(string) string, usage io.Writer) (*Config, error) {
	c := &Config{File: Defaults()}
	if err := c.parseFlags(args, getenv, usage); err != nil {
		return nil, err
	}
	if c.ShowVersion { // nothing else is read or checked: the answer must not depend on them
		return c, nil
	}
	if c.ConfigPath != "" {
		data, err := os.ReadFile(c.ConfigPath)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if err := decodeFile(data, &c.File); err != nil {
			return nil, fmt.Errorf("config %s: %w", c.ConfigPath, err)
		}
	}
	c.fillDerived()
	if c.logFormatFlag != "" {
		c.LogFormat = c.logFormatFlag
	}
	if c.logLevelFlag != "" {
		c.LogLevel = c.logLevelFlag
	}
	if err := c.validate(); err != nil {
		where := "config"
		if c.ConfigPath != "" {
			where = "config " + c.ConfigPath
		}
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if c.ShardID == "" {
		c.ShardID = defaultShardID(c.Addr)
	}
	return c, nil
}

// flagSpecs are the flags of docs/protocol.md §6, each bound to its field of c.
// redisSchemes are the URL forms cluster.Open takes.
var redisSchemes = regexp.MustCompile(`^rediss?(\+sentinel|\+cluster)?://`)

func (c *Config) flagSpecs() []flagSpec {
	return []flagSpec{
		{name: "addr", env: "LOBBY_ADDR", usage: "HTTP and WebSocket listen address (default :8080, 127.0.0.1:8080 in dev mode)", str: &c.Addr},
		{name: "redis", env: "LOBBY_REDIS_URL", usage: "redis://host:port/db (or rediss://, redis+sentinel://, redis+cluster://); shards sharing one Redis form one cluster; empty: in-memory single shard", str: &c.RedisURL},
		{name: "redis-prefix", env: "LOBBY_REDIS_PREFIX", usage: "prefix of every Redis key of this cluster (default lobbyd:)", str: &c.RedisPrefix},
		{name: "shard-id", env: "LOBBY_SHARD_ID", usage: "this shard's name (default host name + port)", str: &c.ShardID},
		{name: "jwt-secret", env: "LOBBY_JWT_SECRET", usage: "HS256 secret for player tokens", str: &c.JWTSecret},
		{name: "jwt-public-key", env: "LOBBY_JWT_PUBLIC_KEY", usage: "PEM file with an RS256 or EdDSA public key for player tokens", str: &c.JWTPublicKeyFile},
		{name: "dev", env: "LOBBY_DEV", usage: "dev mode: guest tokens at POST /v1/auth/guest, a random secret if none is set", boolean: &c.Dev},
		{name: "operator-token", env: "LOBBY_OPERATOR_TOKEN", usage: "bearer token for /metrics and /admin/*", str: &c.OperatorToken},
		{name: "config", env: "LOBBY_CONFIG", usage: "YAML configuration file", str: &c.ConfigPath},
		{name: "log-format", env: "LOBBY_LOG_FORMAT", usage: "log format: text or json (default text; the file's log_format)", str: &c.logFormatFlag},
		{name: "log-level", env: "LOBBY_LOG_LEVEL", usage: "least level logged: debug, info, warn or error (default info; the file's log_level)", str: &c.logLevelFlag},
	}
}

// parseFlags sets c's flag fields from args, then from the environment for
// each flag that args did not give.
func (c *Config) parseFlags(args []string, getenv func(string) string, usage io.Writer) error {
	if usage == nil {
		usage = io.Discard
	}
	specs := c.flagSpecs()
	fs := flag.NewFlagSet("lobbyd", flag.ContinueOnError)
	fs.SetOutput(usage)
	for _, s := range specs {
		if s.boolean != nil {
			fs.BoolVar(s.boolean, s.name, false, s.usage+" ["+s.env+"]")
		} else {
			fs.StringVar(s.str, s.name, "", s.usage+" ["+s.env+"]")
		}
	}
	fs.BoolVar(&c.ShowVersion, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.ShowVersion {
		return nil
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, s := range specs {
		v := getenv(s.env)
		if set[s.name] || v == "" {
			continue
		}
		if s.boolean == nil {
			*s.str = v
			continue
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%s=%q: not a boolean", s.env, v)
		}
		*s.boolean = b
	}
	return nil
}

// fillDerived sets what depends on other settings or on the machine: dev
// mode, the address, the built-in queues, the memory budget.
func (c *Config) fillDerived() {
	// No secret and no key means nobody can issue tokens but us: that is
	// only useful as a dev server, which is what `lobbyd` alone must be.
	if c.JWTSecret == "" && c.JWTPublicKeyFile == "" {
		c.Dev = true
	}
	if c.Addr == "" {
		c.Addr = ":8080"
		if c.Dev {
			c.Addr = "127.0.0.1:8080"
		}
	}
	if len(c.Queues) == 0 {
		c.Queues = matchmaking.DefaultQueues()
	}
	if c.MemoryBudgetBytes == 0 {
		c.MemoryBudgetBytes = budget.MachineDefault()
	}
}

// decodeFile decodes YAML (JSON is valid YAML) strictly: unknown keys fail.
// The library reports type errors by line only; keyAt adds the key's path so
// the operator reads "line 3 (rate_limit.burst): ..." rather than a line to
// count.
func decodeFile(data []byte, f *File) error {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return err
	}
	if len(root.Content) == 0 { // an empty file: all defaults
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(f)
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	msgs := make([]string, len(te.Errors))
	for i, e := range te.Errors {
		msgs[i] = e
		var line int
		if _, scanErr := fmt.Sscanf(e, "line %d:", &line); scanErr == nil {
			if key := keyAt(root.Content[0], line, ""); key != "" {
				msgs[i] = strings.Replace(e, ":", " ("+key+"):", 1)
			}
		}
	}
	return errors.New(strings.Join(msgs, "; "))
}

// keyAt returns the dotted path of the mapping key or value on line.
func keyAt(n *yaml.Node, line int, prefix string) string {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			path := k.Value
			if prefix != "" {
				path = prefix + "." + k.Value
			}
			if k.Line == line || v.Line == line && v.Kind == yaml.ScalarNode {
				return path
			}
			if p := keyAt(v, line, path); p != "" {
				return p
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if p := keyAt(c, line, fmt.Sprintf("%s[%d]", prefix, i)); p != "" {
				return p
			}
		}
	}
	return ""
}

func defaultShardID(addr string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "lobbyd"
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		port = "0"
	}
	return host + ":" + port
}

func (c *Config) validate() error {
	checks := []struct {
		key      string
		v        int64
		min, max int64
	}{
		{"heartbeat_ms", c.HeartbeatMs, 100, 600_000},
		{"resume_grace_ms", c.ResumeGraceMs, 0, 3_600_000},
		{"max_message_bytes", int64(c.MaxMessageBytes), 1024, 16 << 20},
		{"max_connections", int64(c.MaxConnections), 1, 10_000_000},
		{"max_watchers", int64(c.MaxWatchers), 1, 10_000_000},
		{"rate_limit.burst", int64(c.RateLimit.Burst), 1, 1_000_000},
		{"drain_spread_ms", c.DrainSpreadMs, 0, 600_000},
		{"drain_timeout_ms", c.DrainTimeoutMs, 100, 3_600_000},
		{"memory_budget_bytes", c.MemoryBudgetBytes, budget.MinLimit, 1 << 50},
		{"cluster.heartbeat_ms", c.Cluster.HeartbeatMs, 100, 60_000},
		{"cluster.dead_after_ms", c.Cluster.DeadAfterMs, 3 * c.Cluster.HeartbeatMs, 600_000},
		{"cluster.lease_renew_ms", c.Cluster.LeaseRenewMs, 100, 60_000},
		// Renewed at least 3 times per TTL; and gone before its shard is
		// called dead, so a dead shard's queues are taken over by then.
		{"cluster.lease_ttl_ms", c.Cluster.LeaseTTLMs, 3 * c.Cluster.LeaseRenewMs, c.Cluster.DeadAfterMs},
	}
	for _, k := range checks {
		if k.v < k.min || k.v > k.max {
			return fmt.Errorf("%s: must be between %d and %d, got %d", k.key, k.min, k.max, k.v)
		}
	}
	if !(c.RateLimit.PerSecond > 0 && c.RateLimit.PerSecond <= 1_000_000) {
		return fmt.Errorf("rate_limit.per_second: must be above 0 and at most 1000000, got %v", c.RateLimit.PerSecond)
	}
	for _, h := range []struct {
		key string
		r   RateLimit
	}{{"handshake_limit.per_user", c.HandshakeLimit.PerUser}, {"handshake_limit.per_address", c.HandshakeLimit.PerAddress}} {
		if !(h.r.PerSecond >= 0 && h.r.PerSecond <= 1_000_000) { // NaN fails too
			return fmt.Errorf("%s.per_second: must be between 0 (no limit) and 1000000, got %v", h.key, h.r.PerSecond)
		}
		if h.r.PerSecond > 0 && (h.r.Burst < 1 || h.r.Burst > 1_000_000) {
			return fmt.Errorf("%s.burst: must be between 1 and 1000000, got %d", h.key, h.r.Burst)
		}
	}
	for i, o := range c.AllowedOrigins {
		if strings.TrimSpace(o) == "" {
			return fmt.Errorf("allowed_origins[%d]: must not be empty", i)
		}
	}
	if err := matchmaking.ValidateQueues(c.Queues); err != nil {
		return err
	}
	if !slices.Contains(LogFormats, c.LogFormat) {
		return fmt.Errorf("log_format: must be text or json, got %q", c.LogFormat)
	}
	if _, ok := LogLevels[c.LogLevel]; !ok {
		return fmt.Errorf("log_level: must be debug, info, warn or error, got %q", c.LogLevel)
	}
	if c.JWTSecret != "" && c.JWTPublicKeyFile != "" {
		return errors.New("jwt-secret and jwt-public-key: give one, not both")
	}
	if c.RedisURL != "" && !redisSchemes.MatchString(c.RedisURL) {
		return fmt.Errorf("redis: %q is not a redis://, rediss://, redis+sentinel:// or redis+cluster:// URL", c.RedisURL)
	}
	if len(c.RedisPrefix) > 64 || strings.ContainsAny(c.RedisPrefix, "{} \t\r\n") {
		return fmt.Errorf("redis-prefix: at most 64 bytes, without braces or white space, got %q", c.RedisPrefix)
	}
	return nil
}

// effective is what `lobbyd check-config` prints: every setting in force,
// flags, environment and file merged, secrets masked.
type effective struct {
	Addr             string `yaml:"addr"`
	Redis            string `yaml:"redis"`
	RedisPrefix      string `yaml:"redis_prefix"`
	ShardID          string `yaml:"shard_id"`
	JWTSecret        string `yaml:"jwt_secret"`
	JWTPublicKeyFile string `yaml:"jwt_public_key"`
	Dev              bool   `yaml:"dev"`
	OperatorToken    string `yaml:"operator_token"`
	Config           string `yaml:"config"`
	File             `yaml:",inline"`
}

// Masked stands for a secret that is set.
const Masked = "********"

func mask(secret string) string {
	if secret == "" {
		return ""
	}
	return Masked
}

// Effective returns the settings in force as YAML, with the JWT secret
// and the operator token masked and a Redis URL's password hidden.
func (c *Config) Effective() ([]byte, error) {
	e := effective{
		Addr: c.Addr, Redis: RedactURL(c.RedisURL), RedisPrefix: c.RedisPrefix, ShardID: c.ShardID,
		JWTSecret: mask(c.JWTSecret), JWTPublicKeyFile: c.JWTPublicKeyFile, Dev: c.Dev,
		OperatorToken: mask(c.OperatorToken), Config: c.ConfigPath, File: c.File,
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(e); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

// RedactURL hides the password of a URL (a Redis URL) for logs and output.
func RedactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}
