package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/bench/internal/client"
	"github.com/lobbyd/lobbyd/bench/internal/harness"
	"github.com/lobbyd/lobbyd/bench/internal/load"
)

// clusterCmd measures what the cluster costs: the same workloads against
// one in-memory shard and against two shards sharing one Redis, players
// on one shard or spread over both, with Redis's own commands, CPU and
// memory read from INFO.
func clusterCmd(args []string) error {
	fs := flag.NewFlagSet("cluster", flag.ContinueOnError)
	redisAddr := fs.String("redis", "", "Redis host:port to use (keys under a prefix of this run's own); empty: start a private redis-server on a free port, so that INFO's counters and memory are this run's alone")
	n := fs.Int("n", 10000, "idle players, and public lobbies for the listing (spread over the shards); ≤ 19000")
	fanN := fs.Int("fanout-n", 800, "relaying players, in lobbies of 8")
	rate := fs.Float64("rate", 5, "lobby.send messages/s per relaying player")
	measure := fs.Duration("measure", 3*time.Second, "measured time of each step (max 1m)")
	pairs := fs.Int("pairs", 3, "same-shard relay measured again this many times on both setups, alternating (the CPU comparison's median); 0: only the first measurement of each")
	idleWait := fs.Duration("idle-wait", 0, "on the fresh processes, read RSS again this long after the last player connected (0: not)")
	timeout := fs.Duration("timeout", 10*time.Minute, "bound on the whole run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 16 || *n > 19000 || *fanN < 16 || *fanN > 19000 {
		return errors.New("cluster: -n and -fanout-n must be 16..19000")
	}
	if *rate <= 0 || *measure <= 0 || *measure > time.Minute {
		return errors.New("cluster: -rate must be > 0 and -measure in (0, 1m]")
	}
	if lim, err := harness.EnsureFDLimit(); err != nil || lim < uint64(*n)+1000 {
		return fmt.Errorf("cluster: open-files limit %d too low for -n %d (%v)", lim, *n, err)
	}
	root, err := harness.RepoRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "lobbyd-bench-cluster-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := runContext(*timeout)
	defer cancel()
	logf := stampedLog
	env := &harness.Env{Root: root, Tmp: tmp, Logf: logf, MaxConns: *n + *fanN + 1000}
	prep, err := harness.Prepare(ctx, env, harness.Lobbyd)
	if err != nil {
		return err
	}
	rd, err := useRedis(ctx, *redisAddr, tmp)
	if err != nil {
		return err
	}
	defer rd.stop()

	fan := load.FanoutConfig{Conns: *fanN, LobbySize: 8, Rates: []float64{*rate}, FixedRate: *rate, Measure: *measure, NoInStep: true}
	var out clusterFigures
	out.machine = harness.DescribeMachine()
	out.load = harness.LoadAvg()

	// One in-memory shard: the figures the cluster is held against.
	logf("in-memory shard")
	mem, err := harness.Start(ctx, env, prep, logf)
	if err != nil {
		return err
	}
	defer mem.Stop()
	if out.memFan, err = load.Fanout(ctx, mem.Target, fan); err != nil {
		return err
	}

	// Two shards on one Redis, under a prefix of this run's own.
	logf("two shards on Redis %s", rd.addr)
	cl, err := startTwoShards(ctx, env, prep, rd, logf)
	if err != nil {
		return err
	}
	defer cl.stop()
	a, b := cl.shards[0].Target, cl.shards[1].Target
	// sameShard: every player on a; b runs idle beside it. spread: player i
	// on shard i mod 2, so each lobby of 8 has 4 members on each.
	sameShard := &load.Target{Name: "cluster, one shard", Dialer: a.Dialer, Addr: a.Addr, PID: a.PID,
		ExtraPIDs: []int{b.PID}, Backend: rd.usage, Logf: logf}
	spread := cl.spread("cluster, spread")
	if out.sameFan, err = load.Fanout(ctx, sameShard, fan); err != nil {
		return err
	}
	// Before any other step. Each step's players are new guests whose
	// sessions end as they close (the bench config's resume_grace_ms: 0),
	// so no step is measured while the sessions of an earlier one end
	// (with the default 30 s grace, 800 lobby leaves landed in the step
	// measured 30 s later: +40-55% on the cluster shard's pairs 4 and 5).
	if out.samePairs, err = samePairs(ctx, mem.Target, sameShard, fan, *pairs, logf); err != nil {
		return err
	}

	// The rest of the in-memory shard's figures, the cluster waiting.
	err = func() error {
		defer mem.Stop()
		if out.memChurn, err = load.Churn(ctx, mem.Target, load.ChurnConfig{Measure: *measure}); err != nil {
			return err
		}
		idle, held, err := load.Idle(ctx, mem.Target, load.IdleConfig{N: *n})
		if err != nil {
			return err
		}
		defer held.Close()
		out.memIdle = idle
		out.memBrowse, err = load.Browse(ctx, mem.Target, held, load.BrowseConfig{Measure: *measure})
		return err
	}()
	if err != nil {
		return err
	}
	if out.spreadFan, err = load.Fanout(ctx, spread, fan); err != nil {
		return err
	}
	chat := fan
	chat.Chat = true
	if out.spreadChat, err = load.Fanout(ctx, spread, chat); err != nil {
		return err
	}
	if out.spreadChurn, err = load.Churn(ctx, spread, load.ChurnConfig{Measure: *measure}); err != nil {
		return err
	}
	m0 := rd.usedMemory()
	idle, held, err := load.Idle(ctx, spread, load.IdleConfig{N: *n})
	if err != nil {
		return err
	}
	defer held.Close()
	out.spreadIdle = idle
	m1 := rd.usedMemory()
	// The listing is read on shard b while half the lobbies are a's.
	listOnB := *spread
	listOnB.Addr = b.Addr
	if out.spreadBrowse, err = load.Browse(ctx, &listOnB, held, load.BrowseConfig{Measure: *measure}); err != nil {
		return err
	}
	m2 := rd.usedMemory()
	lobbiesOf8 := (*n + 7) / 8
	out.redisPerLobby = float64(m2-m1) / float64(*n-lobbiesOf8)
	out.redisPerPlayer = float64(m1-m0) / float64(*n)
	held.Close()
	cl.stop()
	if out.freshMem, out.freshSpread, err = freshIdle(ctx, env, prep, rd, *n, *idleWait, logf); err != nil {
		return err
	}
	out.idleWait = *idleWait
	out.redisPrivate = *redisAddr == ""
	out.command = "cd bench && go run . " + strings.Join(append([]string{"cluster"}, args...), " ")
	out.print(os.Stdout, *n)
	return nil
}

