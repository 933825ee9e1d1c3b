package gateway

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/cluster"
	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

// ClusterLink ties a gateway to the other shards of its cluster
// (Backends.Cluster; nil on a single in-memory shard). The gateway builds
// on it the session directory, the control bus and the shard registry.
type ClusterLink struct {
	Client  redis.UniversalClient
	Keys    cluster.Keyspace
	Lobbies ClusterLobbies
	// Ready reports whether the shard's caches of the cluster are loaded
	// (the listing replica); /readyz answers 503 until it does. nil: ready.
	Ready func() bool
	// Registry tunes the heartbeat and how soon a silent shard is dead
	// (zero values: cluster.DefaultRegistryInterval and TTL).
	Registry cluster.RegistryOptions
}

// ClusterLobbies is what the gateway needs of a cluster's lobby store
// beyond lobby.Store (cluster.LobbyStore has it).
type ClusterLobbies interface {
	// SendLocal is lobby.send without waiting on Redis: false when the
	// lobby has members on other shards (then Send runs off the loop).
	SendLocal(userID string, data []byte, to [][]byte) bool
	// EventsAfter calls fn with the lobby's logged events after version,
	// in order: what a session moving here from another shard may have
	// missed while it moved.
	EventsAfter(ctx context.Context, lobbyID string, version uint64, fn func(*lobby.Event)) error
	// ResumePoint is where, in the lobby's log, a session of shard whose
	// client's last event is lastSeq stands, from that shard's delivery
	// record: the offset after which the client has seen nothing
	// (cluster.ErrNoResumePoint when the record cannot tell).
	ResumePoint(ctx context.Context, lobbyID, shard, sessionID, userID string, lastSeq uint64) (uint64, error)
	// RecordBreak queues an entry of a session's own in its lobby's
	// delivery record, whose frames (Held) wait for it like a message's
	// (false: the store keeps no records).
	RecordBreak(d *cluster.Delivery) bool
	// LastLobbyOf is the lobby the user was last added to, member or not
	// ("" if none ever).
	LastLobbyOf(ctx context.Context, userID string) (string, error)
	// Forget drops every copy of a lobby this shard keeps: after a loss
	// (cluster.Loss) they may be stale or name lobbies Redis no longer has.
	Forget()
	// DisconnectIfOn shows the user disconnected, and LeaveIfOn makes it
	// leave its lobby, only if its member is still recorded on shard: the
	// chores of a dead shard, which must not touch a player who came back
	// on another shard meanwhile.
	DisconnectIfOn(ctx context.Context, userID, shard string) error
	LeaveIfOn(ctx context.Context, userID, shard, reason string) error
}

// Cluster timings.
const (
	// clusterOpTimeout bounds each Redis call of a session's open and
	// close, and each request run off the loop (docs/protocol.md §5a: a request
	// that needs Redis is answered within 2 s).
	clusterOpTimeout = 2 * time.Second
	// redisPingEvery and redisReadyWithin: /readyz answers 503 once Redis
	// has not answered a ping for redisReadyWithin (§5a: within 3 s).
	redisPingEvery   = 500 * time.Millisecond
	redisReadyWithin = 2 * time.Second
	// Offload bounds: workers, connections waiting for one, requests
	// queued per connection.
	offloadWorkers  = 128
	offloadResident = 4           // workers that never end; the others end after offloadIdle without work
	offloadIdle     = time.Second // long next to a goroutine's start (µs), short next to a burst's end
	offloadQueue    = 16384
	offloadPerConn  = 128
	offloadMaxQueue = clusterOpTimeout
	// handOverWithin bounds the wait for another shard's replay ring on a
	// resume, within clusterOpTimeout.
	handOverWithin = clusterOpTimeout / 2
)

// clusterGlue is the gateway's part of a cluster.
type clusterGlue struct {
	link     *ClusterLink
	sessions *cluster.Sessions
	bus      *cluster.Bus
	registry *cluster.Registry
	off      *offloader
	pingedAt atomic.Int64 // unix ms of Redis's last answer to a ping
	// choresEvery: how often this shard looks for orphaned sessions whose
	// grace is over (the registry's heartbeat interval).
	choresEvery time.Duration
}

