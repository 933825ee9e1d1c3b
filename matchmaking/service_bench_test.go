package matchmaking_test

import (
	"context"
	"strconv"
	"testing"

	mm "github.com/lobbyd/lobbyd/matchmaking"
	"github.com/lobbyd/lobbyd/protocol"
)

type nopSink struct{}

func (nopSink) Deliver(*mm.Event) {}

// BenchmarkServiceEnqueue: one solo ticket per op through the Service and
// the memory store, default (crypto/rand) ids. Users are made up front, so
// the loop measures Enqueue alone (b.N, not b.Loop, for that).
func BenchmarkServiceEnqueue(b *testing.B) {
	svc, err := mm.NewService(nil, mm.NewMemoryStore(), &fakeLobbies{of: map[string]protocol.LobbyView{}}, nopSink{}, mm.Options{})
	if err != nil {
		b.Fatal(err)
	}
	users := make([]string, b.N)
	for i := range users {
		users[i] = "u" + strconv.Itoa(i)
	}
	sk := 1500.0
	req := protocol.Enqueue{Queue: "duel", Skill: &sk, Region: "eu"}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if _, err := svc.Enqueue(ctx, mm.Player{UserID: users[i]}, req); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu0)
}

// BenchmarkServicePass10k: MatchNow over 10k waiting duel tickets that
// cannot match (all far apart), i.e. the steady cost of a tick on a busy
// queue: snapshot, timeouts, matcher.
func BenchmarkServicePass10k(b *testing.B) {
	var now int64
	svc, err := mm.NewService(nil, mm.NewMemoryStore(), &fakeLobbies{of: map[string]protocol.LobbyView{}}, nopSink{},
		mm.Options{Clock: func() int64 { return now }})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := range 10_000 {
		sk := float64(i) * 2000
		if _, err := svc.Enqueue(ctx, mm.Player{UserID: "u" + strconv.Itoa(i)}, protocol.Enqueue{Queue: "duel", Skill: &sk}); err != nil {
			b.Fatal(err)
		}
	}
	svc.MatchNow(ctx)
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		svc.MatchNow(ctx)
	}
	reportCPU(b, cpu0)
}
