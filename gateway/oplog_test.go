package gateway

import (
	"testing"
	"time"
)

// The sampler lets one line through per interval and reports how many it
// held back in between.
func TestSamplerHoldsBackAndCounts(t *testing.T) {
	s := sampler{every: time.Second}
	t0 := time.Unix(1000, 0)
	if ok, held := s.allow(t0); !ok || held != 0 {
		t.Fatalf("first: %v %d", ok, held)
	}
	for i := 0; i < 5; i++ {
		if ok, _ := s.allow(t0.Add(time.Duration(i) * 100 * time.Millisecond)); ok {
			t.Fatalf("line %d within the interval let through", i)
		}
	}
	if ok, held := s.allow(t0.Add(time.Second)); !ok || held != 5 {
		t.Fatalf("after the interval: %v %d, want true 5", ok, held)
	}
	if ok, held := s.allow(t0.Add(3 * time.Second)); !ok || held != 0 {
		t.Fatalf("quiet interval: %v %d", ok, held)
	}
}
