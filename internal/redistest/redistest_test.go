package redistest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestClientPrefixIsCleanedUp(t *testing.T) {
	var key string
	t.Run("inner", func(t *testing.T) {
		c, prefix := Client(t)
		key = prefix + "k"
		if err := c.Set(context.Background(), key, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	})
	c, _ := Client(t)
	if n, err := c.Exists(context.Background(), key).Result(); err != nil || n != 0 {
		t.Fatalf("key %s left behind: n=%d err=%v", key, n, err)
	}
}

func TestClusterRoutesByHashTag(t *testing.T) {
	c, prefix := Cluster(t)
	ctx := context.Background()
	// Two keys of one hash tag in one MULTI: only possible in a single slot.
	pipe := c.TxPipeline()
	pipe.Set(ctx, prefix+"{l:1}:a", "1", 0)
	pipe.Set(ctx, prefix+"{l:1}:b", "2", 0)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	var masters atomic.Int32 // ForEachMaster calls in parallel
	_ = c.ForEachMaster(ctx, func(context.Context, *redis.Client) error { masters.Add(1); return nil })
	if n := masters.Load(); n != 3 {
		t.Fatalf("masters = %d, want 3", n)
	}
}

func TestServerPauseAndRestart(t *testing.T) {
	p := Server(t)
	if err := ping(p.Addr); err != nil {
		t.Fatal(err)
	}
	p.Pause()
	if err := ping(p.Addr); err == nil {
		t.Fatal("a paused server answered")
	}
	p.Resume()
	if err := waitPing(p.Addr, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := p.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := ping(p.Addr); err != nil {
		t.Fatal(err)
	}
}
