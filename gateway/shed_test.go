package gateway

import (
	"fmt"
	"strings"
	"testing"

	"github.com/lobbyd/lobbyd/budget"
	"github.com/lobbyd/lobbyd/netcode"
	"github.com/lobbyd/lobbyd/protocol"
)

// owingWriter is a connection that owes its peer a set number of bytes,
// charged to the budget as a write queue would be.
type owingWriter struct {
	copyWriter
	bud    *budget.Budget
	owed   int
	closed uint16
}

func (w *owingWriter) Queued() int { return w.owed }
func (w *owingWriter) CloseDiscard(code uint16, _ string) {
	w.bud.Release(w.owed)
	w.owed, w.closed = 0, code
}

func budgetGateway(t *testing.T, limit int64) *Gateway {
	g, _ := testGateway(t, 1024, 1<<20)
	g.budget = budget.New(limit)
	g.hub.pool.budget = g.budget
	return g
}

// TestShedReplayOldestFirst: over 7/8 of the budget, replay is dropped in
// publication order across every session, down to 3/4, before any
// connection is touched; the newest replay stays.
func TestShedReplayOldestFirst(t *testing.T) {
	g := budgetGateway(t, budget.MinLimit)
	users := []string{"a", "b", "c"}
	ws := map[string]*owingWriter{}
	for _, u := range users {
		ws[u] = &owingWriter{bud: g.budget}
		attachFake(g, u, ws[u])
	}
	big := strings.Repeat("x", 3000) // a 4 KiB-class event
	var published int
	for g.budget.Peak() <= g.budget.High() {
		// Every user gets every event, but the sessions' rings are filled
		// in turns, so "oldest" is shard-wide, not per ring.
		g.hub.fanOut(users[published%2:], g.encodeEvent(protocol.EvChat, protocol.ChatEv{Text: big + fmt.Sprint(published)}))
		published++
	}
	if used := g.budget.Used(); used > g.budget.High() {
		t.Fatalf("used %d after publishing: over High %d", used, g.budget.High())
	}
	// What is left is the newest replay: every remaining stamp is above
	// every dropped one, in every ring.
	var minLeft uint64 = 1<<64 - 1
	for _, u := range users {
		s := g.hub.lookup(u)
		s.mu.Lock()
		if s.ring.n > 0 {
			minLeft = min(minLeft, s.ring.oldestStamp())
		}
		s.mu.Unlock()
	}
	kept := g.hub.pool.clock.Load() - minLeft + 1
	if kept == 0 || kept >= uint64(published) {
		t.Fatalf("kept %d of %d events", kept, published)
	}
	for _, u := range users {
		s := g.hub.lookup(u)
		s.mu.Lock()
		s.ring.each(0, func(seq uint64, ev *eventBuf) {
			if ev.stamp < minLeft {
				t.Errorf("%s kept event %d, older than the oldest kept elsewhere (%d)", u, ev.stamp, minLeft)
			}
		})
		s.mu.Unlock()
		if ws[u].closed != 0 {
			t.Fatalf("%s closed (%d) while replay could be shed", u, ws[u].closed)
		}
	}
}

// TestShedSlowestConsumersNext: with no replay left to drop, the
// connections owed the most are closed with 1008, largest first, and no
// more of them than it takes to get back to 3/4 of the budget.
func TestShedSlowestConsumersNext(t *testing.T) {
	const limit = 16 << 20
	g := budgetGateway(t, limit)
	owed := map[string]int{"a": 1 << 20, "b": 6 << 20, "c": 2 << 20, "d": 5 << 20}
	ws := map[string]*owingWriter{}
	for u, n := range owed {
		ws[u] = &owingWriter{bud: g.budget, owed: n}
		g.budget.Charge(n)
		attachFake(g, u, ws[u])
	}
	// 14 MiB owed: over High (14 MiB)? Add one more byte's worth.
	g.budget.Charge(1)
	defer g.budget.Release(1)
	g.shed()
	// Closing b (6 MiB) brings 14 MiB to 8 MiB, under Low (12 MiB).
	for u, w := range ws {
		want := uint16(0)
		if u == "b" {
			want = netcode.ClosePolicyViolation
		}
		if w.closed != want {
			t.Errorf("%s (owed %d): closed %d, want %d", u, owed[u], w.closed, want)
		}
	}
	if g.budget.Used() > g.budget.Low() {
		t.Fatalf("used %d over Low %d", g.budget.Used(), g.budget.Low())
	}
}
