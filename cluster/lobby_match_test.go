package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/matchmaking"
	"github.com/lobbyd/lobbyd/protocol"
)

func matchOf(id string, users ...string) lobby.MatchParams {
	p := lobby.MatchParams{MatchID: id}
	for _, u := range users {
		p.Members = append(p.Members, act(u))
	}
	return p
}

// A match lobby's commit ran in Redis, and its reply was lost (Redis died
// after running it). CreateMatch used to return the EOF, and the matcher
// put the tickets back in the queue while their players sat in the lobby:
// matched a second time (TestRedisRestartedWithData). Now the store
// settles it: the lobby exists, so the match is made.
func TestCreateMatchCommitReplyLost(t *testing.T) {
	rdb, prefix, hook := lostReplyClient(t)
	s := newTestStore(t, rdb, prefix, "a", newNotifySink(), LobbyOptions{})
	ctx := t.Context()
	hook.arm(1, isScript(commitScript))
	v, err := s.CreateMatch(ctx, matchOf("m1", "x", "y"))
	if hook.lostCount() != 1 {
		t.Fatalf("the hook lost %d commit replies", hook.lostCount())
	}
	if err != nil {
		t.Fatalf("CreateMatch, its commit run and the reply lost: %v (the lobby was made)", err)
	}
	for _, u := range []string{"x", "y"} {
		lv, ok, err := s.LobbyOf(ctx, u)
		if err != nil || !ok || lv.ID != v.ID {
			t.Fatalf("%s: in %v (ok %v, err %v), want the match lobby %s", u, lv.ID, ok, err, v.ID)
		}
	}
}

// The commit never reached Redis (the connection broke first), which the
// store cannot tell from a lost reply: it settles that no lobby was made,
// and its tombstone keeps the commit from making one should it still
// arrive. The players are in no lobby and can be matched again.
func TestCreateMatchCommitNotSent(t *testing.T) {
	rdb, prefix, hook := lostReplyClient(t)
	s := newTestStore(t, rdb, prefix, "a", newNotifySink(), LobbyOptions{})
	ctx := t.Context()
	hook.armDrop(1, isScript(commitScript))
	_, err := s.CreateMatch(ctx, matchOf("m1", "x", "y"))
	if err == nil || errors.Is(err, matchmaking.ErrMatchUnknown) {
		t.Fatalf("CreateMatch, its commit not sent: %v; want an error saying no lobby was made", err)
	}
	for _, u := range []string{"x", "y"} {
		if lv, ok, err := s.LobbyOf(ctx, u); err != nil || ok {
			t.Fatalf("%s: in lobby %s (err %v), want none", u, lv.ID, err)
		}
	}
	// The commit arriving late finds the tombstone and does nothing.
	id, err := rdb.Get(ctx, s.ks.userLobby("x")).Result()
	if err != nil {
		t.Fatal(err)
	}
	p, err := lobby.CheckMatch(matchOf("m1", "x", "y"))
	if err != nil {
		t.Fatal(err)
	}
	d := lobby.NewMatchDoc(id, s.nowMS(), p, []string{"a", "a"})
	if ok, err := s.commit(ctx, d, 0, true, &collector{doc: d}, false); ok || err != nil {
		t.Fatalf("the lost commit, run late: ok %v, err %v; want refused (version moved)", ok, err)
	}
	if _, ok, _ := s.LobbyOf(ctx, "x"); ok {
		t.Fatal("the late commit made the lobby")
	}
	v, err := s.CreateMatch(ctx, matchOf("m2", "x", "y"))
	if err != nil {
		t.Fatalf("the next match of the same players: %v", err)
	}
	if lv, ok, _ := s.LobbyOf(ctx, "y"); !ok || lv.ID != v.ID {
		t.Fatalf("y not in the next match's lobby")
	}
}

