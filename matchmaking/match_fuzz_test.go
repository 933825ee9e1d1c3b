package matchmaking_test

import (
	"encoding/binary"
	"math"
	"strconv"
	"testing"

	mm "github.com/lobbyd/lobbyd/matchmaking"
)

// fuzzCase decodes fuzz bytes into a queue, a time and tickets. Small
// ranges (skills -448..444.5, 3 regions, waits up to ~25 s) make collisions,
// parties that do not fit and region mixes common.
func fuzzCase(data []byte) (mm.QueueConfig, int64, []mm.Ticket) {
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return b
	}
	q := mm.QueueConfig{
		Name:        "fz",
		TeamSize:    1 + int(next()%4),
		Teams:       1 + int(next()%4),
		SkillWindow: mm.SkillWindow{Initial: float64(next() % 64), GrowthPerSec: float64(next() % 16)},
	}
	q.SkillWindow.Max = q.SkillWindow.Initial + float64(next())*3
	q.MaxParty = 1 + int(next())%q.TeamSize
	switch next() % 3 {
	case 0:
		q.Region = mm.RegionAny
	case 1:
		q.Region = mm.RegionStrict
	default:
		q.Region = mm.RegionStrict
		q.RegionRelaxAfterMs = 1 + int64(next())*50
	}
	if q.Players() < 2 {
		q.Teams = 2
	}
	q.ApplyDefaults()
	now := int64(next()) * 100
	var ts []mm.Ticket
	for i := 0; len(data) >= 4 && i < 512; i++ {
		b := [4]byte{next(), next(), next(), next()}
		size := 1 + int(b[0]%5) // sometimes over MaxParty/TeamSize: must stay in rest
		if b[0] == 255 {
			size = 0
		}
		skill := float64(int8(b[1])) * 3.5 // negative and fractional skills too
		if b[1] == 255 && b[0]&1 == 1 {
			skill = math.NaN()
		}
		t := mm.Ticket{ID: "t" + strconv.Itoa(i), Skill: skill,
			Region: []string{"", "eu", "us"}[b[2]%3], CreatedAt: int64(b[3]) * 100}
		for j := 0; j < size; j++ {
			t.Members = append(t.Members, t.ID+"-"+strconv.Itoa(j))
		}
		ts = append(ts, t)
	}
	return q, now, ts
}

func FuzzMatchInvariants(f *testing.F) {
	f.Add([]byte{0, 1, 100, 20, 200, 0, 1, 10, 0, 10, 1, 0, 0, 20, 1, 0})
	f.Add([]byte{1, 1, 10, 5, 50, 1, 2, 200, 1, 100, 1, 5, 0, 120, 1, 9, 1, 130, 2, 3, 0, 125, 0, 1})
	seed := make([]byte, 4096)
	for i := range seed {
		seed[i] = byte(i*7919>>3 ^ i)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		q, now, in := fuzzCase(data)
		if err := q.Validate(); err != nil {
			t.Fatalf("fuzzCase made an invalid queue: %v", err)
		}
		var m mm.Matcher
		for range 2 { // a reused Matcher must give the same answer
			ms := m.Match(in, now, q)
			rest := mm.Rest(in, ms)
			checkInvariants(t, in, ms, rest, now, q)
			if q.TeamSize == 1 && q.Teams == 2 && q.RegionRelaxAfterMs == 0 {
				checkDuelMaximal(t, rest, now, q)
			}
		}
	})
}

// checkDuelMaximal: in a 1 v 1 queue without relaxing, no two waiting
// players that may share a match are left over: the matcher misses nothing.
func checkDuelMaximal(t *testing.T, rest []mm.Ticket, now int64, q mm.QueueConfig) {
	t.Helper()
	for i := range rest {
		a := &rest[i]
		if len(a.Members) != 1 || math.IsNaN(a.Skill) {
			continue
		}
		for j := i + 1; j < len(rest); j++ {
			b := &rest[j]
			if len(b.Members) != 1 || math.IsNaN(b.Skill) || q.Region == mm.RegionStrict && a.Region != b.Region {
				continue
			}
			oldest := min(a.CreatedAt, b.CreatedAt)
			if math.Abs(a.Skill-b.Skill) <= q.Window(now-oldest) {
				t.Fatalf("%s (%v) and %s (%v) left waiting though within window %v",
					a.ID, a.Skill, b.ID, b.Skill, q.Window(now-oldest))
			}
		}
	}
}

// TestFuzzCorpusShapes runs the invariant check over many generated cases
// in ordinary `go test`, so CI covers it without -fuzz.
func TestFuzzCorpusShapes(t *testing.T) {
	buf := make([]byte, 2048)
	var x uint64 = 0x9e3779b97f4a7c15
	for c := 0; c < 300; c++ {
		for i := 0; i < len(buf); i += 8 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			binary.LittleEndian.PutUint64(buf[i:], x)
		}
		q, now, in := fuzzCase(buf[:64+c*6])
		if err := q.Validate(); err != nil {
			t.Fatalf("fuzzCase made an invalid queue: %v", err)
		}
		ms, rest := mm.FindMatches(in, now, q)
		checkInvariants(t, in, ms, rest, now, q)
		if q.TeamSize == 1 && q.Teams == 2 && q.RegionRelaxAfterMs == 0 {
			checkDuelMaximal(t, rest, now, q)
		}
	}
}
