package gateway

import (
	"fmt"
	"slices"
	"time"
)

// Live are the settings a running shard takes without a restart (SIGHUP in
// cmd/lobbyd): the limits and timings read at each use. Everything else in
// Options is fixed at New.
type Live struct {
	Messages             Rate // each user's message bucket, which its connection draws from: rate_limit
	HandshakesPerUser    Rate
	HandshakesPerAddress Rate
	AllowedOrigins       []string
	DrainSpread          time.Duration
	DrainTimeout         time.Duration
}

// live is the Live part of the options.
func (o *Options) live() *Live {
	return &Live{
		Messages:             Rate{o.RatePerSecond, o.RateBurst},
		HandshakesPerUser:    o.HandshakesPerUser,
		HandshakesPerAddress: o.HandshakesPerAddress,
		AllowedOrigins:       slices.Clone(o.AllowedOrigins),
		DrainSpread:          o.DrainSpread,
		DrainTimeout:         o.DrainTimeout,
	}
}

// LiveSettings returns the settings in force.
func (g *Gateway) LiveSettings() Live {
	l := *g.settings.Load()
	l.AllowedOrigins = slices.Clone(l.AllowedOrigins)
	return l
}

// Reload puts l in force and returns what changed, one "key: old → new"
// per setting. The message rate applies to every connection from its next
// message (each bucket refills at the new rate, up to the new burst); the
// handshake limits to the next handshake; the origins to the next
// handshake and CORS request; the drain timings to the next drain. A zero
// Messages rate or DrainTimeout keeps the one in force.
func (g *Gateway) Reload(l Live) []string {
	old := g.settings.Load()
	next := l
	next.AllowedOrigins = slices.Clone(l.AllowedOrigins)
	if next.Messages.PerSecond <= 0 || next.Messages.Burst <= 0 {
		next.Messages = old.Messages
	}
	if next.DrainTimeout <= 0 {
		next.DrainTimeout = old.DrainTimeout
	}
	var changed []string
	diff := func(key string, a, b any) {
		if fmt.Sprint(a) != fmt.Sprint(b) {
			changed = append(changed, fmt.Sprintf("%s: %v → %v", key, a, b))
		}
	}
	diff("rate_limit.per_second", old.Messages.PerSecond, next.Messages.PerSecond)
	diff("rate_limit.burst", old.Messages.Burst, next.Messages.Burst)
	diff("handshake_limit.per_user", old.HandshakesPerUser, next.HandshakesPerUser)
	diff("handshake_limit.per_address", old.HandshakesPerAddress, next.HandshakesPerAddress)
	diff("allowed_origins", old.AllowedOrigins, next.AllowedOrigins)
	diff("drain_spread_ms", old.DrainSpread.Milliseconds(), next.DrainSpread.Milliseconds())
	diff("drain_timeout_ms", old.DrainTimeout.Milliseconds(), next.DrainTimeout.Milliseconds())
	g.userMsgs.setRate(next.Messages)
	g.hsUser.setRate(next.HandshakesPerUser)
	g.hsAddr.setRate(next.HandshakesPerAddress)
	g.settings.Store(&next)
	return changed
}

// CountReload counts a configuration reload, applied or refused, in
// lobbyd_config_reloads_total.
func (g *Gateway) CountReload(applied bool) { g.metrics.reloads[boolIndex(applied)].Inc() }

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}