// startCluster joins the cluster: the control bus (subscribed before the
// first player can connect), the registry heartbeat, the Redis pinger
// behind /readyz and the workers that run requests off the loops.
func (g *Gateway) startCluster(link *ClusterLink) error {
	cl := &clusterGlue{link: link}
	g.hub.records = true
	g.hub.recordBreak = link.Lobbies.RecordBreak
	cl.sessions = cluster.NewSessions(link.Client, link.Keys, g.opts.ShardID, g.opts.ResumeGrace)
	cl.bus = cluster.NewBus(link.Client, link.Keys, g.opts.ShardID, clusterControl{g}, cluster.BusOptions{Logger: g.log})
	ctx, cancel := context.WithTimeout(g.ctx, 10*time.Second)
	defer cancel()
	if err := cl.bus.Start(ctx); err != nil {
		return err
	}
	ropts := link.Registry
	ropts.Logger, ropts.OnDead, ropts.Liveness, ropts.OnLost = g.log, g.shardDied, g.live, g.storeLost
	if ropts.Interval <= 0 {
		ropts.Interval = cluster.DefaultRegistryInterval
	}
	cl.registry = cluster.NewRegistry(link.Client, link.Keys, g.opts.ShardID, g.shardReport, ropts)
	cl.choresEvery = ropts.Interval
	// The first heartbeat before serving: a shard is listed as soon as
	// it accepts players.
	if _, err := cl.registry.Refresh(ctx); err != nil {
		_ = cl.bus.Close()
		return err
	}
	cl.pingedAt.Store(time.Now().UnixMilli())
	cl.off = newOffloader(offloadQueue, offloadPerConn, offloadMaxQueue)
	cl.off.start(offloadResident, offloadWorkers, offloadIdle, g.runJob)
	g.cl = cl
	go cl.registry.Run(g.ctx)
	go g.expireOrphans(g.ctx)
	go g.pingRedis(g.ctx)
	return nil
}

// handOverTimeout bounds stopCluster's hand-over of the waiting sessions,
// tried again through a loaded or restarting Redis.
const handOverTimeout = 5 * time.Second

// stopCluster hands this shard's sessions still waiting for a resume
// over to the cluster (cluster.Sessions.Orphan on itself: a live shard
// ends those not resumed when their grace runs out, as it does for a dead
// shard's), leaves the registry once they are handed over (other shards
// stop listing this one at once) and stops the bus and the workers.
func (g *Gateway) stopCluster() {
	cl := g.cl
	if cl == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), handOverTimeout)
	defer cancel()
	var orphans []cluster.Orphaned
	err := cluster.RetryUntil(ctx, func() (bool, error) {
		var err error
		orphans, err = cl.sessions.Orphan(ctx, g.opts.ShardID)
		return err != nil, err
	})
	if err != nil {
		// Still listed, this shard is found dead by the others once its
		// heartbeat stops, and the one that does its chores orphans these
		// sessions (shardDied): late, but none stays in its lobby for
		// good, as it would if this shard left the registry now.
		g.log.Warn("cluster: could not hand the waiting sessions over at shutdown; the other shards take them over when they find this shard dead", "err", err)
	} else {
		if len(orphans) > 0 {
			g.log.Info("cluster: sessions waiting for a resume handed over to the other shards", "sessions", len(orphans))
		}
		_ = cl.registry.Leave(ctx)
	}
	_ = cl.bus.Close()
	cl.off.close()
}

// shardReport is this shard's registry entry.
func (g *Gateway) shardReport() cluster.ShardInfo {
	return cluster.ShardInfo{
		Addr:        g.opts.Addr,
		Connections: g.net.Len(),
		Lobbies:     g.lobbies.Stats().Lobbies,
		Draining:    g.draining.Load(),
		Matchers:    g.matchers(),
	}
}

// shardDied does the chores of a dead shard (cluster.Registry gives each
// dead shard to one live shard at a time; a failure or a crash here has
// them claimed again later, and every step is safe to redo). Its sessions
// get their resume grace from now (cluster.Sessions.Orphan), so its
// players resume on any live shard; the members that were connected there
// are shown disconnected, as a dropped connection would; the sessions not
// resumed when their grace is over are ended by expireOrphans, on
// whichever live shard claims them. Its matcher leases need nothing: they
// expire (cluster.DefaultLeaseTTL) before the registry calls a shard dead.
func (g *Gateway) shardDied(ctx context.Context, id string) error {
	orphans, err := g.cl.sessions.Orphan(ctx, id)
	if err != nil {
		return err
	}
	shown := 0
	for _, o := range orphans {
		if !o.WasConnected {
			continue // already shown disconnected by its shard
		}
		if err := g.cl.link.Lobbies.DisconnectIfOn(ctx, o.UserID, id); err != nil {
			g.logStoreErr("DisconnectIfOn", o.SessionID, o.UserID, err)
			continue
		}
		shown++
	}
	g.metrics.deadShards.Inc()
	g.metrics.orphaned.Add(float64(len(orphans)))
	g.log.Warn("cluster: shard found dead; its sessions may resume on any shard until their grace ends",
		"dead_shard", id, "sessions", len(orphans), "were_connected", shown)
	return nil
}

