package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lobbyd/lobbyd/internal/redistest"
)

// A player's session life in the directory: login (Claim), drop (Detach),
// resume (Resume) on another shard.
func BenchmarkSessionsLoginDropResume(b *testing.B) {
	rdb, prefix := redistest.Client(b)
	ks := NewKeyspace(prefix)
	a := NewSessions(rdb, ks, "a", time.Minute)
	other := NewSessions(rdb, ks, "b", time.Minute)
	ctx := context.Background()
	if _, _, err := a.Claim(ctx, "warm", "s", "t"); err != nil {
		b.Fatal(err)
	}
	cost := counted(rdb)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		u := fmt.Sprint("u", i)
		if _, _, err := a.Claim(ctx, u, "s"+u, "tok"); err != nil {
			b.Fatal(err)
		}
		if ok, err := a.Detach(ctx, u, "s"+u, 7); !ok || err != nil {
			b.Fatal(ok, err)
		}
		if _, ok, err := other.Resume(ctx, u, "tok", "next"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
	cost.report(b)
}

// A shard's heartbeat, and GET /admin/shards over 10 shards.
func BenchmarkRegistry(b *testing.B) {
	rdb, prefix := redistest.Client(b)
	ks := NewKeyspace(prefix)
	ctx := context.Background()
	var regs []*Registry
	for i := range 10 {
		r := NewRegistry(rdb, ks, fmt.Sprint("shard-", i), func() ShardInfo {
			return ShardInfo{Addr: "10.0.0.1:8080", Connections: 10000, Lobbies: 1000}
		}, RegistryOptions{})
		if _, err := r.Refresh(ctx); err != nil {
			b.Fatal(err)
		}
		regs = append(regs, r)
	}
	if _, err := regs[0].List(ctx); err != nil {
		b.Fatal(err)
	}
	cost := counted(rdb)
	b.Run("refresh", func(b *testing.B) {
		b.ReportAllocs()
		cost.reset()
		for b.Loop() {
			if _, err := regs[0].Refresh(ctx); err != nil {
				b.Fatal(err)
			}
		}
		cost.report(b)
	})
	b.Run("list_10", func(b *testing.B) {
		b.ReportAllocs()
		cost.reset()
		for b.Loop() {
			if l, err := regs[0].List(ctx); err != nil || len(l) != 10 {
				b.Fatal(len(l), err)
			}
		}
		cost.report(b)
	})
}

// A lease holder's renewal (every 2 s per queue per shard).
func BenchmarkLeaseRenew(b *testing.B) {
	rdb, prefix := redistest.Client(b)
	l := NewLease(rdb, NewKeyspace(prefix), "duel", time.Minute)
	ctx := context.Background()
	if ok, err := l.Acquire(ctx); !ok || err != nil {
		b.Fatal(ok, err)
	}
	if ok, err := l.Renew(ctx); !ok || err != nil {
		b.Fatal(ok, err)
	}
	cost := counted(rdb)
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := l.Renew(ctx); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
	cost.report(b)
}
