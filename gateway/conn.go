package gateway

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	"github.com/lobbyd/lobbyd/cluster"
	"github.com/lobbyd/lobbyd/netcode"
	"github.com/lobbyd/lobbyd/protocol"
)

// connState is one connection's state, handed to netcode.Upgrade and read
// back with Conn.Value. Owned by the connection's loop goroutine, except
// where noted.
type connState struct {
	id     connIdentity // from the verified token
	resume *resumeQuery // resume and last_seq from the query; nil: neither

	session *Session // set by OnOpen
	conn    *netcode.Conn
	// user is the user's message bucket (rate_limit): the connection's
	// messages draw from it, as every other connection of the user's
	// does, and a reconnect finds it as it was. A user has one live
	// connection (one session per user), so it is the connection's bucket
	// too; one bucket, not one per connection and one per user, is 24
	// bytes a player less (docs/architecture.md, "Memory per idle
	// player"). refused counts what it refused this connection (4008).
	user    *sharedBucket
	refused refusals

	// Made on first use, so that an idle player pays for neither
	// (docs/architecture.md, "Memory per idle player").
	send *protocol.SendReq // scratch for decoding lobby.send without allocating, from its first
	// jobs is the work run off the loop (a shard of a cluster): made by
	// the loop's add, let go by the worker that empties it (offload.go).
	jobs atomic.Pointer[connJobs]
}

// newConnState is the state of a connection of id, verified at now: with
// its user's message bucket, which every connection of the user draws
// from.
func (g *Gateway) newConnState(id Identity, now int64) *connState {
	return &connState{id: newConnIdentity(id), user: g.userMsgs.get(id.UserID, now)}
}

// connIdentity is a connection's Identity as it keeps it: the expiry in
// unix ns, not a time.Time. With the query's resume out of line, this
// helps keep connState in the 96-byte size class: one per player
// (docs/architecture.md, "Memory per idle player").
type connIdentity struct {
	UserID string
	Name   string
	expiry int64 // unix ns
}

func newConnIdentity(id Identity) connIdentity {
	// UnixNano is undefined outside 1678-2262: a token may say 9999.
	exp := id.Expiry.Unix()
	switch {
	case exp >= math.MaxInt64/int64(time.Second):
		return connIdentity{UserID: id.UserID, Name: id.Name, expiry: math.MaxInt64}
	case exp <= math.MinInt64/int64(time.Second):
		return connIdentity{UserID: id.UserID, Name: id.Name, expiry: math.MinInt64}
	}
	return connIdentity{UserID: id.UserID, Name: id.Name, expiry: id.Expiry.UnixNano()}
}

// expiredAt reports whether the token has expired at now.
func (id *connIdentity) expiredAt(now time.Time) bool { return now.UnixNano() >= id.expiry }

// resumeQuery is what a reconnecting client's query asks for.
type resumeQuery struct {
	token   string // resume token, if any
	lastSeq uint64 // last_seq
}

// resumeToken is the query's resume token ("" if none).
func (cs *connState) resumeToken() string {
	if cs.resume == nil {
		return ""
	}
	return cs.resume.token
}

// lastSeq is the query's last_seq (0 if none).
func (cs *connState) lastSeq() uint64 {
	if cs.resume == nil {
		return 0
	}
	return cs.resume.lastSeq
}

// sendScratch returns the connection's lobby.send scratch, made on the
// first lobby.send. Called where lobby.send is decoded: on the loop, or on
// the worker running the connection's jobs while the loop leaves them be.
func (cs *connState) sendScratch() *protocol.SendReq {
	if cs.send == nil {
		cs.send = new(protocol.SendReq)
	}
	return cs.send
}

// handler adapts a Gateway to netcode.Handler.
type handler struct{ g *Gateway }

func (h handler) OnOpen(c *netcode.Conn) {
	cs := c.Value().(*connState)
	cs.conn = c
	h.g.metrics.connections.Inc()
	h.g.metrics.opened.Inc()
	if h.g.cl != nil {
		h.g.cl.off.add(cs, jobOpen, nil) // the open waits on Redis: off the loop
		return
	}
	h.g.open(c, cs)
}

