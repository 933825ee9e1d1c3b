package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/lobbyd/lobbyd/bench/internal/harness"
	"github.com/lobbyd/lobbyd/bench/internal/load"
	"github.com/lobbyd/lobbyd/bench/internal/report"
)

// ClusterKinds are the systems that scale out over Redis, each the way its
// docs teach: lobbyd's shards, Socket.IO with @socket.io/redis-adapter,
// centrifuge with its Redis broker and presence manager.
var ClusterKinds = []string{harness.Lobbyd, harness.SocketIO, harness.Centrifuge}

// clusterPeers runs the cluster workload against each system: two nodes and
// a private redis-server of the system's own (so that INFO's counters are
// its alone), players alternating nodes so that every lobby of 8 has 4
// members on each, relaying at the ramp's rates and at the fixed rate.
// prepared holds the systems already built; a failure is reported in its
// row and the next system runs.
func clusterPeers(ctx context.Context, env *harness.Env, prepared map[string]*harness.Prepared, kinds []string,
	fan load.FanoutConfig, logf func(string, ...any)) []report.ClusterRun {
	var out []report.ClusterRun
	for _, k := range kinds {
		if ctx.Err() != nil {
			break
		}
		p := prepared[k]
		if p == nil {
			continue
		}
		row := report.ClusterRun{System: k, Version: p.Version}
		logf("cluster: %s, 2 nodes + Redis", k)
		f, c, err := clusterOne(ctx, env, p, fan, logf)
		if err != nil {
			logf("cluster: %s: %v", k, err)
			row.Error = firstLine(err.Error())
		} else {
			row.Fanout, row.Chat = &f, &c
		}
		out = append(out, row)
	}
	return out
}

// clusterOne starts a private Redis and two nodes of p, and relays, then
// chats, with members split over the nodes.
func clusterOne(ctx context.Context, env *harness.Env, p *harness.Prepared, fan load.FanoutConfig, logf func(string, ...any)) (relay, chat load.FanoutResult, err error) {
	rd, err := useRedis(ctx, "", env.Tmp)
	if err != nil {
		return relay, chat, err
	}
	defer rd.stop()
	prefix := "bench:" + randomHex(4) + ":"
	secret := randomHex(16)
	var nodes []*harness.Server
	defer func() {
		// Together: each node's drain is its own, and a run waits for the
		// slower one instead of the sum.
		var wg sync.WaitGroup
		for _, s := range nodes {
			wg.Add(1)
			go func() { defer wg.Done(); s.Stop() }()
		}
		wg.Wait()
	}()
	for _, id := range []string{"a", "b"} {
		q := *p
		q.Argv = append([]string(nil), p.Argv...)
		q.Env = append([]string(nil), p.Env...)
		switch p.Kind {
		case harness.Lobbyd:
			q.Argv = append(q.Argv, "--redis", "redis://"+rd.addr+"/0", "--redis-prefix", prefix, "--shard-id", id, "--jwt-secret", secret)
		case harness.SocketIO:
			q.Env = append(q.Env, "REDIS_URL=redis://"+rd.addr, "REDIS_PREFIX="+prefix)
		case harness.Centrifuge:
			q.Argv = append(q.Argv, "-redis", rd.addr, "-redis-prefix", prefix)
		default:
			return relay, chat, fmt.Errorf("%s has no cluster mode", p.Kind)
		}
		s, err := harness.Start(ctx, env, &q, logf)
		if err != nil {
			return relay, chat, err
		}
		nodes = append(nodes, s)
	}
	a, b := nodes[0].Target, nodes[1].Target
	t := &load.Target{Name: p.Kind + " cluster", Dialer: spreadDialer{a.Dialer, b.Dialer}, Addr: a.Addr, PID: a.PID,
		ExtraPIDs: []int{b.PID}, Backend: rd.usage, Logf: logf}
	if relay, err = load.Fanout(ctx, t, fan); err != nil {
		return relay, chat, err
	}
	chatFan := fan
	chatFan.Chat = true
	chat, err = load.Fanout(ctx, t, chatFan)
	return relay, chat, err
}
