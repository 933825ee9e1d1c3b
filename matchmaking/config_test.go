package matchmaking_test

import (
	"errors"
	"strings"
	"testing"

	mm "github.com/lobbyd/lobbyd/matchmaking"
)

func TestQueueConfigValidate(t *testing.T) {
	ok := func() mm.QueueConfig { return mm.DefaultQueues()[0] }
	tests := []struct {
		name   string
		edit   func(q *mm.QueueConfig)
		field  string // "" = valid
		reason string // part of the reason
	}{
		{"default duel", func(q *mm.QueueConfig) {}, "", ""},
		{"co-op one team", func(q *mm.QueueConfig) { q.Teams, q.TeamSize, q.MaxParty = 1, 4, 4 }, "", ""},
		{"empty name", func(q *mm.QueueConfig) { q.Name = "" }, "name", "1..64"},
		{"upper-case name", func(q *mm.QueueConfig) { q.Name = "Duel" }, "name", "a-z"},
		{"long name", func(q *mm.QueueConfig) { q.Name = strings.Repeat("a", 65) }, "name", "1..64"},
		{"team_size 0", func(q *mm.QueueConfig) { q.TeamSize = 0 }, "team_size", "1..64"},
		{"team_size 65", func(q *mm.QueueConfig) { q.TeamSize, q.MaxParty = 65, 1 }, "team_size", "1..64"},
		{"teams 0", func(q *mm.QueueConfig) { q.Teams = 0 }, "teams", "1..16"},
		{"teams 17", func(q *mm.QueueConfig) { q.Teams = 17 }, "teams", "1..16"},
		{"one player", func(q *mm.QueueConfig) { q.Teams = 1 }, "teams", "2..256"},
		{"too many players", func(q *mm.QueueConfig) { q.TeamSize, q.Teams = 64, 5 }, "teams", "2..256"},
		{"party over team", func(q *mm.QueueConfig) { q.MaxParty = 2 }, "max_party", "team_size"},
		{"negative initial", func(q *mm.QueueConfig) { q.SkillWindow.Initial = -1 }, "skill_window.initial", "≥ 0"},
		{"negative growth", func(q *mm.QueueConfig) { q.SkillWindow.GrowthPerSec = -1 }, "skill_window.growth_per_sec", "≥ 0"},
		{"max below initial", func(q *mm.QueueConfig) { q.SkillWindow.Max = 50 }, "skill_window.max", "below"},
		{"bad region", func(q *mm.QueueConfig) { q.Region = "near" }, "region", "strict"},
		{"relax with any", func(q *mm.QueueConfig) { q.Region, q.RegionRelaxAfterMs = "any", 10 }, "region_relax_after_ms", "strict"},
		{"relax past timeout", func(q *mm.QueueConfig) { q.RegionRelaxAfterMs = q.TimeoutMs }, "region_relax_after_ms", "timeout_ms"},
		{"negative relax", func(q *mm.QueueConfig) { q.RegionRelaxAfterMs = -1 }, "region_relax_after_ms", ""},
		{"negative timeout", func(q *mm.QueueConfig) { q.TimeoutMs = -1 }, "timeout_ms", "1.."},
		{"timeout over a day", func(q *mm.QueueConfig) { q.TimeoutMs = mm.MaxTimeoutMs + 1 }, "timeout_ms", "1.."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := ok()
			tc.edit(&q)
			err := q.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var ce *mm.ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field || !strings.Contains(ce.Reason, tc.reason) {
				t.Fatalf("err = %v, want field %s with %q", err, tc.field, tc.reason)
			}
		})
	}
}

func TestQueueConfigDefaults(t *testing.T) {
	q := mm.QueueConfig{Name: "brawl", TeamSize: 3, Teams: 2, SkillWindow: mm.SkillWindow{Initial: 50, GrowthPerSec: 10}}
	q.ApplyDefaults()
	want := mm.QueueConfig{Name: "brawl", TeamSize: 3, Teams: 2, MaxParty: 3, Region: mm.RegionStrict, TimeoutMs: 120_000,
		SkillWindow: mm.SkillWindow{Initial: 50, GrowthPerSec: 10, Max: 50 + 10*120}}
	if q != want {
		t.Fatalf("defaults %+v\nwant %+v", q, want)
	}
	if err := q.Validate(); err != nil {
		t.Fatal(err)
	}
	zero := mm.QueueConfig{Name: "flat", TeamSize: 1, Teams: 2}
	zero.ApplyDefaults()
	if zero.SkillWindow != (mm.SkillWindow{}) || zero.Validate() != nil {
		t.Fatalf("an all-zero window must stay zero (equal skills only): %+v", zero.SkillWindow)
	}
}

func TestDefaultQueues(t *testing.T) {
	qs := mm.DefaultQueues()
	if err := mm.ValidateQueues(qs); err != nil {
		t.Fatal(err)
	}
	d, s := qs[0], qs[1]
	if d.Name != "duel" || d.TeamSize != 1 || d.Teams != 2 || d.MaxParty != 1 ||
		s.Name != "squad" || s.TeamSize != 2 || s.Teams != 2 || s.MaxParty != 2 ||
		d.SkillWindow != (mm.SkillWindow{Initial: 100, GrowthPerSec: 20, Max: 1000}) {
		t.Fatalf("%+v", qs)
	}
	if w := d.Window(5000); w != 200 {
		t.Fatalf("window after 5 s = %v, want 200", w)
	}
	if w := d.Window(-5); w != 100 {
		t.Fatalf("window for a ticket from the future = %v, want 100", w)
	}
	if w := d.Window(3_600_000); w != 1000 {
		t.Fatalf("window after an hour = %v, want the max 1000", w)
	}
	if err := mm.ValidateQueues(nil); err == nil {
		t.Fatal("no queues accepted")
	}
}