// orphanBatch bounds the orphans one pass of expireOrphans claims.
const orphanBatch = 256

// expireOrphans ends, every choresEvery, the orphaned sessions (of dead
// or stopped shards) whose grace is over and that nobody resumed: the
// user leaves its lobby and its tickets are cancelled, reason
// "disconnected", as at the end of a grace on one shard. Every shard runs
// it; each orphan is claimed by one (cluster.Sessions.DueOrphans).
func (g *Gateway) expireOrphans(ctx context.Context) {
	t := time.NewTicker(g.cl.choresEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for g.expireOrphansOnce(ctx) == orphanBatch && ctx.Err() == nil {
		}
	}
}

// expireOrphansOnce claims one batch of due orphans and ends them; it
// returns how many it claimed.
func (g *Gateway) expireOrphansOnce(ctx context.Context) int {
	cctx, cancel := context.WithTimeout(ctx, clusterOpTimeout)
	due, err := g.cl.sessions.DueOrphans(cctx, orphanBatch)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			g.log.Warn("cluster: claiming orphaned sessions", "err", err)
		}
		return 0
	}
	for _, o := range due {
		if err := g.expireOrphan(ctx, o); err != nil {
			g.log.Warn("cluster: ending an orphaned session; retried later", "user", o.UserID, "dead_shard", o.Shard, "err", err)
		}
	}
	return len(due)
}

func (g *Gateway) expireOrphan(ctx context.Context, o cluster.Orphaned) error {
	ctx, cancel := context.WithTimeout(ctx, 3*clusterOpTimeout)
	defer cancel()
	ended, err := g.cl.sessions.EndOrphan(ctx, o, func(ctx context.Context) error {
		if err := g.cl.link.Lobbies.LeaveIfOn(ctx, o.UserID, o.Shard, protocol.ReasonDisconnected); retryable(err) {
			return err // Redis did not answer in time: tried again later
		} else if err != nil {
			g.log.Error("cluster: an orphaned player could not be removed from its lobby", "user", o.UserID, "err", err)
		}
		if g.mm != nil {
			g.mm.CancelUser(ctx, o.UserID, protocol.ReasonDisconnected)
		}
		return nil
	})
	if ended {
		g.metrics.orphansEnded.Inc()
	}
	return err
}

// storeLost drops what this shard holds from Redis when it can no longer
// be trusted (docs/failures.md): every session here is retired without
// leaving its lobby or starting a grace timer (they are the cluster's,
// resumable on any live shard, or gone with Redis's data), its connection
// closed with 4010 so that the client reconnects with its resume token,
// and every copy of a lobby forgotten. Cut off, the shard may already be
// declared dead, its sessions orphaned and picked up by live shards;
// Redis restarted empty, the resume finds no session and the client
// starts a new one (welcome resumed: false, no lobby).
func (g *Gateway) storeLost(_ context.Context, why cluster.Loss) {
	reason := "store unreachable: reconnect"
	if why == cluster.LossStore {
		reason = "store lost: start a new session"
	}
	var conns []writer
	g.hub.each(func(s *Session) {
		if conn, _, ok := g.hub.retire(s.userID, s.id, false); ok && conn != nil {
			conns = append(conns, conn)
		}
	})
	for _, c := range conns {
		c.Close(protocol.CloseDraining, reason)
	}
	g.cl.link.Lobbies.Forget()
	g.metrics.storeLosses.WithLabelValues(string(why)).Inc()
	g.log.Error("cluster: closed every connection of this shard; its players reconnect", "why", string(why), "connections", len(conns))
}

// pingRedis records when Redis last answered, for /readyz.
func (g *Gateway) pingRedis(ctx context.Context) {
	t := time.NewTicker(redisPingEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, redisReadyWithin)
		if g.cl.link.Client.Ping(pctx).Err() == nil {
			g.cl.pingedAt.Store(time.Now().UnixMilli())
		}
		cancel()
	}
}

