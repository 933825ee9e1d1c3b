package matchmaking_test

import (
	"testing"
	"time"

	mm "github.com/lobbyd/lobbyd/matchmaking"
)

func TestPhaseMin(t *testing.T) {
	for _, q := range []mm.QueueConfig{duel(), squad()} {
		in := population(100_000, q, 1_000_000, 0.3)
		var m mm.Matcher
		best := time.Hour
		for range 15 {
			t0 := time.Now()
			m.Match(in, 1_000_000, q)
			best = min(best, time.Since(t0))
		}
		t.Logf("%s min %v", q.Name, best)
	}
}
