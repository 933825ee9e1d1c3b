package app

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/lobbyd/lobbyd/config"
	"github.com/lobbyd/lobbyd/gateway"
)

// NewLogger is the operator log of cfg: slog's text or JSON handler on w,
// at cfg's level. The level is a LevelVar, so a reload can change it
// (App.LogLevel); the format needs a restart.
func NewLogger(w io.Writer, cfg *config.Config) (*slog.Logger, *slog.LevelVar) {
	level := new(slog.LevelVar)
	level.Set(cfg.Level())
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), level
	}
	return slog.New(slog.NewTextHandler(w, opts)), level
}

// Reload puts in force the settings of next that a running shard can take
// (SIGHUP): the message and handshake rate limits (for existing
// connections too, from their next message), allowed_origins, drain
// timings, the queues' skill windows, region rules and timeouts, and the
// log level. It returns what it changed, and the settings that differ but
// need a restart (left as they were), one "key: old → new" or "key: why"
// each.
//
// Reload is not safe for concurrent use: call it from one goroutine (the
// signal loop).
func (a *App) Reload(next *config.Config) (changed, restart []string) {
	cur := a.cfg
	running := *cur // what stays in force: cur with the live settings of next

	changed = a.Gateway.Reload(gateway.Live{
		Messages:             gateway.Rate{PerSecond: next.RateLimit.PerSecond, Burst: next.RateLimit.Burst},
		HandshakesPerUser:    gateway.Rate(next.HandshakeLimit.PerUser),
		HandshakesPerAddress: gateway.Rate(next.HandshakeLimit.PerAddress),
		AllowedOrigins:       next.AllowedOrigins,
		DrainSpread:          next.DrainSpread(),
		DrainTimeout:         next.DrainTimeout(),
	})
	running.RateLimit, running.HandshakeLimit, running.AllowedOrigins = next.RateLimit, next.HandshakeLimit, next.AllowedOrigins
	running.DrainSpreadMs, running.DrainTimeoutMs = next.DrainSpreadMs, next.DrainTimeoutMs

	if a.mm != nil {
		qs, err := a.mm.UpdateQueues(next.Queues)
		if err != nil {
			restart = append(restart, err.Error())
		} else {
			changed = append(changed, qs...)
			running.Queues = next.Queues
		}
	}
	if a.LogLevel != nil && next.LogLevel != cur.LogLevel {
		a.LogLevel.Set(next.Level())
		changed = append(changed, fmt.Sprintf("log_level: %s → %s", cur.LogLevel, next.LogLevel))
		running.LogLevel = next.LogLevel
	}

	fixed := []struct {
		key      string
		old, new any
		secret   bool
	}{
		{key: "addr", old: cur.Addr, new: next.Addr},
		{key: "redis", old: config.RedactURL(cur.RedisURL), new: config.RedactURL(next.RedisURL)},
		{key: "redis-prefix", old: cur.RedisPrefix, new: next.RedisPrefix},
		{key: "shard-id", old: cur.ShardID, new: next.ShardID},
		{key: "jwt-secret", old: cur.JWTSecret, new: next.JWTSecret, secret: true},
		{key: "jwt-public-key", old: cur.JWTPublicKeyFile, new: next.JWTPublicKeyFile},
		{key: "dev", old: cur.Dev, new: next.Dev},
		{key: "operator-token", old: cur.OperatorToken, new: next.OperatorToken, secret: true},
		{key: "heartbeat_ms", old: cur.HeartbeatMs, new: next.HeartbeatMs},
		{key: "resume_grace_ms", old: cur.ResumeGraceMs, new: next.ResumeGraceMs},
		{key: "max_message_bytes", old: cur.MaxMessageBytes, new: next.MaxMessageBytes},
		{key: "max_connections", old: cur.MaxConnections, new: next.MaxConnections},
		{key: "memory_budget_bytes", old: cur.MemoryBudgetBytes, new: next.MemoryBudgetBytes},
		{key: "log_format", old: cur.LogFormat, new: next.LogFormat},
	}
	for _, f := range fixed {
		if fmt.Sprint(f.old) == fmt.Sprint(f.new) {
			continue
		}
		if f.secret { // never in the log, not even masked old and new
			restart = append(restart, f.key+": changed")
			continue
		}
		restart = append(restart, fmt.Sprintf("%s: %v → %v", f.key, f.old, f.new))
	}
	a.cfg = &running
	return changed, restart
}
