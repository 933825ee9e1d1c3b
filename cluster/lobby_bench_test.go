package cluster

import (
	"fmt"
	"testing"

	"github.com/lobbyd/lobbyd/internal/redistest"
	"github.com/lobbyd/lobbyd/lobby"
)

type nopSink struct{}

func (nopSink) Deliver(*lobby.Event) {}

// BenchmarkSendLocal is lobby.send to the 7 others of a lobby of 8 whose
// members all sit on this shard: no Redis command, no allocation (compare
// lobby's BenchmarkSend, the memory store).
func BenchmarkSendLocal(b *testing.B) {
	c, prefix := redistest.Client(b)
	s := newTestStore(b, c, prefix, "a", nopSink{}, LobbyOptions{})
	v := mustCreate(b, s, "u0", 8)
	for i := 1; i < 8; i++ {
		mustJoin(b, s, fmt.Sprint("u", i), v.ID)
	}
	data := make([]byte, 64)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Send(ctx, "u0", data, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendSplit is lobby.send from shard a to the 7 others of a lobby
// of 8, 4 members on shard a and 4 on shard b (a Redis of its own): one
// script call per send whatever the recipients. It reports the commands
// and round trips shard a sends per op and the commands Redis runs per op
// (the script's inner calls included).
func BenchmarkSendSplit(b *testing.B) {
	st, cnt, admin := costShards(b)
	v := mustCreate(b, st[0], "a0", 8)
	for i := 1; i < 4; i++ {
		mustJoin(b, st[0], fmt.Sprint("a", i), v.ID)
	}
	for i := range 4 {
		mustJoin(b, st[1], fmt.Sprint("b", i), v.ID)
	}
	ctx := b.Context()
	// The first send may find a's copy behind b's joins: it catches up.
	if err := st[0].Send(ctx, "a0", []byte{0}, nil); err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 64)
	c0, r0 := cnt[0].read()
	s0 := serverCalls(b, admin)
	b.ReportAllocs()
	for b.Loop() {
		if err := st[0].Send(ctx, "a0", data, nil); err != nil {
			b.Fatal(err)
		}
	}
	c1, r1 := cnt[0].read()
	n := float64(b.N)
	b.ReportMetric(float64(c1-c0)/n, "cmds/op")
	b.ReportMetric(float64(r1-r0)/n, "trips/op")
	b.ReportMetric(float64(serverCalls(b, admin)-s0)/n, "redis-calls/op")
}
