package matchmaking_test

import (
	"math"
	"slices"
	"testing"

	mm "github.com/lobbyd/lobbyd/matchmaking"
)

func duel() mm.QueueConfig { return mm.DefaultQueues()[0] }
func squad() mm.QueueConfig {
	return mm.DefaultQueues()[1]
}

func solo(id string, skill float64, region string, created int64) mm.Ticket {
	return mm.Ticket{ID: id, Queue: "q", Members: []string{"u-" + id}, Skill: skill, Region: region, CreatedAt: created}
}

func party(id string, skill float64, created int64, members ...string) mm.Ticket {
	return mm.Ticket{ID: id, Queue: "q", Members: members, Skill: skill, CreatedAt: created}
}

// matchIDs renders the matches as sorted ticket-id lists, for comparison.
func matchIDs(in []mm.Ticket, ms []mm.Match) [][]string {
	var out [][]string
	for _, m := range ms {
		var ids []string
		for _, t := range m.Tickets {
			ids = append(ids, in[t].ID)
		}
		slices.Sort(ids)
		out = append(out, ids)
	}
	return out
}

func TestMatchTable(t *testing.T) {
	relaxed := duel()
	relaxed.RegionRelaxAfterMs = 5000
	anyRegion := duel()
	anyRegion.Region = mm.RegionAny

	tests := []struct {
		name    string
		q       mm.QueueConfig
		now     int64
		tickets []mm.Ticket
		want    [][]string // ticket ids per match, sorted
		rest    int
	}{
		{"two close duel players", duel(), 0,
			[]mm.Ticket{solo("a", 1000, "eu", 0), solo("b", 1050, "eu", 0)},
			[][]string{{"a", "b"}}, 0},
		{"window exactly reached counts", duel(), 0,
			[]mm.Ticket{solo("a", 1000, "eu", 0), solo("b", 1100, "eu", 0)},
			[][]string{{"a", "b"}}, 0},
		// 300 apart: initial 100 + 20/s reaches 300 after exactly 10 s of
		// the OLDEST ticket's wait (a at 0), whatever b waited.
		{"far pair one ms early", duel(), 9_999,
			[]mm.Ticket{solo("a", 1000, "eu", 0), solo("b", 1300, "eu", 5_000)},
			nil, 2},
		{"far pair on time", duel(), 10_000,
			[]mm.Ticket{solo("a", 1000, "eu", 0), solo("b", 1300, "eu", 5_000)},
			[][]string{{"a", "b"}}, 0},
		{"window capped at max", duel(), 3_600_000,
			[]mm.Ticket{solo("a", 0, "eu", 0), solo("b", 1000.5, "eu", 0)},
			nil, 2},
		{"nearest partner wins", duel(), 0,
			[]mm.Ticket{solo("a", 1000, "", 0), solo("b", 1090, "", 1), solo("c", 1010, "", 2)},
			[][]string{{"a", "c"}}, 1},
		{"oldest served first", duel(), 0,
			// c (oldest) takes b, its nearest, although a-b is closer.
			[]mm.Ticket{solo("a", 1000, "", 5), solo("b", 1020, "", 3), solo("c", 1050, "", 1)},
			[][]string{{"b", "c"}}, 1},
		{"strict regions do not mix", duel(), 0,
			[]mm.Ticket{solo("a", 1000, "eu", 0), solo("b", 1000, "us", 0)},
			nil, 2},
		{"empty region is a region", duel(), 0,
			[]mm.Ticket{solo("a", 1000, "", 0), solo("b", 1000, "us", 0)},
			nil, 2},
		{"strict pairs within each region", duel(), 0,
			[]mm.Ticket{solo("a", 1000, "eu", 0), solo("b", 1000, "us", 0), solo("c", 1001, "eu", 0), solo("d", 1001, "us", 0)},
			[][]string{{"a", "c"}, {"b", "d"}}, 0},
		{"relax not yet", relaxed, 4_999,
			[]mm.Ticket{solo("a", 1000, "eu", 0), solo("b", 1000, "us", 0)},
			nil, 2},
		{"relaxed after wait", relaxed, 5_000,
			[]mm.Ticket{solo("a", 1000, "eu", 0), solo("b", 1000, "us", 4_000)},
			[][]string{{"a", "b"}}, 0},
		{"region any", anyRegion, 0,
			[]mm.Ticket{solo("a", 1000, "eu", 0), solo("b", 1000, "us", 0)},
			[][]string{{"a", "b"}}, 0},
		{"unmatchable tickets stay", duel(), 0,
			[]mm.Ticket{solo("a", math.NaN(), "", 0), solo("b", math.Inf(1), "", 0),
				party("c", 1000, 0), party("d", 1000, 0, "x", "y"), solo("e", 1000, "", 0)},
			nil, 5},
		{"squad: party and two solos", squad(), 0,
			[]mm.Ticket{party("p", 1000, 0, "p1", "p2"), solo("a", 1000, "", 1), solo("b", 1000, "", 2)},
			[][]string{{"a", "b", "p"}}, 0},
		{"squad: two parties of two", squad(), 0,
			[]mm.Ticket{party("p", 1000, 0, "p1", "p2"), party("r", 1010, 0, "r1", "r2")},
			[][]string{{"p", "r"}}, 0},
		{"squad: three solos are not enough", squad(), 0,
			[]mm.Ticket{solo("a", 1000, "", 0), solo("b", 1000, "", 1), solo("c", 1000, "", 2)},
			nil, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.tickets)
			ms, rest := mm.FindMatches(in, tc.now, tc.q)
			if got := matchIDs(in, ms); !slices.EqualFunc(got, tc.want, slices.Equal) {
				t.Fatalf("matches = %v, want %v", got, tc.want)
			}
			if len(rest) != tc.rest {
				t.Fatalf("rest = %d tickets, want %d", len(rest), tc.rest)
			}
			checkInvariants(t, tc.tickets, ms, rest, tc.now, tc.q)
			for i := range in { // pure: the input is untouched
				if in[i].ID != tc.tickets[i].ID {
					t.Fatalf("input reordered")
				}
			}
		})
	}
}

