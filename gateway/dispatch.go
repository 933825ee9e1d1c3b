package gateway

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/matchmaking"
	"github.com/lobbyd/lobbyd/netcode"
	"github.com/lobbyd/lobbyd/protocol"
)

// replyBufs recycles reply encoding buffers: replies are written (or copied
// into the connection's queue) before the buffer goes back.
var replyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// OnMessage handles one binary message: rate limit, envelope, dispatch,
// reply. It runs on the connection's loop goroutine.
func (h handler) OnMessage(c *netcode.Conn, msg []byte) {
	h.g.handleMessage(c, c.Value().(*connState), msg)
}

// handleMessage is OnMessage without the transport type, so that tests and
// the fuzzer can drive it with a fake connection.
func (g *Gateway) handleMessage(c writer, cs *connState, msg []byte) {
	if g.cl != nil {
		g.handleClusterMessage(c, cs, msg)
		return
	}
	s := cs.session
	if s == nil {
		return
	}
	var req protocol.Request // its slices point into msg: nothing to keep
	if readAt, ok := g.admit(c, cs, msg, &req); ok {
		g.dispatch(g.ctx, c, cs, s, &req, readAt)
	}
}

// admit counts msg against the rate limits and decodes its envelope into
// req. It answers what it refuses (rate_limited, bad_request; 4008 for
// abuse) and then returns false. readAt is when msg was taken in (unix ns),
// the start of its fan-out latency.
func (g *Gateway) admit(c writer, cs *connState, msg []byte, req *protocol.Request) (readAt int64, ok bool) {
	decodeErr := protocol.DecodeRequest(msg, req)
	now := time.Now().UnixNano()
	om := g.metrics.unknownOp
	if decodeErr == nil {
		om = g.metrics.op(req.Op)
	}
	om.received.Inc()
	om.bytes.Add(float64(len(msg)))
	rate := g.settings.Load().Messages // a reload applies to every connection from its next message
	if !cs.user.take(now, rate) {
		g.metrics.rateLimited.Inc()
		if cs.refused.count(now, rate.Burst) {
			c.Close(protocol.CloseRateLimited, "rate limited")
			return now, false
		}
		if decodeErr == nil && req.Rid != 0 {
			g.replyErr(c, req.Rid, protocol.CodeRateLimited, "too many messages")
		}
		return now, false
	}
	if decodeErr != nil {
		// Not a request we can act on; the reply carries the rid if one
		// could be read, else 0 (docs/protocol.md §2).
		g.replyError(c, req.Rid, decodeErr)
		return now, false
	}
	return now, true
}

// dispatch runs one admitted request of session s, read at readAt (unix
// ns), and answers it. ping and lobby.send, the hot ops, are decoded by
// hand and allocate nothing; the others are coldOps.
func (g *Gateway) dispatch(ctx context.Context, c writer, cs *connState, s *Session, req *protocol.Request, readAt int64) {
	var (
		out any   // reply body; nil → {}
		err error // refusal
	)
	om := g.metrics.op(req.Op)
	om.handled.Inc() // every admitted request, ping included: each one read is counted once
	switch string(req.Op) {
	case protocol.OpPing:
		g.pong(c, req.Rid)
		return
	case protocol.OpLobbySend: // the hot path: decoded by hand into the connection's scratch
		send := cs.sendScratch()
		if err = protocol.DecodeSend(req.D, send); err == nil {
			err = g.lobbies.Send(ctx, s.userID, send.Data, send.To)
		}
	default:
		op := coldOps[string(req.Op)]
		if op == nil {
			g.replyErr(c, req.Rid, protocol.CodeUnknownOp, "unknown op")
			return
		}
		out, err = op(g, ctx, s, cs, req.D)
	}
	g.reply(c, req.Rid, out, err)
	if err == nil {
		// The events went out synchronously, before the store returned,
		// to every member on this shard: the reply was the last write.
		om.observeFanout(readAt)
	}
}

// opFunc runs one op for session s, on its connection cs, with its
// request body d, and returns the reply body (nil: {}) or the refusal.
type opFunc func(g *Gateway, ctx context.Context, s *Session, cs *connState, d []byte) (any, error)

