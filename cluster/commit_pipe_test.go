package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// pipeEcho is a guarded script that answers its key and argument after
// writing them, so a reply shows whose call it was and that it ran. Its
// text names the test's key prefix: Redis has never seen it (NOSCRIPT),
// without flushing the scripts of the tests that share the server.
func pipeEcho(prefix string) *redis.Script {
	return newGuardedScript(`-- ` + prefix + "\n" + `redis.call('SET', KEYS[1], ARGV[1]) return KEYS[1] .. '=' .. ARGV[1]`)
}

// TestCommitPipeCarriesConcurrentCommits: commits made at once by many
// callers fly in shared pipelines (fewer round trips than commits), on one
// node and on Redis Cluster (keys in many slots), and each caller gets its
// own reply, for a script Redis does not have yet (NOSCRIPT: loaded in the
// flight) as for one it has.
func TestCommitPipeCarriesConcurrentCommits(t *testing.T) {
	onEachRedis(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		hook := &cmdCounter{}
		rdb.AddHook(hook)
		ctx := context.Background()
		p := newCommitPipe(rdb, pipeEcho(prefix))
		const callers, each = 32, 20
		var wg sync.WaitGroup
		for c := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					key := fmt.Sprintf("%s{p%d}", prefix, c)
					cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
					got, err := p.run(cctx, []string{key}, i).Text()
					cancel()
					if want := fmt.Sprintf("%s=%d", key, i); err != nil || got != want {
						t.Errorf("caller %d, call %d: %q, %v; want %q", c, i, got, err, want)
						return
					}
				}
			}()
		}
		wg.Wait()
		// Every command the client sent is a commit (or its script's
		// load after NOSCRIPT): alone, each would be a round trip.
		if cmds, trips := hook.read(); cmds < 2*trips {
			t.Fatalf("%d concurrent commits: %d commands in %d round trips", callers*each, cmds, trips)
		}
		cmds, trips := hook.read()
		t.Logf("%d commits: %d commands in %d round trips", callers*each, cmds, trips)
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.flying || len(p.waiting) != 0 {
			t.Fatalf("after the last commit: flying %v, %d waiting", p.flying, len(p.waiting))
		}
	})
}

// TestCommitPipeLateCommitNotSent: a commit whose deadline has passed is
// refused before it is sent (ErrLate), as runGuarded refuses it.
func TestCommitPipeLateCommitNotSent(t *testing.T) {
	rdb, prefix, _ := lostReplyClient(t)
	p := newCommitPipe(rdb, pipeEcho(prefix))
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(lateMargin/2))
	defer cancel()
	if err := p.run(ctx, []string{prefix + "late"}, 1).Err(); !errors.Is(err, ErrLate) {
		t.Fatalf("late commit: %v", err)
	}
	if n, err := rdb.Exists(context.Background(), prefix+"late").Result(); err != nil || n != 0 {
		t.Fatalf("the late commit ran: exists %d, %v", n, err)
	}
}

// slowFirst delays the first command it sees by delay, as a Redis that
// stalls under one flight.
type slowFirst struct {
	delay time.Duration
	once  sync.Once
}

func (h *slowFirst) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *slowFirst) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.once.Do(func() { time.Sleep(h.delay) })
		return next(ctx, cmd)
	}
}
func (h *slowFirst) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestCommitPipeQueuedPastItsDeadline: a commit that waited behind a slow
// flight until its deadline had passed is refused when its turn comes
// (ErrLate) and never sent, while the slow one completes.
func TestCommitPipeQueuedPastItsDeadline(t *testing.T) {
	rdb, prefix, _ := lostReplyClient(t)
	rdb.AddHook(&slowFirst{delay: 700 * time.Millisecond})
	p := newCommitPipe(rdb, pipeEcho(prefix))
	first := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		first <- p.run(ctx, []string{prefix + "slow"}, 1).Err()
	}()
	for {
		p.mu.Lock()
		flying := p.flying
		p.mu.Unlock()
		if flying {
			break
		}
		time.Sleep(time.Millisecond)
	}
	// Its script deadline is lateMargin before its context's: 200 ms from
	// now, long before the slow flight lands.
	ctx, cancel := context.WithTimeout(context.Background(), lateMargin+200*time.Millisecond)
	defer cancel()
	if err := p.run(ctx, []string{prefix + "queued"}, 2).Err(); !errors.Is(err, ErrLate) {
		t.Fatalf("a commit queued past its deadline: %v", err)
	}
	if err := <-first; err != nil {
		t.Fatalf("the slow commit: %v", err)
	}
	if n, err := rdb.Exists(context.Background(), prefix+"queued").Result(); err != nil || n != 0 {
		t.Fatalf("the late commit ran: exists %d, %v", n, err)
	}
}
