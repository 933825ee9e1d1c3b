package cluster

import (
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/internal/redistest"
	"github.com/lobbyd/lobbyd/lobby"
)

type nopSink struct{}

func (nopSink) Deliver(*lobby.Event) {}

// BenchmarkSendLocal is lobby.send to the 7 others of a lobby of 8 whose
// members all sit on this shard: no Redis command, no allocation (compare
// lobby's BenchmarkSend, the memory store).
func BenchmarkSendLocal(b *testing.B) {
	s := localLobbyOf8(b)
	data := make([]byte, 64)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Send(ctx, "u0", data, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendLocalWaking is BenchmarkSendLocal on a lobby whose
// document the sweep compacted before every send (compactDoc): the cost of
// the first send after an idle tick, which decodes it again. The
// compaction itself is not timed.
func BenchmarkSendLocalWaking(b *testing.B) {
	s := localLobbyOf8(b)
	fl := s.f.localLobby("u0")
	data := make([]byte, 64)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		fl.mu.Lock()
		fl.cold = true
		s.f.compactLocked(fl)
		fl.mu.Unlock()
		b.StartTimer()
		if err := s.Send(ctx, "u0", data, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// localLobbyOf8 is a store on shard a with one lobby, u0 to u7, all here.
func localLobbyOf8(b *testing.B) *LobbyStore {
	c, prefix := redistest.Client(b)
	s := newTestStore(b, c, prefix, "a", nopSink{}, LobbyOptions{})
	v := mustCreate(b, s, "u0", 8)
	for i := 1; i < 8; i++ {
		mustJoin(b, s, fmt.Sprint("u", i), v.ID)
	}
	return s
}

// BenchmarkSendSplit is lobby.send from shard a to the 7 others of a lobby
// of 8, 4 members on shard a and 4 on shard b (a Redis of its own): one
// script call per send whatever the recipients. It reports the commands
// and round trips shard a sends per op and the commands Redis runs per op
// (the script's inner calls included).
func BenchmarkSendSplit(b *testing.B) {
	st, cnt, admin := costShards(b)
	splitLobby(b, st, "")
	ctx := b.Context()
	data := make([]byte, 64)
	c0, r0 := cnt[0].read()
	s0, u0 := serverCalls(b, admin), serverCPU(b, admin)
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
	// Redis's CPU per send: the commit script, the publication to b and
	// the sockets' I/O (the scale-out's shared cost: one Redis serves
	// every shard's commits).
	b.ReportMetric((serverCPU(b, admin)-u0)/n, "redis-µs/op")
}

// benchRecSink is a RecordingSink that numbers like a gateway (one seq per
// user, session "S-<user>") and counts the deliveries released, without
// keeping what it numbered: the benchmarks' sink of a recording shard.
type benchRecSink struct {
	mu       sync.Mutex
	seq      map[string]uint64
	ids      map[string]string
	released atomic.Int64
}

func newBenchRecSink() *benchRecSink {
	return &benchRecSink{seq: map[string]uint64{}, ids: map[string]string{}}
}

func (r *benchRecSink) id(u string) string {
	id, ok := r.ids[u]
	if !ok {
		id = "S-" + u
		r.ids[u] = id
	}
	return id
}

func (r *benchRecSink) Deliver(ev *lobby.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range ev.To {
		r.seq[u]++
	}
}

func (r *benchRecSink) DeliverRecorded(ev *lobby.Event, d *Delivery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range ev.To {
		r.seq[u]++
		p := d.Session(u, r.id(u))
		p.Events = append(p.Events, ev.Version>>32, r.seq[u])
	}
}

func (r *benchRecSink) Positions(d *Delivery, users []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range users {
		d.Session(u, r.id(u))
	}
	for i := range d.Sessions {
		d.Sessions[i].After = r.seq[d.Sessions[i].User]
		d.Sessions[i].Arrived = 1
	}
}

func (r *benchRecSink) Release(*Delivery) { r.released.Add(1) }

// processCPU is the CPU time this process has used (user and system), in
// ns: both shards' work in the split benchmarks, whatever else runs on the
// machine (wall time per op is mostly waiting for Redis).
func processCPU() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkSendSplitRecorded is BenchmarkSendSplit on shards that keep
// delivery records (a lobbyd shard's sink does): per op, a's commit, a's
// delivery to its 3 other members and their record, b's receipt of the
// publication, its delivery to its 4 and their record. The loop waits for
// b's record of the last send, so allocs/op counts both shards' work
// (allocations are the process's).
func BenchmarkSendSplitRecorded(b *testing.B) {
	srv := redistest.Server(b)
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	b.Cleanup(func() { admin.Close() })
	var st [2]*LobbyStore
	var sinks [2]*benchRecSink
	for i := range st {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr})
		b.Cleanup(func() { c.Close() })
		sinks[i] = newBenchRecSink()
		st[i] = newTestStore(b, c, "t:", string(rune('a'+i)), sinks[i], LobbyOptions{})
	}
	splitLobby(b, st, "")
	ctx := b.Context()
	waitReleased := func(n int64) {
		for sinks[1].released.Load() < n {
			time.Sleep(50 * time.Microsecond)
		}
	}
	time.Sleep(20 * time.Millisecond)
	data := make([]byte, 64)
	s0 := serverCalls(b, admin)
	r0 := sinks[1].released.Load()
	cpu0 := processCPU()
	b.ReportAllocs()
	for b.Loop() {
		if err := st[0].Send(ctx, "a0", data, nil); err != nil {
			b.Fatal(err)
		}
	}
	waitReleased(r0 + int64(b.N))
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(serverCalls(b, admin)-s0)/float64(b.N), "redis-calls/op")
}

// BenchmarkSendSplitRecordedParallel is BenchmarkSendSplitRecorded with
// 32 lobbies sending at once (a sender per lobby), as a loaded shard
// sees them: commits, publications and records of different lobbies meet
// in the recorder's lanes. cpu-ns/op is both shards' CPU per send.
func BenchmarkSendSplitRecordedParallel(b *testing.B) {
	srv := redistest.Server(b)
	var st [2]*LobbyStore
	var sinks [2]*benchRecSink
	var cnt [2]cmdCounter
	for i := range st {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr})
		b.Cleanup(func() { c.Close() })
		c.AddHook(&cnt[i])
		sinks[i] = newBenchRecSink()
		st[i] = newTestStore(b, c, "t:", string(rune('a'+i)), sinks[i], LobbyOptions{})
	}
	const lobbies = 32
	ctx := b.Context()
	for l := range lobbies {
		splitLobby(b, st, fmt.Sprint("l", l))
	}
	time.Sleep(50 * time.Millisecond)
	data := make([]byte, 64)
	var next atomic.Int64
	_, ta0 := cnt[0].read()
	_, tb0 := cnt[1].read()
	cpu0 := processCPU()
	b.ReportAllocs()
	b.SetParallelism(lobbies / 2) // GOMAXPROCS 2: a goroutine per lobby
	b.RunParallel(func(pb *testing.PB) {
		user := fmt.Sprint("l", next.Add(1)-1, "a0")
		for pb.Next() {
			if err := st[0].Send(ctx, user, data, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
	// b's records of the last sends: it releases at most one delivery per
	// send (fewer when sends of a lobby shared a commit).
	deadline := time.Now().Add(10 * time.Second)
	for last := int64(-1); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		n := sinks[1].released.Load()
		if n == last {
			break
		}
		last = n
	}
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
	_, ta1 := cnt[0].read()
	_, tb1 := cnt[1].read()
	b.ReportMetric(float64(ta1-ta0+tb1-tb0)/float64(b.N), "trips/op")
}

// splitLobby makes a lobby of 8 with users prefix+"a0".."a3" on st[0] and
// prefix+"b0".."b3" on st[1], and sends once from a0: the first send may
// find a's copy behind b's joins and catch up, which the benchmarks must
// not count.
func splitLobby(b *testing.B, st [2]*LobbyStore, prefix string) {
	v := mustCreate(b, st[0], prefix+"a0", 8)
	for i := 1; i < 4; i++ {
		mustJoin(b, st[0], fmt.Sprint(prefix, "a", i), v.ID)
	}
	for i := range 4 {
		mustJoin(b, st[1], fmt.Sprint(prefix, "b", i), v.ID)
	}
	if err := st[0].Send(b.Context(), prefix+"a0", []byte{0}, nil); err != nil {
		b.Fatal(err)
	}
}
