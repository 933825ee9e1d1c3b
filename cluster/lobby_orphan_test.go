package cluster

import (
	"context"
	"testing"
	"time"

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

// An orphan whose leave fails (Redis refuses the lobby's commit: a loaded
// or restarting store) after its session was ended stays claimed, and the
// next claim removes the member. It used to be forgotten, the member
// left in its lobby for good (TestBinaryClusterDrainAcrossShards: "gone
// leaves after the grace").
func TestEndOrphanRetriesAFailedLeave(t *testing.T) {
	rdb, prefix, hook := lostReplyClient(t)
	ctx := t.Context()
	ks := NewKeyspace(prefix)
	a := newTestStore(t, rdb, prefix, "a", newNotifySink(), LobbyOptions{})
	b := newTestStore(t, rdb, prefix, "b", newNotifySink(), LobbyOptions{})
	sa := NewSessions(rdb, ks, "a", 100*time.Millisecond)
	sb := NewSessions(rdb, ks, "b", 100*time.Millisecond)
	v := mustCreate(t, b, "stays", 4)
	if _, _, err := sa.Claim(ctx, "gone", "s-gone", "t-gone"); err != nil {
		t.Fatal(err)
	}
	mustJoin(t, a, "gone", v.ID)
	if os, err := sb.Orphan(ctx, "a"); err != nil || len(os) != 1 { // a stopped
		t.Fatalf("Orphan = %+v, %v", os, err)
	}
	var due []Orphaned
	waitFor(t, 5*time.Second, "the orphan due", func() bool {
		d, err := sb.DueOrphans(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		due = append(due, d...)
		return len(due) == 1
	})
	leave := func(ctx context.Context) error { return b.LeaveIfOn(ctx, "gone", "a", protocol.ReasonDisconnected) }
	hook.armDrop(1000, isScript(commitScript))
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	ended, err := sb.EndOrphan(cctx, due[0], leave)
	cancel()
	if err == nil || ended {
		t.Fatalf("EndOrphan with the lobby's commits refused: %v, %v; want an error", ended, err)
	}
	if _, err := rdb.ZScore(ctx, ks.orphans(), encodeOrphan(due[0])).Result(); err != nil {
		t.Fatalf("the orphan was forgotten after its leave failed: %v", err)
	}
	hook.armDrop(0, nil)
	if ended, err := sb.EndOrphan(ctx, due[0], leave); !ended || err != nil {
		t.Fatalf("EndOrphan claimed again: %v, %v", ended, err)
	}
	if got, err := b.Get(ctx, v.ID); err != nil || len(got.Members) != 1 {
		t.Fatalf("after the second claim: %+v, %v; want stays alone", got.Members, err)
	}
	if n, _ := rdb.ZCard(ctx, ks.orphans()).Result(); n != 0 {
		t.Fatalf("%d orphans left", n)
	}
}

// A session whose grace ran out on its shard was ended there (Expire), and
// its leave did not get through: OrphanEnded hands the leave to the
// orphans' chores, which remove the member though no session is left. A
// member who came back on another shard meanwhile is left alone.
func TestOrphanEndedLeavesTheLobby(t *testing.T) {
	st, _ := sharedShards(t, 2)
	a, b := st[0], st[1]
	ctx := t.Context()
	rdb, ks := a.rdb, a.ks
	sa := NewSessions(rdb, ks, "a", time.Second)
	sb := NewSessions(rdb, ks, "b", time.Second)
	v := mustCreate(t, b, "stays", 4)
	mustJoin(t, a, "expired", v.ID)
	mustJoin(t, a, "back", v.ID)
	if err := b.SetConnected(ctx, "back", true); err != nil { // back logged in on b
		t.Fatal(err)
	}
	for _, u := range []string{"expired", "back"} {
		if err := sa.OrphanEnded(ctx, u, "s-"+u); err != nil {
			t.Fatal(err)
		}
	}
	due, err := sb.DueOrphans(ctx, 10)
	if err != nil || len(due) != 2 {
		t.Fatalf("DueOrphans = %+v, %v; want both, at once", due, err)
	}
	for _, o := range due {
		ended, err := sb.EndOrphan(ctx, o, func(ctx context.Context) error {
			return b.LeaveIfOn(ctx, o.UserID, o.Shard, protocol.ReasonDisconnected)
		})
		if !ended || err != nil {
			t.Fatalf("EndOrphan(%s) = %v, %v", o.UserID, ended, err)
		}
	}
	got, err := b.Get(ctx, v.ID)
	if err != nil || len(got.Members) != 2 || got.Members[0].UserID != "stays" || got.Members[1].UserID != "back" {
		t.Fatalf("after the chores: %+v, %v; want stays and back", got.Members, err)
	}
}