// storeReachable reports whether the store answers (always, on one shard).
func (g *Gateway) storeReachable() bool {
	if g.cl == nil {
		return true
	}
	if r := g.cl.link.Ready; r != nil && !r() {
		return false
	}
	if !g.live.Live() {
		return false
	}
	return time.Now().UnixMilli()-g.cl.pingedAt.Load() <= redisReadyWithin.Milliseconds()+redisPingEvery.Milliseconds()
}

// liveShards is GET /admin/shards: every shard of the cluster with a
// recent heartbeat, or this one alone.
func (g *Gateway) liveShards(ctx context.Context) ([]ShardInfo, error) {
	if g.cl == nil {
		r := g.shardReport()
		return []ShardInfo{{ID: g.opts.ShardID, Addr: r.Addr, Connections: r.Connections, Lobbies: r.Lobbies,
			Draining: r.Draining, LastSeen: time.Now().UnixMilli(), Matchers: matcherNames(r.Matchers)}}, nil
	}
	list, err := g.cl.registry.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ShardInfo, len(list))
	for i, s := range list {
		out[i] = ShardInfo{ID: s.ID, Addr: s.Addr, Connections: s.Connections, Lobbies: s.Lobbies,
			Draining: s.Draining, LastSeen: s.LastSeen, Matchers: matcherNames(s.Matchers)}
	}
	return out, nil
}

// clusterAttach is hub.attach for a shard of a cluster: the directory
// decides which session the connection continues. A resume of a session
// held here continues it; one held by another shard has that shard hand
// the session over (it closes its connection with 4009); any other
// connection starts a new session, and a session the user had on another
// shard is closed there with 4009.
func (g *Gateway) clusterAttach(ctx context.Context, cs *connState, c writer) (res attachResult, adopted bool, err error) {
	cl, uid := g.cl, cs.id.UserID
	if cs.resumeToken() != "" {
		next := randomID(24)
		prev, ok, err := cl.sessions.Resume(ctx, uid, cs.resumeToken(), next)
		if err != nil {
			return res, false, err
		}
		if !ok {
			// Not an error (docs/protocol.md, "Resume"), but the one way
			// to resumed: false that said nothing: an e2e failure could
			// not tell it from the others. Limited: a Redis restarted
			// empty refuses every player's resume at once.
			g.logLimited(logResumeRefused, slog.LevelInfo, "cluster: resume refused by the session directory (token unknown, spent or expired, or an orphan past its deadline); a new session", "user_id", uid)
		}
		if ok {
			if prev.Shard == g.opts.ShardID {
				if res, ok := g.hub.attachResumed(cs, c, prev.ID, next); ok {
					return res, false, nil
				}
				if s := g.hub.lookup(uid); s == nil || s.id != prev.ID {
					// Ours, but not in this process: the shard was killed
					// and restarted under the same id. Its delivery record
					// of the user's lobby is in Redis, as for a dead shard.
					if res, ok := g.resumeFromRecord(ctx, cs, c, prev, next); ok {
						return res, true, nil
					}
				}
			} else if prev.Orphaned {
				// Its shard died (or stopped) and nobody holds its ring:
				// the session goes on from the lobby's log where the dead
				// shard's delivery record places the client's last seq;
				// failing that, the user goes on in a new session whose
				// welcome shows the lobby as it is (docs/failures.md).
				if res, ok := g.resumeFromRecord(ctx, cs, c, prev, next); ok {
					return res, true, nil
				}
				g.metrics.ringLost.Inc()
			} else {
				// At most half the open's time: a shard cut off from Redis
				// still looks subscribed and never answers, and the new
				// session below needs the rest.
				hctx, cancel := context.WithTimeout(ctx, handOverWithin)
				ring, ok, err := cl.bus.HandOver(hctx, prev.Shard, uid, prev.ID)
				cancel()
				// What follows (a new session when no ring came) gets a
				// budget of its own, not what the wait left.
				var cancelRest context.CancelFunc
				ctx, cancelRest = context.WithTimeout(g.ctx, clusterOpTimeout)
				defer cancelRest()
				if err == nil && ok {
					if res, ok := g.hub.adopt(cs, c, prev.ID, next, ring); ok {
						return res, true, nil
					}
					g.log.Info("cluster: resume of a handed-over session that could not be adopted (its ring does not reach back to last_seq, or does not decode); a new session",
						"user_id", uid, "from_shard", prev.Shard, "last_seq", cs.lastSeq())
				} else if err == nil {
					// The shard answered that it does not hold the session
					// (ended there, or handed to another resume meanwhile).
					g.log.Info("cluster: resume of a session its shard no longer holds; a new session", "user_id", uid, "from_shard", prev.Shard)
				} else {
					// The shard is dead or cut off (not yet found dead):
					// what it sent the client is in its delivery record.
					if res, ok := g.resumeFromRecord(ctx, cs, c, prev, next); ok {
						return res, true, nil
					}
					g.metrics.ringLost.Inc()
					g.log.Warn("cluster: resume without the session's ring", "user_id", uid, "from_shard", prev.Shard, "err", err)
				}
			}
		}
	}
	sid, tok := randomID(16), randomID(24)
	prev, had, err := cl.sessions.Claim(ctx, uid, sid, tok)
	if err != nil {
		return res, false, err
	}
	if had && prev.Shard != g.opts.ShardID {
		if err := cl.bus.CloseSession(ctx, prev.Shard, uid, prev.ID); err != nil && !errors.Is(err, cluster.ErrShardUnreachable) {
			g.log.Warn("cluster: could not close the replaced session", "user_id", uid, "shard", prev.Shard, "err", err)
		}
	}
	return g.hub.attachNew(cs, c, sid, tok), false, nil
}

