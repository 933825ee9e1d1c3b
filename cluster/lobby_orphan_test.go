package cluster

import (
	"testing"

	"github.com/lobbyd/lobbyd/lobby/lobbytest"
	"github.com/lobbyd/lobbyd/protocol"
)

// The chores of a dead shard c, done from shard a: DisconnectIfOn and
// LeaveIfOn act on the members still recorded on c (the host leaves, the
// host migrates, every member is told) and leave alone a member who came
// back on shard b meanwhile (SetConnected there moved it).
func TestShardsLeaveIfOnDeadShard(t *testing.T) {
	st, sinks := sharedShards(t, 3)
	ctx := t.Context()
	a, b, c := st[0], st[1], st[2]
	v := mustCreate(t, c, "host", 4) // host and back joined on c, which dies
	mustJoin(t, c, "back", v.ID)
	mustJoin(t, a, "stays", v.ID)
	c.Stop()
	if err := b.SetConnected(ctx, "back", true); err != nil { // back resumed on b
		t.Fatal(err)
	}
	for _, u := range []string{"host", "back"} {
		if err := a.DisconnectIfOn(ctx, u, "c"); err != nil {
			t.Fatal(err)
		}
	}
	got, err := a.Get(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range got.Members {
		if m.Connected != (m.UserID != "host") {
			t.Fatalf("after DisconnectIfOn: %+v", got.Members)
		}
	}
	for _, u := range []string{"host", "back"} {
		if err := a.LeaveIfOn(ctx, u, "c", protocol.ReasonDisconnected); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.LeaveIfOn(ctx, "nobody", "c", protocol.ReasonDisconnected); err != nil {
		t.Fatalf("a user in no lobby: %v", err)
	}
	got, _ = a.Get(ctx, v.ID)
	if len(got.Members) != 2 || got.Host == "host" || got.Host == "" {
		t.Fatalf("after LeaveIfOn: host %q, members %+v", got.Host, got.Members)
	}
	// Both live shards' members heard it, in one order.
	for i, want := range map[int]string{0: "stays", 1: "back"} {
		sinks[i].waitFor(t, "member_left host", func(r []lobbytest.Rec) bool {
			for _, e := range r {
				if e.Name == protocol.EvMemberLeft && e.UserID == "host" && e.Reason == protocol.ReasonDisconnected && e.To[0] == want {
					return true
				}
			}
			return false
		})
	}
}
