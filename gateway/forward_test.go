package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/lobbyd/lobbyd/cluster"
	"github.com/lobbyd/lobbyd/internal/redistest"
)

// eventCatcher is a cluster.ControlHandler that only records delivered
// events.
type eventCatcher struct{ events chan []string }

func (c eventCatcher) CloseSession(string, string)            {}
func (c eventCatcher) HandOver(string, string) ([]byte, bool) { return nil, false }
func (c eventCatcher) DeliverEvent(users []string, _ []byte)  { c.events <- users }
func (c eventCatcher) Drain()                                 {}

// TestForwardReachesAShardThatComesBack: a matchmaking event for a player
// on another shard that cannot take it within the first attempt (here its
// control channel has no subscriber for longer than clusterOpTimeout, as
// when a shard re-subscribes after a Redis pause) still reaches it once,
// when it is back within cluster.DeliverRetryFor. Before, forwardRemote
// gave up after its 2 s and the player never got its mm.matched
// (TestRedisPausedFiveSeconds: "match lobby … has players [q8]").
func TestForwardReachesAShardThatComesBack(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ks := cluster.NewKeyspace(prefix)
	ctx := context.Background()
	g, _ := testGateway(t, 16, 1<<16)
	g.opts.ShardID = "a"
	g.cl = &clusterGlue{
		sessions: cluster.NewSessions(rdb, ks, "a", time.Minute),
		bus:      cluster.NewBus(rdb, ks, "a", clusterControl{g}, cluster.BusOptions{Logger: g.log}),
	}
	if err := g.cl.bus.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.cl.bus.Close() })
	if _, _, err := cluster.NewSessions(rdb, ks, "b", time.Minute).Claim(ctx, "q9", "s9", "t9"); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	g.forwardRemote([]string{"q9"}, []byte("mm.matched"))
	if took := time.Since(start); took < clusterOpTimeout {
		t.Fatalf("the first attempt ended after %v, with nobody subscribed on b", took)
	}
	catcher := eventCatcher{make(chan []string, 4)}
	b := cluster.NewBus(rdb, ks, "b", catcher, cluster.BusOptions{Logger: g.log})
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	select {
	case users := <-catcher.events:
		if len(users) != 1 || users[0] != "q9" {
			t.Fatalf("delivered to %v", users)
		}
	case <-time.After(cluster.DeliverRetryFor):
		t.Fatal("the event never reached b once it was back")
	}
	select {
	case users := <-catcher.events:
		t.Fatalf("delivered twice (then to %v)", users)
	case <-time.After(500 * time.Millisecond):
	}
	if n := g.forwardsLate.Load(); n != 0 {
		t.Fatalf("%d forwards still running after the delivery", n)
	}
}
