package matchmaking_test

import (
	"strings"
	"testing"

	mm "github.com/lobbyd/lobbyd/matchmaking"
	"github.com/lobbyd/lobbyd/protocol"
)

// UpdateQueues changes windows, region rules and timeouts in place and
// says what changed; a change of a queue's name, shape or number is
// refused whole, naming the queue, and nothing is applied.
func TestUpdateQueuesAppliesWindowsAndRefusesShapes(t *testing.T) {
	svc, err := mm.NewService(nil, mm.NewMemoryStore(), &fakeLobbies{of: map[string]protocol.LobbyView{}}, nopSink{}, mm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	qs := svc.Queues()
	qs[0].SkillWindow.Initial, qs[0].TimeoutMs = 300, 60_000
	changed, err := svc.UpdateQueues(qs)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(changed, "; "); !strings.Contains(got, "queues[duel].skill_window") || !strings.Contains(got, "queues[duel].timeout_ms: 120000 → 60000") || len(changed) != 2 {
		t.Fatalf("changed: %q", got)
	}
	if now := svc.Queues()[0]; now.SkillWindow.Initial != 300 || now.TimeoutMs != 60_000 {
		t.Fatalf("not applied: %+v", now)
	}
	for _, bad := range []func([]mm.QueueConfig) []mm.QueueConfig{
		func(q []mm.QueueConfig) []mm.QueueConfig { q[1].TeamSize = 3; return q },
		func(q []mm.QueueConfig) []mm.QueueConfig { q[0].Name = "solo"; return q },
		func(q []mm.QueueConfig) []mm.QueueConfig { return q[:1] },
		func(q []mm.QueueConfig) []mm.QueueConfig { q[0].SkillWindow.Initial = -1; return q },
	} {
		before := svc.Queues()
		next := bad(svc.Queues())
		next[0].TimeoutMs = 1000 // would change, if anything were applied
		if _, err := svc.UpdateQueues(next); err == nil {
			t.Errorf("%+v accepted", next)
		}
		if after := svc.Queues(); after[0] != before[0] || after[1] != before[1] {
			t.Errorf("a refused update changed the queues: %+v", after)
		}
	}
}
