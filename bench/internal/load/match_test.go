package load

import (
	"context"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/lobbyd/lobbyd/bench/internal/client"
)

// The population is fixed by its seed and has the asked-for moments.
func TestSkills(t *testing.T) {
	a, b := Skills(20000, 1, 1500, 300), Skills(20000, 1, 1500, 300)
	if !slices.Equal(a, b) {
		t.Fatal("same seed, different populations")
	}
	if c := Skills(20000, 2, 1500, 300); slices.Equal(a, c) {
		t.Fatal("different seeds, same population")
	}
	var sum, sq float64
	for _, s := range a {
		sum += s
	}
	mean := sum / float64(len(a))
	for _, s := range a {
		sq += (s - mean) * (s - mean)
	}
	sd := math.Sqrt(sq / float64(len(a)-1))
	// Standard error of the mean: 300/√20000 ≈ 2.1; of the sd ≈ 1.5.
	if math.Abs(mean-1500) > 10 || math.Abs(sd-300) > 10 {
		t.Fatalf("mean %.1f sd %.1f, want about 1500 and 300", mean, sd)
	}
}

func TestSpreads(t *testing.T) {
	var s spreads
	if n, mean, mx := s.read(); n != 0 || mean != 0 || mx != 0 {
		t.Fatalf("empty: %d %g %g", n, mean, mx)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				s.record(float64(g*1000 + i)) // 0 … 3999
			}
		}()
	}
	wg.Wait()
	n, mean, mx := s.read()
	if n != 4000 || math.Abs(mean-1999.5) > 1e-6 || mx != 3999 {
		t.Fatalf("got n %d mean %g max %g; want 4000, 1999.5, 3999", n, mean, mx)
	}
	s.reset()
	if n, _, _ := s.read(); n != 0 {
		t.Fatalf("reset left %d", n)
	}
}

// A match is counted once, by the first listed player; a match with a
// stranger is left out of the spread.
func TestHandleMatched(t *testing.T) {
	w := &mmRun{skills: map[string]float64{"a": 1400, "b": 1550}, free: make(chan *mmPlayer, 2)}
	p := &mmPlayer{skill: 1400}
	p.state.Store(mmQueued)
	f := &client.MMFrame{Kind: client.MMMatched, Users: [][]byte{[]byte("a"), []byte("b")}, Teams: 2}
	w.handleSpread(f, "a")
	w.handleSpread(f, "b") // the second player of the same match: not counted again
	if n, mean, mx := w.total.read(); n != 1 || mean != 150 || mx != 150 {
		t.Fatalf("spread: n %d mean %g max %g; want one match of 150", n, mean, mx)
	}
	f.Users = [][]byte{[]byte("a"), []byte("stranger")}
	w.handleSpread(f, "a")
	if n, _, _ := w.total.read(); n != 1 || w.foreign.Load() != 1 {
		t.Fatalf("foreign match: counted %d, foreign %d", n, w.foreign.Load())
	}
}

func TestMatchNeedsMatchmaking(t *testing.T) {
	tg := &Target{Name: "gorilla", Dialer: &client.SocketIODialer{Addr: "127.0.0.1:1"}}
	_, err := Match(context.Background(), tg, MatchConfig{Players: 2})
	if err == nil || !strings.Contains(err.Error(), "no matchmaking") {
		t.Fatalf("Match on a server without matchmaking: %v", err)
	}
}
