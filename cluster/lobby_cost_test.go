package cluster

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/internal/redistest"
	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

// cmdCounter is a go-redis hook counting what a client sends: commands,
// and round trips (a pipeline is one).
type cmdCounter struct{ cmds, trips atomic.Int64 }

func (c *cmdCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *cmdCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.cmds.Add(1)
		c.trips.Add(1)
		return next(ctx, cmd)
	}
}

func (c *cmdCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.cmds.Add(int64(len(cmds)))
		c.trips.Add(1)
		return next(ctx, cmds)
	}
}

func (c *cmdCounter) read() (cmds, trips int64) { return c.cmds.Load(), c.trips.Load() }

// serverCalls is the number of commands the server executed, scripts'
// inner calls included (INFO commandstats), minus the INFO calls.
func serverCalls(t testing.TB, c *redis.Client) int64 {
	var total int64
	eachInfoLine(t, c, "commandstats", func(line string) {
		if !strings.HasPrefix(line, "cmdstat_") || strings.HasPrefix(line, "cmdstat_info:") {
			return
		}
		_, rest, _ := strings.Cut(line, ":calls=")
		n, _ := strconv.ParseInt(rest[:strings.IndexByte(rest, ',')], 10, 64)
		total += n
	})
	return total
}

// serverCPU is the CPU time Redis's main thread has used, in µs (INFO
// cpu): commands, scripts and the network I/O they cost, on a Redis of the
// test's own.
func serverCPU(t testing.TB, c *redis.Client) float64 {
	var total float64
	eachInfoLine(t, c, "cpu", func(line string) {
		k, v, _ := strings.Cut(line, ":")
		if k == "used_cpu_sys_main_thread" || k == "used_cpu_user_main_thread" {
			f, _ := strconv.ParseFloat(v, 64)
			total += f * 1e6
		}
	})
	return total
}

// eachInfoLine calls fn with each line of INFO section, trimmed.
func eachInfoLine(t testing.TB, c *redis.Client, section string, fn func(line string)) {
	info, err := c.Info(context.Background(), section).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		fn(strings.TrimSpace(line))
	}
}

// costShards is two shards on a Redis of the test's own, each store's
// client counting what it sends, and a separate client for INFO.
func costShards(t testing.TB) (stores [2]*LobbyStore, counters [2]*cmdCounter, admin *redis.Client) {
	srv := redistest.Server(t)
	admin = redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { admin.Close() })
	for i := range stores {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr})
		t.Cleanup(func() { c.Close() })
		counters[i] = &cmdCounter{}
		c.AddHook(counters[i])
		stores[i] = newTestStore(t, c, "t:", string(rune('a'+i)), nil, LobbyOptions{})
	}
	return stores, counters, admin
}

// TestLobbyCommandCosts measures what each operation costs in Redis: the
// commands and round trips the acting shard sends and the commands the
// server runs (script calls included), for docs/cluster.md. It fails if a
// same-shard lobby.send costs any command or a split one more than one.
func TestLobbyCommandCosts(t *testing.T) {
	st, cnt, admin := costShards(t)
	ctx := t.Context()
	// Warm up: the first call of each script on a server loads it
	// (EVALSHA answers NOSCRIPT, then EVAL), a cost paid once per server.
	for i := range st {
		w := mustCreate(t, st[i], fmt.Sprint("warm", i), 2)
		if _, err := st[i].Get(ctx, w.ID); err != nil { // the read script
			t.Fatal(err)
		}
		if err := st[i].Close(ctx, w.ID); err != nil {
			t.Fatal(err)
		}
	}
	var rows []string
	measure := func(name string, shard int, op func() error) {
		t.Helper()
		c0, r0 := cnt[shard].read()
		s0 := serverCalls(t, admin)
		if err := op(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		c1, r1 := cnt[shard].read()
		s1 := serverCalls(t, admin)
		rows = append(rows, fmt.Sprintf("| %s | %d | %d | %d |", name, c1-c0, r1-r0, s1-s0))
		switch name {
		case "lobby.send, all members on the shard":
			if c1 != c0 || s1-s0 != 0 {
				t.Errorf("%s cost %d commands (server %d), want 0", name, c1-c0, s1-s0)
			}
		case "lobby.send, split lobby (7 recipients on 2 shards)":
			if r1-r0 != 1 {
				t.Errorf("%s cost %d round trips, want 1", name, r1-r0)
			}
		}
	}
	var v protocol.LobbyView
	measure("lobby.create", 0, func() (err error) {
		v, err = st[0].Create(ctx, act("a0"), publicLobby(8))
		return err
	})
	measure("lobby.join (by id)", 0, func() error {
		_, err := st[0].Join(ctx, act("a1"), protocol.JoinLobby{LobbyID: v.ID})
		return err
	})
	for i := 2; i < 4; i++ {
		mustJoin(t, st[0], fmt.Sprint("a", i), v.ID)
	}
	measure("lobby.send, all members on the shard", 0, func() error { return st[0].Send(ctx, "a0", []byte{1}, nil) })
	measure("lobby.chat", 0, func() error { return st[0].Chat(ctx, "a0", "hi") })
	measure("lobby.join (by code, from another shard)", 1, func() error {
		_, err := st[1].Join(ctx, act("b0"), protocol.JoinLobby{Code: v.Code})
		return err
	})
	for i := 1; i < 4; i++ {
		mustJoin(t, st[1], fmt.Sprint("b", i), v.ID)
	}
	// Let a's follower take all of b's joins in (it delivers them to a's
	// members), so the send runs on a current copy.
	waitFor(t, 5e9, "a to see b's joins", func() bool { d, _, ok := st[0].f.copyOf(v.ID); return ok && len(d.Members) == 8 })
	measure("lobby.send, split lobby (7 recipients on 2 shards)", 0, func() error { return st[0].Send(ctx, "a0", []byte{2}, nil) })
	measure("lobby.set_member", 0, func() error {
		_, err := st[0].SetMember(ctx, "a1", protocol.SetMember{Ready: ptrTo(true)})
		return err
	})
	measure("lobby.update", 0, func() error {
		_, err := st[0].Update(ctx, "a0", protocol.UpdateLobby{Name: ptrTo("renamed")})
		return err
	})
	measure("lobby.kick", 0, func() error { return st[0].Kick(ctx, "a0", "b3") })
	measure("lobby.leave", 1, func() error { return st[1].Leave(ctx, "b2", protocol.ReasonLeft) })
	measure("LobbyOf (followed lobby)", 0, func() error { _, _, err := st[0].LobbyOf(ctx, "a0"); return err })
	measure("GET /v1/lobbies/{id} (Get)", 1, func() error { _, err := st[1].Get(ctx, v.ID); return err })
	measure("lobby.start", 0, func() error { _, err := st[0].Start(ctx, "a0"); return err })
	measure("close (operator)", 1, func() error { return st[1].Close(ctx, v.ID) })
	measure("CreateMatch (2 players, no lobby before)", 0, func() error {
		_, err := st[0].CreateMatch(ctx, lobby.MatchParams{MatchID: "m", Members: []lobby.Actor{act("x"), act("y")}})
		return err
	})
	t.Log("\n| operation | commands sent | round trips | commands run by Redis |\n|---|---|---|---|\n" + strings.Join(rows, "\n"))
}

func ptrTo[T any](v T) *T { return &v }