// coldOps are the ops other than ping and lobby.send, whose bodies the
// msgpack library decodes.
var coldOps = map[string]opFunc{
	protocol.OpLobbyCreate: withBody(func(g *Gateway, ctx context.Context, s *Session, cs *connState, p protocol.CreateLobby) (any, error) {
		v, err := g.lobbies.Create(ctx, s.actor(cs), p)
		if err == nil {
			g.hub.placeIn(s, v.ID)
		}
		return protocol.LobbyReply{Lobby: v}, err
	}),
	protocol.OpLobbyJoin: withBody(func(g *Gateway, ctx context.Context, s *Session, cs *connState, p protocol.JoinLobby) (any, error) {
		v, err := g.lobbies.Join(ctx, s.actor(cs), p)
		if err == nil {
			g.hub.placeIn(s, v.ID)
		}
		return protocol.LobbyReply{Lobby: v}, err
	}),
	protocol.OpLobbyLeave: func(g *Gateway, ctx context.Context, s *Session, cs *connState, _ []byte) (any, error) {
		return nil, g.lobbies.Leave(ctx, s.userID, protocol.ReasonLeft)
	},
	protocol.OpLobbyUpdate: withBody(func(g *Gateway, ctx context.Context, s *Session, cs *connState, p protocol.UpdateLobby) (any, error) {
		v, err := g.lobbies.Update(ctx, s.userID, p)
		return protocol.LobbyReply{Lobby: v}, err
	}),
	protocol.OpLobbySetMember: withBody(func(g *Gateway, ctx context.Context, s *Session, cs *connState, p protocol.SetMember) (any, error) {
		m, err := g.lobbies.SetMember(ctx, s.userID, p)
		return protocol.MemberReply{Member: m}, err
	}),
	protocol.OpLobbyKick: withBody(func(g *Gateway, ctx context.Context, s *Session, cs *connState, p protocol.UserTarget) (any, error) {
		return nil, g.lobbies.Kick(ctx, s.userID, p.UserID)
	}),
	protocol.OpLobbyTransferHost: withBody(func(g *Gateway, ctx context.Context, s *Session, cs *connState, p protocol.UserTarget) (any, error) {
		return nil, g.lobbies.TransferHost(ctx, s.userID, p.UserID)
	}),
	protocol.OpLobbyChat: withBody(func(g *Gateway, ctx context.Context, s *Session, cs *connState, p protocol.Chat) (any, error) {
		return nil, g.lobbies.Chat(ctx, s.userID, p.Text)
	}),
	protocol.OpLobbyStart: func(g *Gateway, ctx context.Context, s *Session, cs *connState, _ []byte) (any, error) {
		_, err := g.lobbies.Start(ctx, s.userID)
		return nil, err
	},
	protocol.OpMatchmakingEnqueue: withBody(func(g *Gateway, ctx context.Context, s *Session, cs *connState, p protocol.Enqueue) (any, error) {
		t, err := g.enqueue(ctx, s.player(cs), p)
		return protocol.TicketReply{Ticket: t}, err
	}),
	protocol.OpMatchmakingCancel: withBody(func(g *Gateway, ctx context.Context, s *Session, cs *connState, p protocol.CancelTicket) (any, error) {
		return nil, g.cancelTicket(ctx, s.userID, p.TicketID)
	}),
}

// withBody makes an opFunc that decodes the body into a P first; a body
// that does not decode is refused with its bad_request.
func withBody[P any](f func(g *Gateway, ctx context.Context, s *Session, cs *connState, p P) (any, error)) opFunc {
	return func(g *Gateway, ctx context.Context, s *Session, cs *connState, d []byte) (any, error) {
		var p P
		if err := protocol.DecodeBody(d, &p); err != nil {
			return nil, err
		}
		return f(g, ctx, s, cs, p)
	}
}

// pong answers a ping (rid 0: nothing).
func (g *Gateway) pong(c writer, rid uint32) {
	if rid == 0 {
		return
	}
	bp := replyBufs.Get().(*[]byte)
	*bp = protocol.AppendPong((*bp)[:0], rid, time.Now().UnixMilli())
	_ = c.Write(*bp)
	g.metrics.sent(*bp)
	replyBufs.Put(bp)
}

// reply answers a request: nothing for rid 0 (not even a refusal), the
// refusal err, or out ({} when nil).
func (g *Gateway) reply(c writer, rid uint32, out any, err error) {
	if rid == 0 {
		return
	}
	if err != nil {
		g.replyError(c, rid, err)
		return
	}
	if out == nil {
		g.replyOK(c, rid)
		return
	}
	bp := replyBufs.Get().(*[]byte)
	if *bp, err = protocol.AppendReplyValue((*bp)[:0], rid, out); err != nil {
		replyBufs.Put(bp)
		g.replyError(c, rid, err)
		return
	}
	_ = c.Write(*bp)
	g.metrics.sent(*bp)
	replyBufs.Put(bp)
}

// actor is the session acting on its connection cs: under the display
// name of cs's token, as the welcome gave it (a resume with a token of
// another name acts under the new one). The session keeps no name of its
// own: 16 bytes a player, and a Session in the 160-byte size class
// (docs/architecture.md, "Memory per idle player").
func (s *Session) actor(cs *connState) lobby.Actor {
	return lobby.Actor{UserID: s.userID, Name: cs.id.Name}
}

// player is the session queueing on its connection cs (actor's name).
func (s *Session) player(cs *connState) matchmaking.Player {
	return matchmaking.Player{UserID: s.userID, Name: cs.id.Name}
}

// replyError answers err: a *protocol.Error with its own code, anything
// else as "internal" (and logged, since it is our fault).
func (g *Gateway) replyError(c writer, rid uint32, err error) {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		g.replyErr(c, rid, pe.Code, pe.Msg)
		return
	}
	g.logLimited(logRequestError, slog.LevelError, "request failed", "err", err)
	g.replyErr(c, rid, protocol.CodeInternal, "internal error")
}

func (g *Gateway) replyErr(c writer, rid uint32, code protocol.Code, msg string) {
	g.metrics.errorReply(code)
	bp := replyBufs.Get().(*[]byte)
	*bp = protocol.AppendReplyErr((*bp)[:0], rid, code, msg)
	_ = c.Write(*bp)
	g.metrics.sent(*bp)
	replyBufs.Put(bp)
}

var errNoMatchmaking = protocol.NewError(protocol.CodeUnavailable, "matchmaking is not enabled")

func (g *Gateway) enqueue(ctx context.Context, p matchmaking.Player, req protocol.Enqueue) (protocol.Ticket, error) {
	if g.mm == nil {
		return protocol.Ticket{}, errNoMatchmaking
	}
	return g.mm.Enqueue(ctx, p, req)
}

func (g *Gateway) cancelTicket(ctx context.Context, userID, ticketID string) error {
	if g.mm == nil {
		return errNoMatchmaking
	}
	return g.mm.Cancel(ctx, userID, ticketID)
}

// replyOK answers rid with ok and an empty body.
func (g *Gateway) replyOK(c writer, rid uint32) {
	bp := replyBufs.Get().(*[]byte)
	*bp = protocol.AppendReplyOK((*bp)[:0], rid)
	_ = c.Write(*bp)
	g.metrics.sent(*bp)
	replyBufs.Put(bp)
}
