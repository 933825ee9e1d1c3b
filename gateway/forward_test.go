package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/lobbyd/lobbyd/cluster"
	"github.com/lobbyd/lobbyd/internal/redistest"
)

// eventCatcher is a cluster.ControlHandler that only records delivered
// events: their recipients, and the events themselves on bodies if set.
type eventCatcher struct {
	events chan []string
	bodies chan string
}

func (c eventCatcher) CloseSession(string, string)            {}
func (c eventCatcher) HandOver(string, string) ([]byte, bool) { return nil, false }
func (c eventCatcher) Drain()                                 {}
func (c eventCatcher) DeliverEvent(users []string, event []byte) {
	if c.bodies != nil {
		c.bodies <- string(event)
	}
	c.events <- users
}

// forwardingShard is a gateway as shard "a" of a cluster on the test
// Redis, with users (user → shard) claimed in the directory.
func forwardingShard(t *testing.T, users map[string]string) (*Gateway, func(shard string, c eventCatcher)) {
	t.Helper()
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
	for u, shard := range users {
		if _, _, err := cluster.NewSessions(rdb, ks, shard, time.Minute).Claim(ctx, u, "s-"+u, "t-"+u); err != nil {
			t.Fatal(err)
		}
	}
	listen := func(shard string, c eventCatcher) {
		b := cluster.NewBus(rdb, ks, shard, c, cluster.BusOptions{Logger: g.log})
		if err := b.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
	}
	return g, listen
}

// TestForwardReachesAShardThatComesBack: a matchmaking event for a player
// on another shard that cannot take it at once (here its control channel
// has no subscriber, as when a shard re-subscribes after a Redis pause)
// still reaches it once, when it is back within cluster.DeliverRetryFor.
// forwardRemote does not wait for it: its caller is the matcher, and a
// shard that stopped listening held every match of the queue for 2 s per
// event.
func TestForwardReachesAShardThatComesBack(t *testing.T) {
	g, listen := forwardingShard(t, map[string]string{"q9": "b"})
	start := time.Now()
	g.forwardRemote([]string{"q9"}, []byte("mm.matched"))
	if took := time.Since(start); took >= clusterOpTimeout {
		t.Fatalf("forwardRemote waited %v for a shard nobody listens on", took)
	}
	catcher := eventCatcher{events: make(chan []string, 4)}
	listen("b", catcher)
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
	waitForwardsDone(t, g)
}

// A recipient's events arrive in the order they were made, also when the
// first waits in the background for its shard and the next ones find it
// listening.
func TestForwardKeepsARecipientsOrder(t *testing.T) {
	g, listen := forwardingShard(t, map[string]string{"q1": "b"})
	g.forwardRemote([]string{"q1"}, []byte("first"))
	catcher := eventCatcher{events: make(chan []string, 8), bodies: make(chan string, 8)}
	listen("b", catcher)
	for _, ev := range []string{"second", "third"} {
		g.forwardRemote([]string{"q1"}, []byte(ev))
	}
	for _, want := range []string{"first", "second", "third"} {
		select {
		case got := <-catcher.bodies:
			if got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		case <-time.After(cluster.DeliverRetryFor):
			t.Fatalf("%q never arrived", want)
		}
	}
	waitForwardsDone(t, g)
}

// A shard that does not listen holds up nobody else: a recipient on a
// listening shard gets the same event at once, while the other's is
// retried in the background.
func TestForwardDoesNotWaitForAnotherShard(t *testing.T) {
	g, listen := forwardingShard(t, map[string]string{"on-b": "b", "on-c": "c"})
	catcher := eventCatcher{events: make(chan []string, 4)}
	listen("b", catcher)
	g.forwardRemote([]string{"on-b", "on-c"}, []byte("mm.matched"))
	if n := g.forwardsLate.Load(); n != 1 {
		t.Fatalf("%d events retried in the background, want 1 (on-c's)", n)
	}
	select {
	case users := <-catcher.events:
		if len(users) != 1 || users[0] != "on-b" {
			t.Fatalf("b got the event for %v", users)
		}
	case <-time.After(clusterOpTimeout):
		t.Fatal("on-b's event waited for c")
	}
	g.cancel() // c never listens: end its retries rather than wait out their 10 s
	waitForwardsDone(t, g)
}

// waitForwardsDone waits for the background forwards to end.
func waitForwardsDone(t *testing.T, g *Gateway) {
	t.Helper()
	deadline := time.Now().Add(cluster.DeliverRetryFor)
	for g.forwardsLate.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d forwards still running", g.forwardsLate.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
