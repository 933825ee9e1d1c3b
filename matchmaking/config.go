package matchmaking

import (
	"fmt"
	"math"
)

// Region rules of a queue (docs/protocol.md §6 "region").
const (
	RegionStrict = "strict" // all tickets of a match share one region ("" is a region of its own)
	RegionAny    = "any"    // region ignored
)

// Bounds of a queue's configuration.
const (
	MaxQueues        = 64
	MaxQueueName     = 64
	MaxTeamSize      = 64
	MaxTeams         = 16
	MaxMatchPlayers  = 256 // the largest lobby (max_players 2..256)
	DefaultTimeoutMs = 120_000
	MaxTimeoutMs     = 86_400_000 // one day: a ticket older than that is a leak, not a wait
)

// SkillWindow is how far apart the skills of a match may be. A ticket that
// has waited s seconds has the window min(Initial + GrowthPerSec×s, Max).
type SkillWindow struct {
	Initial      float64 `yaml:"initial" json:"initial"`
	GrowthPerSec float64 `yaml:"growth_per_sec" json:"growth_per_sec"`
	Max          float64 `yaml:"max" json:"max"`
}

// QueueConfig is one queue of the `queues:` configuration (docs/protocol.md §6).
// Call ApplyDefaults, then Validate. Zero values and their meaning:
//
//   - MaxParty 0: TeamSize (a party may fill a whole team).
//   - SkillWindow.Max 0 while Initial or GrowthPerSec is not: uncapped, i.e.
//     the widest window a ticket can reach before it times out.
//   - Region "": "strict", as in docs/protocol.md's example.
//   - RegionRelaxAfterMs 0: never relax.
//   - TimeoutMs 0: 120000.
//
// Teams may be 1: a co-op queue that fills one team of TeamSize players.
// TeamSize×Teams must be 2..256: a match is a lobby, and a lobby holds 2..256.
type QueueConfig struct {
	Name               string      `yaml:"name" json:"name"`
	TeamSize           int         `yaml:"team_size" json:"team_size"`
	Teams              int         `yaml:"teams" json:"teams"`
	MaxParty           int         `yaml:"max_party" json:"max_party"`
	SkillWindow        SkillWindow `yaml:"skill_window" json:"skill_window"`
	Region             string      `yaml:"region" json:"region"`                               // "strict" | "any"
	RegionRelaxAfterMs int64       `yaml:"region_relax_after_ms" json:"region_relax_after_ms"` // > 0: strict until a ticket waited this long
	TimeoutMs          int64       `yaml:"timeout_ms" json:"timeout_ms"`
}

// ConfigError names the queue field that is wrong and why.
type ConfigError struct {
	Field  string // yaml key, e.g. "skill_window.max"
	Reason string
}

func (e *ConfigError) Error() string { return e.Field + ": " + e.Reason }