// resumeFromRecord continues on this shard a session whose shard is dead
// or unreachable, from the lobby's log: the dead shard's delivery record
// of the user's last lobby places the client's last seq at an offset
// (cluster.LobbyStore.ResumePoint), and the session goes on numbering
// from last_seq + 1 with every event of that lobby for the user after the
// offset (catchUpAdopted, as for a handed-over ring). A user never in a
// lobby had only matchmaking events, which no log holds: it goes on from
// last_seq + 1. false when the record cannot place the client, or the log
// no longer reaches back there: the caller starts a new session.
func (g *Gateway) resumeFromRecord(ctx context.Context, cs *connState, c writer, prev cluster.Session, next string) (attachResult, bool) {
	uid := cs.id.UserID
	lobbies := g.cl.link.Lobbies
	lobbyID, err := lobbies.LastLobbyOf(ctx, uid)
	var off uint64
	if err == nil && lobbyID != "" {
		off, err = lobbies.ResumePoint(ctx, lobbyID, prev.Shard, prev.ID, uid, cs.lastSeq())
		if err == nil {
			err = lobbies.EventsAfter(ctx, lobbyID, off<<32, func(*lobby.Event) {})
		}
	}
	if err != nil {
		g.log.Info("cluster: resume after a shard's death without a record of the client's place", "user_id", uid, "from_shard", prev.Shard, "last_seq", cs.lastSeq(), "why", err)
		return attachResult{}, false
	}
	res := g.hub.adoptAt(cs, c, prev.ID, next, lobbyID, off<<32)
	g.metrics.resumedFromRecord.Inc()
	return res, true
}

// catchUpAdopted numbers for a session adopted from another shard the
// events of its lobby that shard could not hand over: everything after the
// last one it numbered, read from the lobby's log.
func (g *Gateway) catchUpAdopted(ctx context.Context, s *Session) error {
	s.mu.Lock()
	lobbyID, after := s.lobbyID, s.lobbyVer
	s.mu.Unlock()
	var missed []*eventBuf
	defer func() {
		for _, ev := range missed {
			g.hub.pool.release(ev)
		}
	}()
	if lobbyID != "" {
		err := g.cl.link.Lobbies.EventsAfter(ctx, lobbyID, after, func(ev *lobby.Event) {
			if !slices.Contains(ev.To, s.userID) {
				return
			}
			if buf := g.encodeLobbyEvent(ev); buf != nil {
				missed = append(missed, buf)
			}
		})
		if err != nil {
			return err
		}
	}
	g.hub.catchUp(s, missed)
	return nil
}

// clusterDetach records in the directory that a session's connection
// here dropped; false when the session had already moved on (resumed or
// replaced elsewhere). Then it stays here, detached, until the shard it
// moved to takes its ring (HandOver) or it is replaced (CloseSession); its
// grace ends it here at the latest, without leaving its lobby (expire).
// Retiring it at once lost the ring: a client closed with 4010 by a drain
// resumes elsewhere at once, and that resume's script can run before this
// detach and its HandOver after it, which then found nothing and gave the
// client resumed: false.
func (g *Gateway) clusterDetach(ctx context.Context, s *Session) bool {
	s.mu.Lock()
	seq := s.seq
	s.mu.Unlock()
	ok, err := g.cl.sessions.Detach(ctx, s.userID, s.id, seq)
	if err != nil {
		// Redis is away: keep the session's grace here; Expire decides later.
		g.log.Warn("cluster: detach not recorded", "session_id", s.id, "user_id", s.userID, "err", err)
		return true
	}
	return ok
}