func (h handler) OnClose(c *netcode.Conn, code uint16) {
	h.g.metrics.connections.Dec()
	if code == netcode.ClosePolicyViolation {
		h.g.metrics.slowClosed.Inc()
	}
	h.g.metrics.closed(code)
	cs := c.Value().(*connState)
	h.g.userMsgs.keep(cs.id.UserID, cs.user, time.Now().UnixNano()) // tidy may have let it go while it drained
	switch code {
	case protocol.CloseRateLimited, netcode.CloseProtocolError, netcode.CloseUnsupportedData, netcode.CloseTooLarge:
		// What a client did: worth a line, but a flood of bad clients must
		// not become a flood of lines.
		args := []any{"code", code, "user_id", cs.id.UserID}
		if h.g.cl == nil && cs.session != nil { // in a cluster the session is set off the loop
			args = append(args, "session_id", cs.session.id)
		}
		h.g.logLimited(logAbuseClose, slog.LevelInfo, "connection closed for its client's behaviour", args...)
	}
	if h.g.cl != nil {
		h.g.cl.off.add(cs, jobClose, nil)
		return
	}
	h.g.closed(cs)
}

// PingMark gives the pings to c the seq of the last event written to its
// session's connection (netcode.Acker). Looked up by user, not through
// connState.session, which a cluster shard sets off the loop.
func (h handler) PingMark(c *netcode.Conn) (uint64, bool) {
	s := h.g.sessionOfConn(c)
	if s == nil {
		return 0, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != writer(c) {
		return 0, false
	}
	return s.writtenLocked()
}

// OnAck drops from c's session's ring what its client has read
// (netcode.Acker): nothing once the session has another connection, whose
// client may not have read what this one did. A marked ping is written
// only once the welcome is, so its pong also confirms the resume token the
// welcome carried (Session.confirmResumeLocked).
func (h handler) OnAck(c *netcode.Conn, mark uint64) {
	if cs, ok := c.Value().(*connState); ok {
		h.g.acked(cs, c, mark)
	}
}

// acked is OnAck for the connection c of cs.
func (g *Gateway) acked(cs *connState, c writer, mark uint64) {
	s := g.hub.lookup(cs.id.UserID)
	if s == nil {
		return
	}
	s.mu.Lock()
	var confirm string
	if s.conn == c {
		s.ackedLocked(g.hub, mark)
		confirm = s.confirmResumeLocked(g.cl != nil)
	}
	s.mu.Unlock()
	if confirm != "" {
		g.cl.off.add(cs, jobConfirm, []byte(confirm))
	}
}

// sessionOfConn is the session of c's user on this shard, which may be on
// another connection (the caller checks), or nil.
func (g *Gateway) sessionOfConn(c *netcode.Conn) *Session {
	cs, ok := c.Value().(*connState)
	if !ok {
		return nil
	}
	return g.hub.lookup(cs.id.UserID)
}

// open starts or resumes the session of a new connection and writes its
// welcome. The session is registered before the lobby is read, so that no
// event of the lobby falls between the welcome's view and the session's
// stream (docs/architecture.md, "Opening a session").
func (g *Gateway) open(c writer, cs *connState) {
	if cs.id.expiredAt(time.Now()) { // expired during the handshake
		c.Close(protocol.CloseTokenExpired, "token expired")
		return
	}
	ctx := g.ctx
	var (
		res     attachResult
		adopted bool
	)
	if g.cl != nil {
		// Twice the bound of one call: a handover that times out (its
		// shard just died) still leaves time for the new session.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(g.ctx, 2*clusterOpTimeout)
		defer cancel()
		var err error
		if res, adopted, err = g.clusterAttach(ctx, cs, c); err != nil {
			g.logStoreErr("attach", "", cs.id.UserID, err)
			c.Close(netcode.CloseInternalError, "store unavailable")
			return
		}
		// The welcome's reads get a budget of their own: a resume may
		// have spent up to handOverWithin waiting for another shard.
		cancel()
		ctx, cancel = context.WithTimeout(g.ctx, clusterOpTimeout)
		defer cancel()
	} else {
		res = g.hub.attach(cs, c)
		if r := res.refused; r != nil {
			g.logLimited(logResumeRefused, slog.LevelInfo, "resume refused; a new session", "user_id", cs.id.UserID,
				"token_ok", r.token, "closed", r.closed, "holding", r.holding, "last_seq", r.lastSeq,
				"session_seq", r.seq, "replay_from", r.oldest, "replay_kept", r.kept)
		}
	}
	cs.session = res.session
	if cs.resumeToken() != "" {
		g.metrics.resumes[boolIndex(res.resumed)].Inc()
	}
	if res.replaced != nil {
		res.replaced.Close(protocol.CloseReplaced, "replaced by a newer connection")
	}
	if g.cl != nil {
		// First make this shard the member's, so that every event of the
		// lobby after the snapshot below comes here, then fill in what a
		// session handed over from another shard missed on the way.
		g.logStoreErr("SetConnected", res.session.id, cs.id.UserID, g.lobbies.SetConnected(ctx, cs.id.UserID, true))
		if adopted {
			if err := g.catchUpAdopted(ctx, res.session); err != nil {
				g.logStoreErr("EventsAfter", res.session.id, cs.id.UserID, err)
				c.Close(netcode.CloseInternalError, "store unavailable")
				return
			}
		}
	}
	view, inLobby, err := g.lobbies.LobbyOf(ctx, cs.id.UserID)
	if err != nil {
		// Without the lobby the welcome would lie; the client reconnects
		// (OnClose then lets the session wait out its grace as usual).
		g.logStoreErr("LobbyOf", res.session.id, cs.id.UserID, err)
		c.Close(netcode.CloseInternalError, "internal error")
		return
	}
	w := protocol.WelcomeEv{
		SessionID:   res.session.id,
		UserID:      cs.id.UserID,
		Name:        cs.id.Name,
		ResumeToken: res.token,
		Resumed:     res.resumed,
		Shard:       g.opts.ShardID,
		HeartbeatMs: g.opts.Heartbeat.Milliseconds(),
	}
	var sn snapshot
	if inLobby {
		w.Lobby = &view
		sn = snapshot{lobbyID: view.ID, version: view.Version}
	}
	after := uint64(0) // a new session numbers from 1
	if res.resumed {
		after = cs.lastSeq()
	}
	welcome := connEvent(protocol.EvWelcome, w)
	g.hub.welcome(res.session, cs, welcome, sn, after)
	g.metrics.events[protocol.EvWelcome].delivered(1, len(welcome))
	if g.log.Enabled(g.ctx, slog.LevelDebug) {
		g.log.Debug("session opened", "session_id", res.session.id, "user_id", cs.id.UserID,
			"resumed", res.resumed, "in_lobby", inLobby)
	}
	if inLobby && g.cl == nil {
		// The member may have been shown disconnected while the user was
		// away; the store does nothing when it already shows connected.
		g.logStoreErr("SetConnected", res.session.id, cs.id.UserID, g.lobbies.SetConnected(g.ctx, cs.id.UserID, true))
	}
}

// closed lets the session of a connection that closed wait for a resume.
func (g *Gateway) closed(cs *connState) {
	s := cs.session
	if s == nil {
		return
	}
	if !g.hub.detach(s, cs, g.opts.ResumeGrace, g.expire) {
		return
	}
	if g.log.Enabled(g.ctx, slog.LevelDebug) {
		g.log.Debug("session disconnected; resumable", "session_id", s.id, "user_id", s.userID, "grace", g.opts.ResumeGrace)
	}
	ctx := g.ctx
	if g.cl != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(g.ctx, clusterOpTimeout)
		defer cancel()
		if !g.clusterDetach(ctx, s) {
			return // the session went on on another shard
		}
	}
	g.logStoreErr("SetConnected", s.id, s.userID, g.lobbies.SetConnected(ctx, s.userID, false))
	// A resume may have landed between detach and SetConnected: then the
	// store must show the member connected after all.
	if s.connected() {
		g.logStoreErr("SetConnected", s.id, s.userID, g.lobbies.SetConnected(ctx, s.userID, true))
	}
}

