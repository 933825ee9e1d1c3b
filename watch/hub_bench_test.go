package watch

import (
	"fmt"
	"testing"
	"time"

	"github.com/lobbyd/lobbyd/lobby"
)

// BenchmarkRoundFanOut: one round in which one lobby changed, with 1000
// watchers that were sent it, in 10 groups of filters (5 match it, 5 do
// not): 500 watchers are told.
func BenchmarkRoundFanOut(b *testing.B) {
	st := newStore()
	h := New(st, Options{Coalesce: time.Hour, MaxQueued: 1 << 40, MaxWatchers: 2000})
	defer h.Close()
	id := create(&testing.T{}, st, "host")
	for i := range 1000 {
		q := lobby.ListQuery{}
		if g := i % 10; g >= 5 {
			q.Mode = fmt.Sprint("other", g)
		} else {
			q.Attrs = map[string]string{}
			q.HasSpace = g%2 == 0
			q.State = []string{"", "open"}[g%2]
			q.Region = ""
			q.Mode = ""
			if g > 2 {
				q.Limit = g
			}
		}
		if _, err := h.Add(q); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		h.pendMu.Lock()
		h.pending[id] = struct{}{}
		h.pendMu.Unlock()
		h.round()
	}
}