func TestMatchPartyOnOneTeam(t *testing.T) {
	q := squad()
	in := []mm.Ticket{solo("a", 1050, "", 0), party("p", 1000, 1, "p1", "p2"), solo("b", 1100, "", 2)}
	ms, _ := mm.FindMatches(in, 0, q)
	if len(ms) != 1 {
		t.Fatalf("%d matches, want 1", len(ms))
	}
	var partyTeam []string
	for _, team := range ms[0].Teams {
		if slices.Contains(team, "p1") {
			partyTeam = team
		}
	}
	if !slices.Contains(partyTeam, "p2") || len(partyTeam) != 2 {
		t.Fatalf("party split: teams %v", ms[0].Teams)
	}
}

func TestMatchTeamsBalanced(t *testing.T) {
	q := squad()
	in := []mm.Ticket{solo("a", 1000, "", 0), solo("b", 1010, "", 0), solo("c", 1020, "", 0), solo("d", 1030, "", 0)}
	ms, _ := mm.FindMatches(in, 0, q)
	if len(ms) != 1 {
		t.Fatalf("%d matches, want 1", len(ms))
	}
	m := ms[0]
	// LPT: 1030 → team 0, 1020 → team 1, 1010 → team 1 (lower total), 1000 → team 0.
	if m.TeamSkill[0] != 1015 || m.TeamSkill[1] != 1015 {
		t.Fatalf("team skills %v, want [1015 1015]; teams %v", m.TeamSkill, m.Teams)
	}
	if m.SkillSpread != 30 {
		t.Fatalf("spread %v, want 30", m.SkillSpread)
	}
}

