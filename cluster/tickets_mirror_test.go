package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/lobbyd/lobbyd/internal/redistest"
	"github.com/lobbyd/lobbyd/matchmaking"
)

// The mirror against the memory store as the model: random adds (clock
// steps back included), removes, claims and put-backs; one shard passes
// after every step, another only now and then (a delta of ~600 changes,
// then one beyond maxMirrorDelta: a reload), and the change log is cut
// once under both mirrors (a reload too). Every Waiting must equal the
// model's.
func TestTicketStoreMirrorMatchesModel(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ks := NewKeyspace(prefix)
	every := NewTicketStore(rdb, ks, TicketOptions{})
	seldom := NewTicketStore(rdb, ks, TicketOptions{})
	model := matchmaking.NewMemoryStore()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(step int, s *TicketStore) {
		t.Helper()
		got, err := s.Waiting(ctx, "duel", nil)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := model.Waiting(ctx, "duel", nil)
		if !slices.EqualFunc(got, want, func(a, b matchmaking.Ticket) bool {
			return a.ID == b.ID && a.CreatedAt == b.CreatedAt && slices.Equal(a.Members, b.Members)
		}) {
			t.Fatalf("step %d: mirror %v, model %v", step, ids(got), ids(want))
		}
	}
	var live []matchmaking.Ticket
	var gone []matchmaking.Ticket
	n := 0
	for step := range 3000 {
		switch r := rng.IntN(10); {
		case r < 5 || len(live) == 0:
			n++
			at := int64(step) - int64(rng.IntN(3))*int64(rng.IntN(50)) // now and then an older CreatedAt
			tk := ticket(fmt.Sprint("t", n), "duel", at, fmt.Sprint("u", n))
			mustBoth(t, every.Add(ctx, tk), model.Add(ctx, tk))
			live = append(live, tk)
		case r < 7:
			i := rng.IntN(len(live))
			_, e1 := every.Remove(ctx, live[i].ID)
			_, e2 := model.Remove(ctx, live[i].ID)
			mustBoth(t, e1, e2)
			gone = append(gone, live[i])
			live = slices.Delete(live, i, i+1)
		case r < 9 && len(live) >= 2:
			i, j := rng.IntN(len(live)), rng.IntN(len(live))
			if i == j {
				continue
			}
			pair := []string{live[i].ID, live[j].ID}
			ok1, _ := every.Claim(ctx, pair)
			ok2, _ := model.Claim(ctx, pair)
			if !ok1 || !ok2 {
				t.Fatalf("step %d: Claim %v %v", step, ok1, ok2)
			}
			gone = append(gone, live[i], live[j])
			live = slices.DeleteFunc(live, func(x matchmaking.Ticket) bool { return slices.Contains(pair, x.ID) })
		case len(gone) > 0: // a match whose lobby failed: its ticket goes back with its place
			g := gone[len(gone)-1]
			gone = gone[:len(gone)-1]
			mustBoth(t, every.Add(ctx, g), model.Add(ctx, g))
			live = append(live, g)
		}
		check(step, every)
		switch step {
		case 0, 500, 2900, 2999: // 500 → 2900: ~2,900 changes, past maxMirrorDelta
			check(step, seldom)
		case 2950:
			rdb.XTrimMaxLen(ctx, ks.queueLog("duel"), 0) // the log cut under both mirrors
		}
	}
}

func mustBoth(t *testing.T, a, b error) {
	t.Helper()
	if a != nil || b != nil {
		t.Fatalf("store: %v; model: %v", a, b)
	}
}

func ids(ts []matchmaking.Ticket) []string {
	out := make([]string, len(ts))
	for i := range ts {
		out[i] = ts[i].ID
	}
	return out
}