// clusterControl answers the other shards' control messages.
type clusterControl struct{ g *Gateway }

// CloseSession implements cluster.ControlHandler: the user logged in on
// another shard.
func (cc clusterControl) CloseSession(userID, sessionID string) {
	if conn, _, ok := cc.g.hub.retire(userID, sessionID, false); ok && conn != nil {
		conn.Close(protocol.CloseReplaced, "replaced by a newer connection")
	}
}

// Drain implements cluster.ControlHandler: an operator asked another
// shard to drain this one (POST /admin/shards/{id}/drain).
func (cc clusterControl) Drain() {
	cc.g.log.Info("admin: drain requested through the cluster")
	cc.g.StartDrain()
}

// HandOver implements cluster.ControlHandler: the user resumed the
// session on another shard, which takes its ring.
func (cc clusterControl) HandOver(userID, sessionID string) ([]byte, bool) {
	conn, ring, ok := cc.g.hub.retire(userID, sessionID, true)
	if ok && conn != nil {
		conn.Close(protocol.CloseReplaced, "resumed on another shard")
	}
	return ring, ok
}

// handleClusterMessage is handleMessage on a shard of a cluster, on the
// connection's loop: what needs no Redis is answered here (ping, and
// lobby.send in a lobby whose members all sit on this shard); the rest
// queues for a worker, behind the connection's earlier jobs, so that its
// requests still run in order and its welcome comes first.
func (g *Gateway) handleClusterMessage(c writer, cs *connState, msg []byte) {
	var req protocol.Request
	readAt, ok := g.admit(c, cs, msg, &req)
	if !ok {
		return
	}
	off := g.cl.off
	if !off.pending(cs) && cs.session != nil {
		switch string(req.Op) {
		case protocol.OpPing:
			g.dispatch(g.ctx, c, cs, cs.session, &req, readAt)
			return
		case protocol.OpLobbySend:
			if send := cs.sendScratch(); protocol.DecodeSend(req.D, send) == nil &&
				g.cl.link.Lobbies.SendLocal(cs.id.UserID, send.Data, send.To) {
				om := g.metrics.op(req.Op)
				om.handled.Inc()
				if req.Rid != 0 {
					g.replyOK(c, req.Rid)
				}
				om.observeFanout(readAt)
				return
			}
		}
	}
	if !off.add(cs, jobRequest, msg) {
		g.replyErr(c, req.Rid, protocol.CodeUnavailable, "server busy")
	}
}

// runJob runs one job of a connection on a worker.
func (g *Gateway) runJob(cs *connState, j *job) {
	switch j.kind {
	case jobOpen:
		g.open(cs.conn, cs)
	case jobClose:
		g.closed(cs)
	case jobConfirm:
		ctx, cancel := context.WithTimeout(g.ctx, clusterOpTimeout)
		// A failure leaves the spent token good until the session's next
		// resume: that is all it costs.
		g.logStoreErr("ConfirmResume", "", cs.id.UserID, g.cl.sessions.Confirm(ctx, cs.id.UserID, string(j.msg)))
		cancel()
	case jobRequest:
		var req protocol.Request // the loop's scratch is the loop's
		if protocol.DecodeRequest(j.msg, &req) != nil {
			return // admit decoded it once already
		}
		if g.cl.off.late(j, time.Now()) {
			if req.Rid != 0 {
				g.replyErr(cs.conn, req.Rid, protocol.CodeUnavailable, "timed out waiting for the store")
			}
			return
		}
		s := cs.session
		if s == nil {
			return // the open failed; the connection is closing
		}
		ctx, cancel := context.WithTimeout(g.ctx, clusterOpTimeout)
		g.dispatch(ctx, cs.conn, cs, s, &req, j.at.UnixNano())
		cancel()
	}
}

// DeliverEvent implements cluster.ControlHandler: an event another shard
// made (matchmaking) for users whose sessions are here.
func (cc clusterControl) DeliverEvent(userIDs []string, event []byte) {
	g := cc.g
	if len(event) < protocol.EventHeadLen {
		g.log.Warn("cluster: dropping a forwarded event too short to be one", "bytes", len(event))
		return
	}
	buf := g.hub.pool.copyOf(event) // cold (matchmaking), and kept for replay
	g.metrics.otherEvent.delivered(g.hub.fanOut(userIDs, buf), len(event))
}