// spreadDialer puts player i (the number ending its name) on shard i mod
// len: consecutive players, as the load generators group them into
// lobbies, alternate shards.
type spreadDialer []client.Dialer

func (d spreadDialer) Dial(ctx context.Context, user string, onData client.Handler) (client.Conn, error) {
	i := len(user)
	for i > 0 && user[i-1] >= '0' && user[i-1] <= '9' {
		i--
	}
	k, _ := strconv.Atoi(user[i:])
	return d[k%len(d)].Dial(ctx, user, onData)
}

// benchRedis is the Redis of the run: a private redis-server (cmd set) or
// one already running.
type benchRedis struct {
	addr string
	rc   *redis.Client
	cmd  *exec.Cmd
}

func useRedis(ctx context.Context, addr, dir string) (*benchRedis, error) {
	r := &benchRedis{addr: addr}
	if addr == "" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		r.addr = "127.0.0.1:" + strconv.Itoa(port)
		r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir)
		r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := r.cmd.Start(); err != nil {
			return nil, fmt.Errorf("cluster: redis-server: %w (install it, or give -redis)", err)
		}
	}
	host, _, err := net.SplitHostPort(r.addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		r.stop()
		return nil, fmt.Errorf("cluster: -redis must be a loopback host:port, got %q", r.addr)
	}
	r.rc = redis.NewClient(&redis.Options{Addr: r.addr})
	deadline := time.Now().Add(10 * time.Second)
	for r.rc.Ping(ctx).Err() != nil {
		if time.Now().After(deadline) {
			r.stop()
			return nil, fmt.Errorf("cluster: no Redis answering at %s", r.addr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return r, nil
}

func (r *benchRedis) stop() {
	if r.rc != nil {
		r.rc.Close()
	}
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	}
}

// usage is Redis's commands served (INFO itself left out) and CPU time.
func (r *benchRedis) usage() load.BackendUsage {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var u load.BackendUsage
	info, err := r.rc.Info(ctx, "commandstats", "cpu").Result()
	if err != nil {
		return u
	}
	var cpu float64
	for _, line := range strings.Split(info, "\r\n") {
		switch {
		case strings.HasPrefix(line, "cmdstat_") && !strings.HasPrefix(line, "cmdstat_info:"):
			if name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":calls="); ok {
				v, _, _ := strings.Cut(rest, ",")
				c, _ := strconv.ParseUint(v, 10, 64)
				u.Commands += c
				if u.ByCommand == nil {
					u.ByCommand = make(map[string]uint64)
				}
				u.ByCommand[name] = c
			}
		case strings.HasPrefix(line, "used_cpu_sys:"), strings.HasPrefix(line, "used_cpu_user:"):
			_, v, _ := strings.Cut(line, ":")
			f, _ := strconv.ParseFloat(v, 64)
			cpu += f
		}
	}
	u.CPU = time.Duration(cpu * float64(time.Second))
	return u
}

