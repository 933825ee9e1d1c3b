package matchmaking_test

import (
	"math/rand/v2"
	"strconv"
	"testing"

	mm "github.com/lobbyd/lobbyd/matchmaking"
)

// population is a fixed (seeded) crowd: skills normal around 1500 (sd 300),
// waits spread over the last 60 s, four regions, and a share of parties of
// two where the queue allows them.
func population(n int, q mm.QueueConfig, now int64, partyShare float64) []mm.Ticket {
	r := rand.New(rand.NewPCG(42, 7))
	regions := []string{"eu", "us", "asia", "sa"}
	ts := make([]mm.Ticket, n)
	for i := range ts {
		id := "t" + strconv.Itoa(i)
		members := []string{id + "a"}
		if q.MaxParty >= 2 && r.Float64() < partyShare {
			members = append(members, id+"b")
		}
		ts[i] = mm.Ticket{ID: id, Queue: q.Name, Members: members,
			Skill: 1500 + 300*r.NormFloat64(), Region: regions[r.IntN(len(regions))],
			CreatedAt: now - r.Int64N(60_000)}
	}
	sortTickets(ts) // the store hands the matcher tickets in creation order
	return ts
}

func benchMatch(b *testing.B, q mm.QueueConfig, partyShare float64) {
	const n, now = 100_000, 1_000_000
	in := population(n, q, now, partyShare)
	var m mm.Matcher
	m.Match(in, now, q) // warm the scratch
	b.ReportAllocs()
	b.ResetTimer()
	var ms []mm.Match
	cpu0 := cpuTime()
	for b.Loop() {
		ms = m.Match(in, now, q)
	}
	b.StopTimer()
	reportCPU(b, cpu0)
	rest := mm.Rest(in, ms)
	var sum, worst float64
	for _, x := range ms {
		sum += x.SkillSpread
		worst = max(worst, x.SkillSpread)
	}
	b.ReportMetric(float64(len(ms)), "matches")
	b.ReportMetric(float64(len(rest)), "left")
	if len(ms) > 0 {
		b.ReportMetric(sum/float64(len(ms)), "mean_spread")
	}
	b.ReportMetric(worst, "max_spread")
}

func BenchmarkMatchDuel100k(b *testing.B) { benchMatch(b, duel(), 0) }

// BenchmarkMatchDuelScaling is one matcher pass over a duel queue of 10k,
// 100k and 1M waiting tickets: how a pass grows with the queue
// (bench/'s scaling table reads its ns/op).
func BenchmarkMatchDuelScaling(b *testing.B) {
	const now = 1_000_000
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			q := duel()
			in := population(n, q, now, 0)
			var m mm.Matcher
			m.Match(in, now, q) // warm the scratch
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				m.Match(in, now, q)
			}
		})
	}
}

func BenchmarkMatchSquad100k(b *testing.B) { benchMatch(b, squad(), 0.3) }

func BenchmarkMatchSquadRelax100k(b *testing.B) {
	q := squad()
	q.RegionRelaxAfterMs = 30_000
	benchMatch(b, q, 0.3)
}