func cfgErr(field, format string, args ...any) error {
	return &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// DefaultQueues are the built-in queues used when the configuration lists
// none: duel (1 v 1) and squad (2 teams of 2, parties of up to 2), with
// docs/protocol.md §6's example window.
func DefaultQueues() []QueueConfig {
	w := SkillWindow{Initial: 100, GrowthPerSec: 20, Max: 1000}
	return []QueueConfig{
		{Name: "duel", TeamSize: 1, Teams: 2, MaxParty: 1, SkillWindow: w, Region: RegionStrict, TimeoutMs: DefaultTimeoutMs},
		{Name: "squad", TeamSize: 2, Teams: 2, MaxParty: 2, SkillWindow: w, Region: RegionStrict, TimeoutMs: DefaultTimeoutMs},
	}
}

// ApplyDefaults fills the zero values documented on QueueConfig.
func (q *QueueConfig) ApplyDefaults() {
	if q.MaxParty == 0 {
		q.MaxParty = q.TeamSize
	}
	if q.Region == "" {
		q.Region = RegionStrict
	}
	if q.TimeoutMs == 0 {
		q.TimeoutMs = DefaultTimeoutMs
	}
	w := &q.SkillWindow
	if w.Max == 0 && (w.Initial > 0 || w.GrowthPerSec > 0) {
		w.Max = w.Initial + w.GrowthPerSec*float64(q.TimeoutMs)/1000
	}
}

// Validate checks every field against its bound; the error is a *ConfigError.
func (q QueueConfig) Validate() error {
	if n := len(q.Name); n == 0 || n > MaxQueueName {
		return cfgErr("name", "%q must be 1..%d characters", q.Name, MaxQueueName)
	}
	for i := 0; i < len(q.Name); i++ {
		c := q.Name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return cfgErr("name", "%q may hold only a-z, 0-9, '_' and '-'", q.Name)
		}
	}
	if q.TeamSize < 1 || q.TeamSize > MaxTeamSize {
		return cfgErr("team_size", "%d is outside 1..%d", q.TeamSize, MaxTeamSize)
	}
	if q.Teams < 1 || q.Teams > MaxTeams {
		return cfgErr("teams", "%d is outside 1..%d", q.Teams, MaxTeams)
	}
	if n := q.TeamSize * q.Teams; n < 2 || n > MaxMatchPlayers {
		return cfgErr("teams", "team_size × teams = %d players; a match lobby holds 2..%d", n, MaxMatchPlayers)
	}
	if q.MaxParty < 1 || q.MaxParty > q.TeamSize {
		return cfgErr("max_party", "%d is outside 1..team_size (%d): a party stays on one team", q.MaxParty, q.TeamSize)
	}
	w := q.SkillWindow
	for _, f := range []struct {
		name string
		v    float64
	}{{"skill_window.initial", w.Initial}, {"skill_window.growth_per_sec", w.GrowthPerSec}, {"skill_window.max", w.Max}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v < 0 {
			return cfgErr(f.name, "%v must be a finite number ≥ 0", f.v)
		}
	}
	if w.Max < w.Initial {
		return cfgErr("skill_window.max", "%v is below skill_window.initial (%v)", w.Max, w.Initial)
	}
	if q.TimeoutMs < 1 || q.TimeoutMs > MaxTimeoutMs {
		return cfgErr("timeout_ms", "%d is outside 1..%d", q.TimeoutMs, MaxTimeoutMs)
	}
	switch q.Region {
	case RegionStrict:
	case RegionAny:
		if q.RegionRelaxAfterMs != 0 {
			return cfgErr("region_relax_after_ms", "applies only to region: strict")
		}
	default:
		return cfgErr("region", "%q must be %q or %q", q.Region, RegionStrict, RegionAny)
	}
	if q.RegionRelaxAfterMs < 0 || q.RegionRelaxAfterMs >= q.TimeoutMs && q.RegionRelaxAfterMs != 0 {
		return cfgErr("region_relax_after_ms", "%d must be 0 (never) or 1..timeout_ms-1 (%d)", q.RegionRelaxAfterMs, q.TimeoutMs-1)
	}
	return nil
}

// Players is the number of players in one match: TeamSize × Teams.
func (q QueueConfig) Players() int { return q.TeamSize * q.Teams }

// Window is the skill window of a ticket that has waited waitedMs
// milliseconds (negative waits, from clock skew, count as 0).
func (q QueueConfig) Window(waitedMs int64) float64 {
	if waitedMs < 0 {
		waitedMs = 0
	}
	w := q.SkillWindow.Initial + q.SkillWindow.GrowthPerSec*float64(waitedMs)/1000
	return math.Min(w, q.SkillWindow.Max)
}

// relaxed reports whether a ticket that has waited waitedMs may match any
// region.
func (q QueueConfig) relaxed(waitedMs int64) bool {
	return q.Region == RegionAny || q.RegionRelaxAfterMs > 0 && waitedMs >= q.RegionRelaxAfterMs
}

// ValidateQueues applies defaults to every queue and validates the list:
// 1..MaxQueues queues, unique names.
func ValidateQueues(qs []QueueConfig) error {
	if len(qs) == 0 || len(qs) > MaxQueues {
		return cfgErr("queues", "%d queues; want 1..%d", len(qs), MaxQueues)
	}
	seen := make(map[string]bool, len(qs))
	for i := range qs {
		qs[i].ApplyDefaults()
		if err := qs[i].Validate(); err != nil {
			return fmt.Errorf("queues[%d]: %w", i, err)
		}
		if seen[qs[i].Name] {
			return fmt.Errorf("queues[%d]: %w", i, cfgErr("name", "%q is listed twice", qs[i].Name))
		}
		seen[qs[i].Name] = true
	}
	return nil
}
