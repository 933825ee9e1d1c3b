package cluster

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/internal/redistest"
	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/lobby/lobbytest"
	"github.com/lobbyd/lobbyd/protocol"
)

// newTestStore makes a store of shard on client under prefix, stopped
// when the test ends.
func newTestStore(t testing.TB, client redis.UniversalClient, prefix, shard string, sink lobby.Sink, opts LobbyOptions) *LobbyStore {
	t.Helper()
	if opts.PasswordPepper == nil {
		opts.PasswordPepper = []byte("test pepper shared by the shards")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := NewLobbyStore(ctx, client, NewKeyspace(prefix), shard, sink, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}

// TestLobbyStoreConformance runs the lobby conformance suite, unchanged,
// against the Redis store on one Redis node, a key prefix per subtest.
func TestLobbyStoreConformance(t *testing.T) {
	lobbytest.Run(t, func(t *testing.T, sink lobby.Sink) lobby.Store {
		c, prefix := redistest.Client(t)
		return newTestStore(t, c, prefix, "a", sink, LobbyOptions{})
	})
}

// TestLobbyStoreConformanceCompact runs the suite with every document
// the follower takes compacted at once (compactDoc), so that every read
// of it decodes it again.
func TestLobbyStoreConformanceCompact(t *testing.T) {
	lobbytest.Run(t, func(t *testing.T, sink lobby.Sink) lobby.Store {
		c, prefix := redistest.Client(t)
		return newTestStore(t, c, prefix, "a", sink, LobbyOptions{compactAtOnce: true})
	})
}

// TestLobbyStoreConformanceCluster runs the suite on a three-master Redis
// Cluster: every script touches one slot.
func TestLobbyStoreConformanceCluster(t *testing.T) {
	lobbytest.Run(t, func(t *testing.T, sink lobby.Sink) lobby.Store {
		c, prefix := redistest.Cluster(t)
		return newTestStore(t, c, prefix, "a", sink, LobbyOptions{})
	})
}

// notifySink is a lobbytest.Recorder (which checks the Sink contract) that
// also wakes waiters on every delivery.
type notifySink struct {
	*lobbytest.Recorder
	wake chan struct{}
}

func newNotifySink() *notifySink {
	return &notifySink{Recorder: lobbytest.NewRecorder(), wake: make(chan struct{}, 1)}
}

func (n *notifySink) Deliver(ev *lobby.Event) {
	n.Recorder.Deliver(ev)
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// waitFor waits until cond holds over the recorded events (bounded: the
// test fails after 10 s).
func (n *notifySink) waitFor(t *testing.T, what string, cond func([]lobbytest.Rec) bool) []lobbytest.Rec {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if all := n.All(); cond(all) {
			return all
		}
		select {
		case <-n.wake:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; have %d events", what, len(n.All()))
		}
	}
}

func (n *notifySink) checkContract(t *testing.T, shard string) {
	t.Helper()
	for _, p := range n.Problems() {
		t.Errorf("shard %s: sink contract: %s", shard, p)
	}
}

// shards makes n stores (shards "a", "b", ...) on one Redis with one
// prefix, each with its own sink.
func shards(t *testing.T, client redis.UniversalClient, prefix string, n int, opts LobbyOptions) ([]*LobbyStore, []*notifySink) {
	stores := make([]*LobbyStore, n)
	sinks := make([]*notifySink, n)
	for i := range n {
		sinks[i] = newNotifySink()
		stores[i] = newTestStore(t, client, prefix, string(rune('a'+i)), sinks[i], opts)
	}
	t.Cleanup(func() {
		for i, s := range sinks {
			s.checkContract(t, stores[i].ShardID())
		}
	})
	return stores, sinks
}

// sharedShards is shards on the shared test Redis.
func sharedShards(t *testing.T, n int) ([]*LobbyStore, []*notifySink) {
	return sharedShardsWith(t, n, LobbyOptions{})
}

func sharedShardsWith(t *testing.T, n int, opts LobbyOptions) ([]*LobbyStore, []*notifySink) {
	c, prefix := redistest.Client(t)
	return shards(t, c, prefix, n, opts)
}

// eachCompaction runs test with documents kept decoded, as a busy lobby's
// are, and compacted at every change, so that each use decodes them
// (compactDoc), as an idle lobby's are.
func eachCompaction(t *testing.T, test func(t *testing.T, opts LobbyOptions)) {
	t.Run("decoded", func(t *testing.T) { test(t, LobbyOptions{}) })
	t.Run("compact", func(t *testing.T) { test(t, LobbyOptions{compactAtOnce: true}) })
}

func act(u string) lobby.Actor { return lobby.Actor{UserID: u, Name: u} }

// mustJoin joins user to lobby id through s.
func mustJoin(t testing.TB, s *LobbyStore, user, id string) {
	t.Helper()
	if _, err := s.Join(t.Context(), act(user), protocol.JoinLobby{LobbyID: id}); err != nil {
		t.Fatalf("%s joins on %s: %v", user, s.ShardID(), err)
	}
}

// mustCreate creates a public lobby of max players hosted by user on s.
func mustCreate(t testing.TB, s *LobbyStore, user string, max int) protocol.LobbyView {
	t.Helper()
	v, err := s.Create(t.Context(), act(user), publicLobby(max))
	if err != nil {
		t.Fatalf("%s creates on %s: %v", user, s.ShardID(), err)
	}
	return v
}

func publicLobby(max int) protocol.CreateLobby {
	return protocol.CreateLobby{Name: "L", MaxPlayers: max, Visibility: protocol.VisibilityPublic}
}

func codeOf(err error) protocol.Code {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// TestShardsRaceForLastSeat: shards a, b and c join the last seat of a
// lobby at once, 40 times: exactly one wins each time, the others get
// lobby_full, and the lobby never holds more than its maximum.
func TestShardsRaceForLastSeat(t *testing.T) {
	st, _ := sharedShards(t, 3)
	ctx := t.Context()
	for round := range 40 {
		host := fmt.Sprintf("h%d", round)
		v, err := st[0].Create(ctx, act(host), publicLobby(2))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, len(st))
		for i, s := range st {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.Join(ctx, act(fmt.Sprintf("r%d-%d", round, i)), protocol.JoinLobby{LobbyID: v.ID})
			}()
		}
		wg.Wait()
		wins := 0
		for i, err := range errs {
			switch {
			case err == nil:
				wins++
			case codeOf(err) != protocol.CodeLobbyFull:
				t.Fatalf("round %d shard %d: %v", round, i, err)
			}
		}
		got, ok, err := st[1].LobbyOf(ctx, host)
		if wins != 1 || err != nil || !ok || len(got.Members) != 2 {
			t.Fatalf("round %d: %d winners, lobby %+v %v", round, wins, got.Members, err)
		}
	}
}

// TestShardsCodesUnique: with only 6 possible codes, 6 lobbies created at
// once on two shards all get different codes, and a 7th finds none free.
func TestShardsCodesUnique(t *testing.T) {
	c, prefix := redistest.Client(t)
	var mu sync.Mutex
	n := 0
	few := func() string { // cycles through 6 codes: collisions on purpose
		mu.Lock()
		defer mu.Unlock()
		n++
		return fmt.Sprintf("AAAAA%c", "ABCDEF"[n%6])
	}
	st, _ := shards(t, c, prefix, 2, LobbyOptions{NewCode: few})
	ctx := t.Context()
	var wg sync.WaitGroup
	codes := make([]string, 6)
	errs := make([]error, 6)
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := st[i%2].Create(ctx, act(fmt.Sprint("u", i)), publicLobby(4))
			codes[i], errs[i] = v.Code, err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(codes)
	if len(slices.Compact(slices.Clone(codes))) != 6 {
		t.Fatalf("codes not unique: %v", codes)
	}
	if _, err := st[0].Create(ctx, act("u7"), publicLobby(4)); codeOf(err) != protocol.CodeInternal {
		t.Fatalf("7th lobby with 6 codes: %v", err)
	}
	// Each code joins its own lobby, from either shard.
	for i, code := range codes {
		v, err := st[1-i%2].Join(ctx, act(fmt.Sprint("j", i)), protocol.JoinLobby{Code: code})
		if err != nil || v.Code != code {
			t.Fatalf("join %s: %+v %v", code, v, err)
		}
	}
}

// chatsOf is the chat texts of recs, in delivery order.
func chatsOf(recs []lobbytest.Rec) []string {
	var out []string
	for _, r := range recs {
		if r.Name == protocol.EvChat {
			out = append(out, r.From+":"+r.Text)
		}
	}
	return out
}

// TestShardsOneOrder: a lobby with members on shards a and b; 200 chats
// sent concurrently from members on both arrive at both shards in one
// order, each chat to the shard's own members only.
func TestShardsOneOrder(t *testing.T) { eachCompaction(t, shardsOneOrder) }

func shardsOneOrder(t *testing.T, opts LobbyOptions) {
	st, sinks := sharedShardsWith(t, 2, opts)
	ctx := t.Context()
	v := mustCreate(t, st[0], "a1", 8)
	for _, j := range []struct {
		s int
		u string
	}{{0, "a2"}, {1, "b1"}, {1, "b2"}} {
		mustJoin(t, st[j.s], j.u, v.ID)
	}
	senders := []struct {
		s int
		u string
	}{{0, "a1"}, {0, "a2"}, {1, "b1"}, {1, "b2"}}
	var wg sync.WaitGroup
	for _, snd := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				if err := st[snd.s].Chat(ctx, snd.u, fmt.Sprint(i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	var seqs [2][]string
	for i, sk := range sinks {
		recs := sk.waitFor(t, "200 chats", func(r []lobbytest.Rec) bool { return len(chatsOf(r)) >= 200 })
		seqs[i] = chatsOf(recs)
		for _, r := range recs {
			if r.Name != protocol.EvChat {
				continue
			}
			for _, to := range r.To {
				if to[0] != "ab"[i] {
					t.Fatalf("shard %c delivered to %s", "ab"[i], to)
				}
			}
			if len(r.To) != 2 {
				t.Fatalf("chat to %v", r.To)
			}
		}
	}
	if len(seqs[0]) != 200 || !slices.Equal(seqs[0], seqs[1]) {
		t.Fatalf("orders differ (%d vs %d chats)", len(seqs[0]), len(seqs[1]))
	}
	// Each sender's chats in the order sent.
	for _, snd := range senders {
		want := 0
		for _, c := range seqs[0] {
			if c == fmt.Sprintf("%s:%d", snd.u, want) {
				want++
			}
		}
		if want != 50 {
			t.Errorf("%s: %d of 50 chats in order", snd.u, want)
		}
	}
}

// TestShardsKickAcross: the host on shard a kicks a member on shard b,
// who gets lobby.kicked there; b then stops following the lobby.
func TestShardsKickAcross(t *testing.T) {
	st, sinks := sharedShards(t, 2)
	ctx := t.Context()
	v := mustCreate(t, st[0], "host", 4)
	mustJoin(t, st[1], "victim", v.ID)
	mustJoin(t, st[1], "witness", v.ID)
	if err := st[0].Kick(ctx, "host", "victim"); err != nil {
		t.Fatal(err)
	}
	recs := sinks[1].waitFor(t, "kick", func(r []lobbytest.Rec) bool {
		for _, e := range r {
			if e.Name == protocol.EvMemberLeft && e.UserID == "victim" {
				return true
			}
		}
		return false
	})
	var names []string
	for _, r := range recs {
		names = append(names, r.Name+">"+r.To[0])
	}
	want := []string{protocol.EvMemberJoined + ">victim", protocol.EvKicked + ">victim", protocol.EvMemberLeft + ">witness"}
	if !slices.Equal(names, want) {
		t.Fatalf("shard b got %v, want %v", names, want)
	}
	if _, ok, _ := st[1].LobbyOf(ctx, "victim"); ok {
		t.Fatal("victim still in the lobby")
	}
	// The host on a saw no member_left for its own kick (the actor is not told).
	for _, r := range sinks[0].All() {
		if r.Name == protocol.EvMemberLeft || r.Name == protocol.EvKicked {
			t.Errorf("shard a got %s", r.Name)
		}
	}
	if err := st[1].Leave(ctx, "witness", protocol.ReasonLeft); err != nil {
		t.Fatal(err)
	}
	if s := st[1].Stats(); s.Lobbies != 0 || s.Members != 0 {
		t.Errorf("shard b still follows: %+v", s)
	}
}

// TestShardsResubscribeLosesNothing: shard b's subscription is killed
// (CLIENT KILL TYPE pubsub, on a Redis of this test's own) over and over
// while members on a chat; b delivers every chat, in order, after it
// reads the logs from where it stopped.
func TestShardsResubscribeLosesNothing(t *testing.T) {
	srv := redistest.Server(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { c.Close() })
	st, sinks := shards(t, c, "t:", 2, LobbyOptions{})
	ctx := t.Context()
	v := mustCreate(t, st[0], "a1", 4)
	mustJoin(t, st[1], "b1", v.ID)
	const chats = 300
	before := st[1].f.resyncs.Load()
	for i := range chats {
		if i%50 == 25 {
			if err := c.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
				t.Fatal(err)
			}
		}
		if err := st[0].Chat(ctx, "a1", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	recs := sinks[1].waitFor(t, "every chat on b", func(r []lobbytest.Rec) bool { return len(chatsOf(r)) >= chats })
	got := chatsOf(recs)
	for i, c := range got {
		if c != fmt.Sprintf("a1:%d", i) {
			t.Fatalf("chat %d is %s: %v", i, c, got)
		}
	}
	if len(got) != chats {
		t.Fatalf("%d chats, want %d", len(got), chats)
	}
	if st[1].f.resyncs.Load() == before {
		t.Fatal("shard b never resubscribed: the test killed nothing")
	}
}

// TestShardsSplitSend: lobby.send in a lobby split over shards reaches the
// recipients on both, each shard delivering to its own; in an all-local
// lobby it costs no Redis command.
func TestShardsSplitSend(t *testing.T) { eachCompaction(t, shardsSplitSend) }

func shardsSplitSend(t *testing.T, opts LobbyOptions) {
	st, sinks := sharedShardsWith(t, 2, opts)
	ctx := t.Context()
	v := mustCreate(t, st[0], "a1", 4)
	mustJoin(t, st[0], "a2", v.ID)
	if err := st[0].Send(ctx, "a1", []byte{1}, nil); err != nil { // all on a: fast path
		t.Fatal(err)
	}
	mustJoin(t, st[1], "b1", v.ID)
	// A send racing the join may take the fast path (docs/cluster.md): the
	// split send starts once a has seen b1 join, as its players would.
	sinks[0].waitFor(t, "b1's join on a", func(r []lobbytest.Rec) bool {
		for _, e := range r {
			if e.Name == protocol.EvMemberJoined && e.Member != nil && e.Member.UserID == "b1" {
				return true
			}
		}
		return false
	})
	if err := st[0].Send(ctx, "a1", []byte{2}, nil); err != nil { // split
		t.Fatal(err)
	}
	if err := st[1].Send(ctx, "b1", []byte{3}, [][]byte{[]byte("a2")}); err != nil {
		t.Fatal(err)
	}
	dataOf := func(r []lobbytest.Rec) []string {
		var out []string
		for _, e := range r {
			if e.Name == protocol.EvData {
				out = append(out, fmt.Sprintf("%s>%v:%d", e.From, e.To, e.Data[0]))
			}
		}
		return out
	}
	a := sinks[0].waitFor(t, "data on a", func(r []lobbytest.Rec) bool { return len(dataOf(r)) >= 3 })
	b := sinks[1].waitFor(t, "data on b", func(r []lobbytest.Rec) bool { return len(dataOf(r)) >= 1 })
	if got, want := dataOf(a), []string{"a1>[a2]:1", "a1>[a2]:2", "b1>[a2]:3"}; !slices.Equal(got, want) {
		t.Errorf("a: %v, want %v", got, want)
	}
	if got, want := dataOf(b), []string{"a1>[b1]:2"}; !slices.Equal(got, want) {
		t.Errorf("b: %v, want %v", got, want)
	}
}

// sweepCompaction runs the sweep's compaction over every lobby s follows,
// as one tick does.
func sweepCompaction(s *LobbyStore) {
	for _, fl := range s.f.snapshot() {
		fl.mu.Lock()
		s.f.compactLocked(fl)
		fl.mu.Unlock()
	}
}

// A followed lobby's document unused for a whole tick is compacted (the
// first tick marks it cold, the next encodes it); what a shard tells of it
// (Stats, a member's view) is the same compact or not, and its next use
// decodes it again.
func TestFollowerCompactsIdleDocuments(t *testing.T) {
	st, sinks := sharedShards(t, 2)
	ctx := t.Context()
	a, b := st[0], st[1]
	v := mustCreate(t, a, "a1", 8)
	mustJoin(t, a, "a2", v.ID)
	mustJoin(t, b, "b1", v.ID)
	mustJoin(t, b, "b2", v.ID)
	if err := b.SetConnected(ctx, "b2", false); err != nil {
		t.Fatal(err)
	}
	sinks[0].waitFor(t, "b2 shown disconnected on a", func(r []lobbytest.Rec) bool {
		for _, e := range r {
			if e.Name == protocol.EvMemberUpdated && e.Member != nil && e.Member.UserID == "b2" && !e.Member.Connected {
				return true
			}
		}
		return false
	})
	before := []lobby.Stats{a.Stats(), b.Stats()}
	viewBefore, ok := b.f.localView("b1")
	if !ok {
		t.Fatal("no view of b1's lobby on b")
	}
	for range 2 {
		sweepCompaction(a)
		sweepCompaction(b)
	}
	for _, s := range st {
		fl := s.f.localLobby(s.ShardID() + "1")
		fl.mu.Lock()
		compact := fl.compact != nil && fl.doc == nil
		fl.mu.Unlock()
		if !compact {
			t.Fatalf("%s: the lobby's document is not compact after two ticks unused (dirty %v, gone %v, doc %v)", s.ShardID(), fl.dirty, fl.gone, fl.doc != nil)
		}
	}
	if after := []lobby.Stats{a.Stats(), b.Stats()}; !slices.Equal(after, before) {
		t.Fatalf("Stats compact: %+v, decoded: %+v", after, before)
	}
	if view, ok := b.f.localView("b1"); !ok || !reflect.DeepEqual(view, viewBefore) {
		t.Fatalf("b1's view from the compact document: %+v, %v; before: %+v", view, ok, viewBefore)
	}
	// The view decoded b's copy again; a's is still compact until a1 chats.
	sweepCompaction(b)
	sweepCompaction(b)
	if err := a.Chat(ctx, "a1", "awake"); err != nil {
		t.Fatal(err)
	}
	mustJoin(t, b, "b3", v.ID) // a mutation from b's compact copy
	for i, sk := range sinks {
		sk.waitFor(t, "the chat and b3's join", func(r []lobbytest.Rec) bool {
			chat, joined := false, false
			for _, e := range r {
				chat = chat || e.Name == protocol.EvChat && e.Text == "awake"
				joined = joined || e.Name == protocol.EvMemberJoined && e.Member != nil && e.Member.UserID == "b3"
			}
			return chat && joined
		})
		if s := st[i].Stats(); s.Disconnected != before[i].Disconnected || s.Open != 1 {
			t.Fatalf("%s after waking: %+v", st[i].ShardID(), s)
		}
	}
	got, err := a.Get(ctx, v.ID)
	if err != nil || len(got.Members) != 5 {
		t.Fatalf("after waking: %+v, %v", got.Members, err)
	}
}