// expirySweep closes, with 4001, every connection whose token has expired,
// and tidies the rate limits' tables (bucketTable.tidy).
// One sweep a tick over the shard's sessions instead of a timer per
// connection: a runtime timer costs about 200 bytes, which is most of what
// an idle player would otherwise cost the gateway.
func (g *Gateway) expirySweep(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	var due []writer
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, tb := range []*bucketTable{g.userMsgs, g.hsUser, g.hsAddr} {
				if tb != nil {
					tb.tidy(now.UnixNano())
				}
			}
			due = g.hub.expired(now, due[:0])
			for i, c := range due {
				c.Close(protocol.CloseTokenExpired, "token expired")
				due[i] = nil
			}
		}
	}
}

// expire runs when a dropped session's grace period ends without a resume:
// the user leaves its lobby and its tickets are cancelled (reason
// "disconnected").
func (g *Gateway) expire(s *Session) {
	if !g.hub.expireIfIdle(s) {
		return
	}
	if g.log.Enabled(g.ctx, slog.LevelDebug) {
		g.log.Debug("session expired: no resume within the grace", "session_id", s.id, "user_id", s.userID)
	}
	if g.cl != nil {
		ctx, cancel := context.WithTimeout(g.ctx, clusterOpTimeout)
		ok, err := g.cl.sessions.Expire(ctx, s.userID, s.id)
		cancel()
		if err == nil && !ok {
			return // resumed or replaced on another shard meanwhile
		}
		g.logStoreErr("Expire", s.id, s.userID, err)
	}
	err := g.lobbies.Leave(g.ctx, s.userID, protocol.ReasonDisconnected)
	g.logStoreErr("Leave", s.id, s.userID, err)
	if g.cl != nil && retryable(err) {
		g.handOverExpiry(s)
		return // the chores cancel the tickets too
	}
	if g.mm != nil {
		g.mm.CancelUser(g.ctx, s.userID, protocol.ReasonDisconnected)
	}
}

