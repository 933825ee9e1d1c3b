package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/internal/redistest"
	"github.com/lobbyd/lobbyd/lobby/lobbytest"
	"github.com/lobbyd/lobbyd/protocol"
)

// holdFirstScript is a go-redis hook that holds the first script call it
// sees until release is closed, counting every script call.
type holdFirstScript struct {
	held    chan struct{} // closed when the first call is held
	release chan struct{}
	once    sync.Once
	scripts atomic.Int64
}

func (h *holdFirstScript) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *holdFirstScript) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if name := cmd.Name(); name == "evalsha" || name == "eval" {
			if h.scripts.Add(1) == 1 {
				h.once.Do(func() { close(h.held) })
				<-h.release
			}
		}
		return next(ctx, cmd)
	}
}

func (h *holdFirstScript) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestSplitSendsShareACommit: sends to a split lobby that arrive while a
// commit of that lobby's sends is in flight go out as one commit, and
// every member on both shards gets every send once, in one order.
func TestSplitSendsShareACommit(t *testing.T) {
	c, prefix := redistest.Client(t)
	ca := redis.NewClient(&redis.Options{Addr: c.Options().Addr, DB: c.Options().DB})
	t.Cleanup(func() { ca.Close() })
	hook := &holdFirstScript{held: make(chan struct{}), release: make(chan struct{})}
	sa, sb := newNotifySink(), newNotifySink()
	a := newTestStore(t, ca, prefix, "a", sa, LobbyOptions{})
	b := newTestStore(t, c, prefix, "b", sb, LobbyOptions{})
	v := mustCreate(t, a, "a0", 8)
	for i := 1; i < 4; i++ {
		mustJoin(t, a, fmt.Sprint("a", i), v.ID)
	}
	for i := range 4 {
		mustJoin(t, b, fmt.Sprint("b", i), v.ID)
	}
	waitFor(t, 5e9, "a to see b's joins", func() bool { d, _, ok := a.f.copyOf(v.ID); return ok && len(d.Members) == 8 })
	ca.AddHook(hook)

	// a0's send is held in flight; a1..a3's sends gather behind it.
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	wg.Go(func() { errs <- a.Send(ctx, "a0", []byte{0}, nil) })
	<-hook.held
	for i := 1; i < 4; i++ {
		wg.Go(func() { errs <- a.Send(ctx, fmt.Sprint("a", i), []byte{byte(i)}, nil) })
	}
	fl := a.f.localLobby("a0")
	waitFor(t, 5e9, "three sends gathered", func() bool {
		fl.sends.mu.Lock()
		defer fl.sends.mu.Unlock()
		return fl.sends.next != nil && len(fl.sends.next.c.events) == 3
	})
	close(hook.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := hook.scripts.Load(); n != 2 {
		t.Errorf("4 sends ran %d commit scripts, want 2 (one held, one for the three gathered)", n)
	}

	// Every member hears the 3 sends of the others (4 for the ones not
	// sending), in the same order on both shards.
	order := func(recs []lobbytest.Rec, user string) []string {
		var out []string
		for _, e := range recs {
			if e.Name == protocol.EvData && slices.Contains(e.To, user) {
				out = append(out, e.From)
			}
		}
		return out
	}
	recsA := sa.waitFor(t, "every send on a", func(r []lobbytest.Rec) bool { return len(order(r, "a0")) == 3 })
	recsB := sb.waitFor(t, "every send on b", func(r []lobbytest.Rec) bool { return len(order(r, "b0")) == 4 })
	ref := order(recsB, "b0")
	if len(ref) != 4 || ref[0] != "a0" {
		t.Errorf("b0 heard %s, want a0 first (its commit was first), then a1..a3", strings.Join(ref, " "))
	}
	for _, u := range []string{"b1", "b2", "b3"} {
		if got := order(recsB, u); !slices.Equal(got, ref) {
			t.Errorf("%s heard %v, b0 %v", u, got, ref)
		}
	}
	for _, u := range []string{"a0", "a1", "a2", "a3"} {
		want := slices.DeleteFunc(slices.Clone(ref), func(f string) bool { return f == u })
		if got := order(recsA, u); !slices.Equal(got, want) {
			t.Errorf("%s heard %v, want %v", u, got, want)
		}
	}
}