// usedMemory is INFO memory's used_memory, in bytes.
func (r *benchRedis) usedMemory() int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	info, _ := r.rc.Info(ctx, "memory").Result()
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// version is INFO server's redis_version ("redis ?" when unknown).
func (r *benchRedis) version(ctx context.Context) string {
	info, _ := r.rc.Info(ctx, "server").Result()
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "redis_version:"); ok {
			return "redis " + v
		}
	}
	return "redis ?"
}

// deletePrefix removes the run's keys from a Redis it did not start.
func (r *benchRedis) deletePrefix(prefix string) {
	if r.cmd != nil {
		return // a private server goes with its data
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	iter := r.rc.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		r.rc.Unlink(ctx, iter.Val())
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// clusterFigures is what clusterCmd measured.
type clusterFigures struct {
	command, load         string
	machine               harness.Machine
	memFan, sameFan       load.FanoutResult
	samePairs             []cpuPair // the same-shard relay again, alternating
	spreadFan, spreadChat load.FanoutResult
	memChurn, spreadChurn load.ChurnResult
	memIdle, spreadIdle   load.IdleResult
	// freshMem, freshSpread: the idle players on processes that ran
	// nothing before (freshIdle).
	freshMem, freshSpread   freshHalves
	idleWait                time.Duration // -idle-wait
	memBrowse, spreadBrowse load.BrowseResult
	redisPerLobby           float64
	redisPerPlayer          float64
	redisPrivate            bool
}

// print writes the figures as the Markdown of bench/results/CLUSTER.md.
func (f *clusterFigures) print(w io.Writer, n int) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("Command: `%s`", f.command)
	p("")
	p("Machine: %s, %d cores; load average at start %s. Redis: %s.", f.machine.CPU, f.machine.Cores, f.load,
		map[bool]string{true: "a private redis-server started by the run (INFO counters are this run's alone)", false: "the running server given by -redis"}[f.redisPrivate])
	p("")
	p("### lobby.send (relay), players in lobbies of 8 at %g msgs/s each", f.memFan.Fixed.RatePerPlayer)
	p("")
	p("| setup | delivered msgs/s | p50 | p99 | shard CPU (cores) | shard CPU s per 1M delivered | Redis CPU (cores) | Redis commands per delivered | flagged |")
	p("|---|---|---|---|---|---|---|---|---|")
	for _, r := range []struct {
		name string
		st   load.FanoutStep
	}{{"one in-memory shard", f.memFan.Fixed}, {"2 shards + Redis, every member on shard a", f.sameFan.Fixed}, {"2 shards + Redis, 4 members on each shard", f.spreadFan.Fixed}} {
		flag := ""
		if r.st.ClientLimited {
			flag = "client/machine-limited"
		}
		p("| %s | %.0f | %s | %s | %.2f | %.2f | %.2f | %.3f | %s |", r.name, r.st.Delivered, r.st.P50, r.st.P99,
			r.st.CPU.Server, r.st.CPUPerMillion, r.st.CPU.Backend, r.st.CommandsPerDelivered, flag)
	}
	if sp := f.spreadFan.Fixed; sp.Sent > 0 && sp.CPU.BackendCommands > 0 {
		p("")
		p("Split lobby: %s.", commandsPerSend(sp))
	}
	p("")
	p("### lobby.chat across shards, players in lobbies of 8 (4 members on each shard) at %g chats/s each", f.spreadChat.Fixed.RatePerPlayer)
	p("")
	p("Every chat goes through the lobby's log in Redis and reaches all 8 members, the sender included.")
	p("")
	p("| setup | delivered msgs/s | p50 | p99 | shard CPU (cores) | shard CPU s per 1M delivered | Redis CPU (cores) | Redis commands per delivered | flagged |")
	p("|---|---|---|---|---|---|---|---|---|")
	{
		st := f.spreadChat.Fixed
		flag := ""
		if st.ClientLimited {
			flag = "client/machine-limited"
		}
		p("| 2 shards + Redis, 4 members on each shard | %.0f | %s | %s | %.2f | %.2f | %.2f | %.3f | %s |", st.Delivered, st.P50, st.P99,
			st.CPU.Server, st.CPUPerMillion, st.CPU.Backend, st.CommandsPerDelivered, flag)
		if st.Sent > 0 && st.CPU.BackendCommands > 0 {
			p("")
			p("Chat: %s.", commandsPerSend(st))
		}
	}
	if m, s := f.memFan.Fixed.CPUPerMillion, f.sameFan.Fixed.CPUPerMillion; m > 0 {
		p("")
		if len(f.samePairs) == 0 {
			p("Same-shard CPU per delivered message with Redis on: %+.0f%% against the in-memory shard (target: within 10%%).", (s/m-1)*100)
		} else {
			pairs := append([]cpuPair{{mem: m, cluster: s}}, f.samePairs...)
			p("Same-shard CPU per delivered message with Redis on: **%+.0f%%** against the in-memory shard, the median of %d pairs (target: within 10%%). "+
				"The first pair is the two rows above, minutes apart; the others were measured back to back, alternating which setup went first, while all three processes ran: %s.",
				medianRatio(pairs), len(pairs), describePairs(pairs))
		}
	}
	p("")
	p("### lobby.create / join / leave (64 groups of 4, closed loop)")
	p("")
	p("| setup | ops/s | lobbies/s | p50 | p99 | shard CPU | Redis CPU |")
	p("|---|---|---|---|---|---|---|")
	p("| one in-memory shard | %.0f | %.0f | %s | %s | %.2f | - |", f.memChurn.OpsPerSec, f.memChurn.LobbiesPerSec, f.memChurn.P50, f.memChurn.P99, f.memChurn.CPU.Server)
	p("| 2 shards + Redis, players alternating shards | %.0f | %.0f | %s | %s | %.2f | %.2f |", f.spreadChurn.OpsPerSec, f.spreadChurn.LobbiesPerSec, f.spreadChurn.P50, f.spreadChurn.P99, f.spreadChurn.CPU.Server, f.spreadChurn.CPU.Backend)
	p("")
	p("### GET /v1/lobbies?limit=20 with %d public lobbies (16 keep-alive clients)", n)
	p("")
	p("| setup | req/s | p50 | p99 | shard CPU |")
	p("|---|---|---|---|---|")
	p("| one in-memory shard | %.0f | %s | %s | %.2f |", f.memBrowse.ReqPerSec, f.memBrowse.P50, f.memBrowse.P99, f.memBrowse.CPU.Server)
	p("| 2 shards + Redis, lobbies made on both, listed on b | %.0f | %s | %s | %.2f |", f.spreadBrowse.ReqPerSec, f.spreadBrowse.P50, f.spreadBrowse.P99, f.spreadBrowse.CPU.Server)
	if f.memBrowse.ReqPerSec > 0 {
		p("")
		p("Cluster listing: %.0f%% of the in-memory shard's rate (target: at least 50%%).", f.spreadBrowse.ReqPerSec/f.memBrowse.ReqPerSec*100)
	}
	p("")
	p("### Memory, %d idle players in lobbies of 8", n)
	p("")
	p("| setup | shard RSS per player (all shards) | Redis used_memory per player | Redis used_memory per lobby |")
	p("|---|---|---|---|")
	p("| 2 shards + Redis, shards that ran the steps above | not shown (below) | %.0f B | %.0f B |", f.redisPerPlayer, f.redisPerLobby)
	if f.freshMem.first.N > 0 {
		fm, fs := f.freshMem, f.freshSpread
		p("| one in-memory shard, fresh process | %.0f B | - | - |", fm.perPlayer())
		p("| 2 shards + Redis, fresh processes | %.0f B (%+.0f B) | - | - |", fs.perPlayer(), fs.perPlayer()-fm.perPlayer())
		p("| one in-memory shard, fresh process, second %d players | %.0f B | - | - |", fm.second.N, fm.second.BytesPerConn)
		p("| 2 shards + Redis, fresh processes, second %d players | %.0f B (%+.0f B) | - | - |", fs.second.N, fs.second.BytesPerConn, fs.second.BytesPerConn-fm.second.BytesPerConn)
		if fm.rssLater > 0 && fs.rssLater > 0 {
			later := func(h freshHalves) float64 {
				return float64(h.rssLater-h.first.RSSBefore) / float64(h.first.N+h.second.N)
			}
			p("| one in-memory shard, fresh process, %s later | %.0f B | - | - |", f.idleWait, later(fm))
			p("| 2 shards + Redis, fresh processes, %s later | %.0f B (%+.0f B) | - | - |", f.idleWait, later(fs), later(fs)-later(fm))
		}
	}
	p("")
	p("Shard RSS is measured on processes that ran nothing before: each shard's heap grows from its start, and its GC goal is set during the burst of connects, when a connecting player holds more than an idle one (its requests and their Redis replies in flight). The players connect in two halves, the first still connected while the second connects: the \"second\" rows are what those players added, the cost of one more player on a shard that has grown what it makes once (connection pools, workers, the runtime's tables, counted twice for two shards in the rows of all players) and whose GC goal already counts players. The shards that ran the steps above also took the idle players first (the Redis figures are theirs), but their RSS is not shown: its change while the players connect mixes in what the runtime gives back to the OS of the earlier steps' heap (%.0f B a player on the in-memory shard, %.0f B on the two shards, this run).", f.memIdle.BytesPerConn, f.spreadIdle.BytesPerConn)
	p("")
	p("Redis per player: used_memory delta of connecting the idle players in lobbies of 8, ÷ players (a session, a membership, an eighth of a lobby). Redis per lobby: delta of each player then leaving and making a public lobby of its own, ÷ the lobbies added (players − players/8).")
}

// commandsPerSend breaks a step's Redis commands down per message sent,
// largest first: what one send costs Redis, inner script calls included.
func commandsPerSend(st load.FanoutStep) string {
	sent := st.Sent * st.CPU.Wall
	if sent <= 0 {
		return "no message sent"
	}
	type row struct {
		name string
		n    uint64
	}
	var rows []row
	for name, n := range st.CPU.BackendByCommand {
		rows = append(rows, row{name, n})
	}
	sort.Slice(rows, func(i, j int) bool {
		return rows[i].n > rows[j].n || rows[i].n == rows[j].n && rows[i].name < rows[j].name
	})
	parts := make([]string, 0, len(rows))
	for _, r := range rows {
		parts = append(parts, fmt.Sprintf("%s %.2f", r.name, float64(r.n)/sent))
	}
	return fmt.Sprintf("%.2f Redis commands per message sent (%s)", float64(st.CPU.BackendCommands)/sent, strings.Join(parts, ", "))
}

// freshIdle measures the idle players again on processes that ran nothing
// before: a new in-memory shard, then two new shards of a cluster on rd
// (a key prefix of their own). Each connects its players in two halves:
// the first half grows what a shard makes once (pools, workers, the
// runtime's own tables) with its players, the second shows what one more
// player costs a shard that has served a while (freshHalves).
func freshIdle(ctx context.Context, env *harness.Env, prep *harness.Prepared, rd *benchRedis, n int, wait time.Duration, logf func(string, ...any)) (mem, spread freshHalves, err error) {
	logf("fresh processes: idle players on a new in-memory shard")
	srv, err := harness.Start(ctx, env, prep, logf)
	if err != nil {
		return mem, spread, err
	}
	mem, err = idleInHalves(ctx, srv.Target, n, wait)
	srv.Stop()
	if err != nil {
		return mem, spread, err
	}
	logf("fresh processes: idle players on two new shards")
	cl, err := startTwoShards(ctx, env, prep, rd, logf)
	if err != nil {
		return mem, spread, err
	}
	defer cl.stop()
	spread, err = idleInHalves(ctx, cl.spread("cluster, spread, fresh"), n, wait)
	return mem, spread, err
}

// freshHalves is n idle players connected to fresh processes in two
// halves, the first still held while the second connects.
type freshHalves struct {
	first, second load.IdleResult
	// rssLater: RSS with all n players held, after freshHalvesWait more
	// (0 when not measured).
	rssLater int64
}

// perPlayer is the RSS growth of both halves per player.
func (h freshHalves) perPlayer() float64 {
	return float64(h.second.RSSAfter-h.first.RSSBefore) / float64(h.first.N+h.second.N)
}

func idleInHalves(ctx context.Context, t *load.Target, n int, wait time.Duration) (freshHalves, error) {
	var h freshHalves
	first, held, err := load.Idle(ctx, t, load.IdleConfig{N: n / 2})
	if err != nil {
		return h, err
	}
	defer held.Close()
	second, more, err := load.Idle(ctx, t, load.IdleConfig{N: n - n/2, Prefix: "more"})
	if err != nil {
		return h, err
	}
	defer more.Close()
	h = freshHalves{first: first, second: second}
	if wait > 0 {
		if t.Logf != nil {
			t.Logf("[%s] idle: %d players held; RSS again in %s", t.Name, n, wait)
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return h, ctx.Err()
		}
		h.rssLater, err = t.RSS()
	}
	return h, err
}

// twoShards is two lobbyd shards, a and b, on the run's Redis under a key
// prefix of their own.
type twoShards struct {
	rd     *benchRedis
	prefix string
	shards []*harness.Server
	logf   func(string, ...any)
}

func startTwoShards(ctx context.Context, env *harness.Env, prep *harness.Prepared, rd *benchRedis, logf func(string, ...any)) (*twoShards, error) {
	c := &twoShards{rd: rd, prefix: "bench:" + randomHex(4) + ":", logf: logf}
	secret := randomHex(16)
	for _, id := range []string{"a", "b"} {
		p := *prep
		p.Argv = append(append([]string(nil), prep.Argv...), "--redis", "redis://"+rd.addr+"/0",
			"--redis-prefix", c.prefix, "--shard-id", id, "--jwt-secret", secret)
		s, err := harness.Start(ctx, env, &p, logf)
		if err != nil {
			c.stop()
			return nil, err
		}
		c.shards = append(c.shards, s)
	}
	return c, nil
}

// spread is a target whose player i is on shard i mod 2, so that each
// lobby of 8 has 4 members on each; its RSS and CPU are both shards'.
func (c *twoShards) spread(name string) *load.Target {
	a, b := c.shards[0].Target, c.shards[1].Target
	return &load.Target{Name: name, Dialer: spreadDialer{a.Dialer, b.Dialer}, Addr: a.Addr, PID: a.PID,
		ExtraPIDs: []int{b.PID}, Backend: c.rd.usage, Logf: c.logf}
}

// stop stops the shards (once) and deletes their keys.
func (c *twoShards) stop() {
	if c.shards == nil {
		return
	}
	for _, s := range c.shards {
		s.Stop()
	}
	c.shards = nil
	c.rd.deletePrefix(c.prefix)
}

// cpuPair is one same-shard relay measurement of each setup: shard CPU s
// per 1M delivered, the in-memory shard's and the cluster's (both shards).
type cpuPair struct{ mem, cluster float64 }

// samePairs measures the same-shard relay's step (fan: one rate, which is
// also the fixed one) n more times on the
// in-memory shard and on the cluster, alternating which goes first, so
// that the machine's drift over a run (other processes, the host) weighs
// on both alike: one step of each, minutes apart, moved by ±15% between
// runs.
func samePairs(ctx context.Context, mem, cluster *load.Target, fan load.FanoutConfig, n int, logf func(string, ...any)) ([]cpuPair, error) {
	out := make([]cpuPair, 0, n)
	for i := range n {
		order := []*load.Target{mem, cluster}
		if i%2 == 0 { // the first pair above ran the in-memory shard first
			order[0], order[1] = cluster, mem
		}
		var pr cpuPair
		for _, t := range order {
			r, err := load.Fanout(ctx, t, fan)
			if err != nil {
				return nil, err
			}
			if t == mem {
				pr.mem = r.Fixed.CPUPerMillion
			} else {
				pr.cluster = r.Fixed.CPUPerMillion
			}
		}
		logf("same-shard pair %d: %.2f s per 1M in memory, %.2f with Redis (%+.0f%%)", i+1, pr.mem, pr.cluster, (pr.cluster/pr.mem-1)*100)
		out = append(out, pr)
	}
	return out, nil
}

// medianRatio is the median of the pairs' cluster/memory ratios, as a
// percentage above 1.
func medianRatio(pairs []cpuPair) float64 {
	rs := make([]float64, 0, len(pairs))
	for _, p := range pairs {
		if p.mem > 0 {
			rs = append(rs, (p.cluster/p.mem-1)*100)
		}
	}
	if len(rs) == 0 {
		return 0
	}
	sort.Float64s(rs)
	if len(rs)%2 == 1 {
		return rs[len(rs)/2]
	}
	return (rs[len(rs)/2-1] + rs[len(rs)/2]) / 2
}

// describePairs lists each pair as "mem → cluster (±x%)".
func describePairs(pairs []cpuPair) string {
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = fmt.Sprintf("%.2f → %.2f s (%+.0f%%)", p.mem, p.cluster, (p.cluster/p.mem-1)*100)
	}
	return strings.Join(parts, ", ")
}