// retryable reports whether a store call failed for want of Redis (an
// error that is not an answer, or unavailable), so that trying it again
// later may succeed.
func retryable(err error) bool {
	var pe *protocol.Error
	return err != nil && (!errors.As(err, &pe) || pe.Code == protocol.CodeUnavailable)
}

// handOverExpiry gives the leave of an expired session, which did not get
// through (a loaded Redis, or this shard stopping under it), to the
// cluster's orphan chores (cluster.Sessions.OrphanEnded): its session is
// already ended in Redis, so nothing else would ever remove the member.
func (g *Gateway) handOverExpiry(s *Session) {
	// Not g.ctx: a shard that is stopping still hands it over.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(g.ctx), handOverTimeout)
	defer cancel()
	err := cluster.RetryUntil(ctx, func() (bool, error) {
		err := g.cl.sessions.OrphanEnded(ctx, s.userID, s.id)
		return err != nil, err
	})
	if err != nil {
		g.log.Error("cluster: an expired player could not be removed from its lobby", "session_id", s.id, "user_id", s.userID, "err", err)
		return
	}
	g.log.Warn("cluster: an expired player's leave did not get through; the shards' chores remove it", "session_id", s.id, "user_id", s.userID)
}

// logStoreErr logs a failed store call on the session path, where no
// client waits for an answer. A refusal (*protocol.Error, such as
// not_in_lobby for a user who left meanwhile) is an answer, not a failure.
func (g *Gateway) logStoreErr(op, sessionID, userID string, err error) {
	var pe *protocol.Error
	if err == nil || errors.As(err, &pe) {
		return
	}
	g.logLimited(logStoreError, slog.LevelError, "lobby store call failed", "op", op,
		"session_id", sessionID, "user_id", userID, "err", err)
}