// When Redis cannot answer whether the lobby was made (down for longer
// than the store tries), the error says so: matchmaking.ErrMatchUnknown,
// on which the matcher does not requeue the tickets.
func TestCreateMatchUnknown(t *testing.T) {
	rdb, prefix, hook := lostReplyClient(t)
	s := newTestStore(t, rdb, prefix, "a", newNotifySink(), LobbyOptions{})
	commit, settle := isScript(commitScript), isScript(settleCreateScript)
	hook.armDrop(1000, func(cmd redis.Cmder) bool { return commit(cmd) || settle(cmd) })
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	_, err := s.CreateMatch(ctx, matchOf("m1", "x", "y"))
	if !errors.Is(err, matchmaking.ErrMatchUnknown) {
		t.Fatalf("CreateMatch with Redis gone after the commit: %v; want ErrMatchUnknown", err)
	}
	if hook.lostCount() < 2 {
		t.Fatalf("the settle was never tried (%d commands dropped)", hook.lostCount())
	}
}

// A player's own lobby.create whose commit reply was lost is settled as a
// match lobby's is: made, it is answered ok and joinable by its code; not
// made (the commit never reached Redis), it is answered unavailable, the
// player is in no lobby and the code is let go.
func TestCreateCommitReplyLost(t *testing.T) {
	rdb, prefix, hook := lostReplyClient(t)
	s := newTestStore(t, rdb, prefix, "a", newNotifySink(), LobbyOptions{})
	ctx := t.Context()
	create := protocol.CreateLobby{Name: "l", MaxPlayers: 4, Visibility: protocol.VisibilityPrivate}
	hook.arm(1, isScript(commitScript))
	v, err := s.Create(ctx, lobby.Actor{UserID: "h1", Name: "h1"}, create)
	if err != nil || hook.lostCount() != 1 {
		t.Fatalf("Create, its commit run and the reply lost: %v (replies lost %d); the lobby was made", err, hook.lostCount())
	}
	if lv, ok, err := s.LobbyOf(ctx, "h1"); err != nil || !ok || lv.ID != v.ID {
		t.Fatalf("h1 in %v (ok %v, err %v), want %s", lv.ID, ok, err, v.ID)
	}
	if _, err := s.Join(ctx, lobby.Actor{UserID: "g1", Name: "g1"}, protocol.JoinLobby{Code: v.Code}); err != nil {
		t.Fatalf("join by the code %q of a lobby made with its reply lost: %v", v.Code, err)
	}

	hook.reset()
	hook.armDrop(1, isScript(commitScript))
	_, err = s.Create(ctx, lobby.Actor{UserID: "h2", Name: "h2"}, create)
	if !isCode(err, protocol.CodeUnavailable) || hook.lostCount() != 1 {
		t.Fatalf("Create, its commit not sent: %v (dropped %d); want unavailable", err, hook.lostCount())
	}
	if lv, ok, err := s.LobbyOf(ctx, "h2"); err != nil || ok {
		t.Fatalf("h2 in lobby %s (err %v), want none", lv.ID, err)
	}
	if n, err := rdb.Keys(ctx, prefix+"{c:*").Result(); err != nil || len(n) != 1 || n[0] != s.ks.lobbyCode(v.Code) {
		t.Fatalf("code keys %v (%v): want only the first lobby's, %s", n, err, s.ks.lobbyCode(v.Code))
	}
}

// A user lock whose SET lost its reply (it ran: the lock is held under a
// token nobody knows) is let go as soon as Redis answers, so the user's
// next request does not wait for its 5 s TTL and fail contended.
func TestUserLockReplyLost(t *testing.T) {
	rdb, prefix, hook := lostReplyClient(t)
	s := newTestStore(t, rdb, prefix, "a", newNotifySink(), LobbyOptions{})
	ctx := t.Context()
	create := protocol.CreateLobby{Name: "l", MaxPlayers: 4, Visibility: protocol.VisibilityPrivate}
	hook.arm(1, isCommand("set"))
	if _, err := s.Create(ctx, lobby.Actor{UserID: "h1", Name: "h1"}, create); !isCode(err, protocol.CodeUnavailable) || hook.lostCount() != 1 {
		t.Fatalf("Create with its lock's reply lost: %v (replies lost %d); want unavailable", err, hook.lostCount())
	}
	start := time.Now()
	if _, err := s.Create(ctx, lobby.Actor{UserID: "h1", Name: "h1"}, create); err != nil {
		t.Fatalf("Create again %v after: %v; want the lost lock let go", time.Since(start), err)
	}
}
