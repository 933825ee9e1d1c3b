package cluster

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/lobbyd/lobbyd/lobby/lobbytest"
	"github.com/lobbyd/lobbyd/protocol"
)

// TestOwnCommitDroppedByFullReorderBuffer: a shard's own commit whose
// reply finds the lobby's reorder buffer full (a gap that outlived 64
// messages: a read of the log slow behind a loaded Redis) is not held; the
// reply waits for the buffer to drain, and the read that drains it may
// have been made before the commit ran. The commit was answered ok, so its
// events must reach this shard's members before the call returns, not
// whenever a later message of the lobby happens to reveal the gap (never,
// when nothing follows).
func TestOwnCommitDroppedByFullReorderBuffer(t *testing.T) {
	a, _, sinks, v, fl, last := ghostInFullBuffer(t, "b1")
	ctx := t.Context()

	// That read ends while a1's chat waits for the buffer to drain: it
	// was made before the chat ran, so it fills the gap and drains the
	// buffer, but brings nothing of the chat.
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		key := a.ks.lobbyDoc(v.ID)
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if o, _ := a.rdb.HGet(context.WithoutCancel(ctx), key, "o").Uint64(); o == last+2 {
				break
			}
		}
		time.Sleep(10 * time.Millisecond) // the chat's reply is in applyOwn's wait (gapWait)
		fl.mu.Lock()
		a.f.drainPendingLocked(fl)
		fl.mu.Unlock()
	}()
	if err := a.Chat(ctx, "a1", "mine"); err != nil {
		t.Fatal(err)
	}
	<-drained
	// Answered ok: a1 has its chat already (a reply never overtakes the
	// events it caused), and the ghost before it.
	if got := chatsOf(sinks[0].All()); !slices.Equal(got, []string{"b1:ghost", "a1:mine"}) {
		t.Fatalf("shard a delivered chats %v when a1's chat was answered ok, want [b1:ghost a1:mine]", got)
	}
}

// TestDroppedMessageReadAfterInFlightRead: a message of another shard that
// finds the reorder buffer full while the read that will drain it is in
// flight (no gap timer armed) is dropped; that read may have been made
// before the message's commit ran, so once it has drained the buffer the
// follower must read the log again, not wait for a later message of the
// lobby to reveal the hole (never, when nothing follows).
func TestDroppedMessageReadAfterInFlightRead(t *testing.T) {
	a, b, sinks, v, fl, last := ghostInFullBuffer(t, "a1")
	ctx := t.Context()
	// b1's chat reaches shard a meanwhile: dropped.
	if err := b.Chat(ctx, "b1", "theirs"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		fl.mu.Lock()
		dropped := len(fl.pending) == maxPending && fl.last == last
		fl.mu.Unlock()
		if o, _ := a.rdb.HGet(ctx, a.ks.lobbyDoc(v.ID), "o").Uint64(); o == last+2 && dropped {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("b1's chat was not committed")
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // its publication has reached a (and was dropped)
	// The read in flight ends: made before b1's chat, it fills the gap
	// and drains the buffer (fillGap's end).
	fl.mu.Lock()
	a.f.drainPendingLocked(fl)
	fl.mu.Unlock()
	sinks[0].waitFor(t, "b1's chat on shard a", func(recs []lobbytest.Rec) bool {
		return slices.Contains(chatsOf(recs), "b1:theirs")
	})
	if got := chatsOf(sinks[0].All()); !slices.Equal(got, []string{"a1:ghost", "b1:theirs"}) {
		t.Fatalf("shard a delivered chats %v, want [a1:ghost b1:theirs]", got)
	}
}

// ghostInFullBuffer is a lobby of a1 on shard a that b1 joined on shard
// b, with a chat by author committed as if by a (the script does not
// publish to the acting shard), so that a never hears of it and has a gap
// before the lobby's next message, as when a publication was lost with a
// Redis restart; then a's reorder buffer is filled with copies of that
// message (one offset) and no gap timer is armed: the read that will
// drain it is in flight. It returns the shards, their sinks, the lobby,
// a's entry for it and the offset a had before the ghost.
func ghostInFullBuffer(t *testing.T, author string) (a, b *LobbyStore, sinks []*notifySink, v protocol.LobbyView, fl *followed, last uint64) {
	t.Helper()
	st, sinks := sharedShards(t, 2)
	a, b = st[0], st[1]
	v = mustCreate(t, a, "a1", 8)
	mustJoin(t, b, "b1", v.ID)
	sinks[0].waitFor(t, "b1's join on a", func(recs []lobbytest.Rec) bool {
		return slices.ContainsFunc(recs, func(r lobbytest.Rec) bool { return r.Name == protocol.EvMemberJoined })
	})
	if fl = a.f.localLobby("a1"); fl == nil {
		t.Fatal("shard a does not follow a1's lobby")
	}
	fl.mu.Lock()
	d := a.f.docLocked(fl)
	c := &collector{doc: d}
	d.Chat(c, author, "ghost", a.nowMS())
	version, last := fl.version, fl.last
	fl.mu.Unlock()
	lk := a.lobbyKeysOf(v.ID)
	res, err := runGuarded(t.Context(), a.rdb, commitScript, lk.keys,
		version, eventsOnlyArg, "a", a.channelArg, lk.id, noShardsArg, 1, c.encoded[0]).Int64Slice()
	if err != nil || len(res) < 2 || res[0] != 1 || uint64(res[1]) != last+1 {
		t.Fatalf("ghost commit: %v %v (last %d)", res, err, last)
	}
	ghost := message{lobbyID: v.ID, first: last + 1, version: version, events: c.events}
	fl.mu.Lock()
	for range maxPending {
		fl.pending = append(fl.pending, pendingMessage{m: ghost})
	}
	fl.drained = make(chan struct{})
	fl.mu.Unlock()
	return a, b, sinks, v, fl, last
}