func TestMatchRegionIsMajority(t *testing.T) {
	q := squad()
	q.RegionRelaxAfterMs = 1000
	in := []mm.Ticket{solo("a", 1000, "us", 0), solo("b", 1000, "eu", 900), solo("c", 1000, "eu", 900), solo("d", 1000, "eu", 900)}
	ms, _ := mm.FindMatches(in, 1000, q)
	if len(ms) != 1 || ms[0].Region != "eu" {
		t.Fatalf("matches %+v, want one in eu", ms)
	}
}

func TestMatchCoopOneTeam(t *testing.T) {
	q := mm.QueueConfig{Name: "coop", TeamSize: 3, Teams: 1}
	q.ApplyDefaults()
	if err := q.Validate(); err != nil {
		t.Fatal(err)
	}
	in := []mm.Ticket{party("p", 5, 0, "p1", "p2"), solo("a", 5, "", 1), solo("b", 5, "", 2)}
	ms, rest := mm.FindMatches(in, 0, q)
	if len(ms) != 1 || len(ms[0].Teams) != 1 || len(ms[0].Teams[0]) != 3 || len(rest) != 1 {
		t.Fatalf("matches %+v rest %d", ms, len(rest))
	}
}

// checkInvariants verifies what every matcher result must satisfy,
// independently of how it was found.
func checkInvariants(t testing.TB, in []mm.Ticket, ms []mm.Match, rest []mm.Ticket, now int64, q mm.QueueConfig) {
	t.Helper()
	seen := map[string]int{}
	for _, tk := range rest {
		seen[tk.ID]++
	}
	for mi, m := range ms {
		if len(m.Teams) != q.Teams || len(m.TeamSkill) != q.Teams || len(m.TeamOf) != len(m.Tickets) {
			t.Fatalf("match %d: %d teams, want %d", mi, len(m.Teams), q.Teams)
		}
		teamOfUser := map[string]int{}
		for k, team := range m.Teams {
			if len(team) != q.TeamSize {
				t.Fatalf("match %d team %d has %d players, want %d", mi, k, len(team), q.TeamSize)
			}
			for _, u := range team {
				if _, dup := teamOfUser[u]; dup {
					t.Fatalf("match %d: user %s twice", mi, u)
				}
				teamOfUser[u] = k
			}
		}
		oldest := in[m.Tickets[0]]
		minS, maxS := math.Inf(1), math.Inf(-1)
		sameRegion := true
		for i, ti := range m.Tickets {
			tk := in[ti]
			seen[tk.ID]++
			if len(tk.Members) < 1 || len(tk.Members) > q.MaxParty || math.IsNaN(tk.Skill) || math.IsInf(tk.Skill, 0) {
				t.Fatalf("match %d holds unmatchable ticket %s", mi, tk.ID)
			}
			for _, u := range tk.Members {
				if k, ok := teamOfUser[u]; !ok || k != m.TeamOf[i] {
					t.Fatalf("match %d: party %s split or misplaced (%s on team %d, TeamOf %d)", mi, tk.ID, u, k, m.TeamOf[i])
				}
			}
			if tk.CreatedAt < oldest.CreatedAt {
				oldest = tk
			}
			minS, maxS = min(minS, tk.Skill), max(maxS, tk.Skill)
			sameRegion = sameRegion && tk.Region == in[m.Tickets[0]].Region
		}
		if spread := maxS - minS; spread > q.Window(now-oldest.CreatedAt) || spread != m.SkillSpread {
			t.Fatalf("match %d: spread %v (reported %v) over window %v of its oldest ticket", mi, spread, m.SkillSpread, q.Window(now-oldest.CreatedAt))
		}
		if q.Region == mm.RegionStrict && !sameRegion &&
			!(q.RegionRelaxAfterMs > 0 && now-oldest.CreatedAt >= q.RegionRelaxAfterMs) {
			t.Fatalf("match %d mixes regions before its oldest ticket relaxed", mi)
		}
	}
	for _, tk := range in {
		if seen[tk.ID] != 1 {
			t.Fatalf("ticket %s appears %d times in matches+rest", tk.ID, seen[tk.ID])
		}
	}
	if len(seen) != len(in) {
		t.Fatalf("%d distinct tickets out, %d in", len(seen), len(in))
	}
}
