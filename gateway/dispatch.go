package gateway

import (
	"context"
	"errors"
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
	if req := g.admit(c, cs, msg); req != nil {
		g.dispatch(g.ctx, c, cs, s, req)
	}
}

// admit counts msg against the rate limits and decodes its envelope into
// cs.req. It answers what it refuses (rate_limited, bad_request; 4008 for
// abuse) and then returns nil.
func (g *Gateway) admit(c writer, cs *connState, msg []byte) *protocol.Request {
	g.metrics.messagesIn.Inc()
	req := &cs.req
	decodeErr := protocol.DecodeRequest(msg, req)
	now := time.Now().UnixNano()
	ok, abuse := cs.bucket.take(now, g.opts.RatePerSecond, g.opts.RateBurst)
	if ok && cs.user != nil {
		ok, abuse = cs.user.take(now, Rate{g.opts.RatePerSecond, g.opts.RateBurst})
	}
	if !ok {
		g.metrics.rateLimited.Inc()
		if abuse {
			c.Close(protocol.CloseRateLimited, "rate limited")
			return nil
		}
		if decodeErr == nil && req.Rid != 0 {
			g.replyErr(c, req.Rid, protocol.CodeRateLimited, "too many messages")
		}
		return nil
	}
	if decodeErr != nil {
		// Not a request we can act on; the reply carries the rid if one
		// could be read, else 0 (docs/protocol.md §2).
		g.replyError(c, req.Rid, decodeErr)
		return nil
	}
	return req
}

func (g *Gateway) dispatch(ctx context.Context, c writer, cs *connState, s *Session, req *protocol.Request) {
	rid := req.Rid
	uid := s.userID
	var (
		out any   // reply body; nil → {}
		err error // refusal
	)
	switch string(req.Op) {
	case protocol.OpPing:
		if rid != 0 {
			bp := replyBufs.Get().(*[]byte)
			*bp = protocol.AppendPong((*bp)[:0], rid, time.Now().UnixMilli())
			_ = c.Write(*bp)
			replyBufs.Put(bp)
		}
		return
	case protocol.OpLobbySend:
		if err = protocol.DecodeSend(req.D, &cs.send); err == nil {
			err = g.lobbies.Send(ctx, uid, cs.send.Data, cs.send.To)
		}
	case protocol.OpLobbyCreate:
		var p protocol.CreateLobby
		if err = protocol.DecodeBody(req.D, &p); err == nil {
			var v protocol.LobbyView
			v, err = g.lobbies.Create(ctx, s.actor(), p)
			out = protocol.LobbyReply{Lobby: v}
		}
	case protocol.OpLobbyJoin:
		var p protocol.JoinLobby
		if err = protocol.DecodeBody(req.D, &p); err == nil {
			var v protocol.LobbyView
			v, err = g.lobbies.Join(ctx, s.actor(), p)
			out = protocol.LobbyReply{Lobby: v}
		}
	case protocol.OpLobbyLeave:
		err = g.lobbies.Leave(ctx, uid, protocol.ReasonLeft)
	case protocol.OpLobbyUpdate:
		var p protocol.UpdateLobby
		if err = protocol.DecodeBody(req.D, &p); err == nil {
			var v protocol.LobbyView
			v, err = g.lobbies.Update(ctx, uid, p)
			out = protocol.LobbyReply{Lobby: v}
		}
	case protocol.OpLobbySetMember:
		var p protocol.SetMember
		if err = protocol.DecodeBody(req.D, &p); err == nil {
			var m protocol.Member
			m, err = g.lobbies.SetMember(ctx, uid, p)
			out = protocol.MemberReply{Member: m}
		}
	case protocol.OpLobbyKick, protocol.OpLobbyTransferHost:
		var p protocol.UserTarget
		if err = protocol.DecodeBody(req.D, &p); err == nil {
			if string(req.Op) == protocol.OpLobbyKick {
				err = g.lobbies.Kick(ctx, uid, p.UserID)
			} else {
				err = g.lobbies.TransferHost(ctx, uid, p.UserID)
			}
		}
	case protocol.OpLobbyChat:
		var p protocol.Chat
		if err = protocol.DecodeBody(req.D, &p); err == nil {
			err = g.lobbies.Chat(ctx, uid, p.Text)
		}
	case protocol.OpLobbyStart:
		_, err = g.lobbies.Start(ctx, uid)
	case protocol.OpMatchmakingEnqueue:
		var p protocol.Enqueue
		if err = protocol.DecodeBody(req.D, &p); err == nil {
			var t protocol.Ticket
			t, err = g.enqueue(ctx, s.player(), p)
			out = protocol.TicketReply{Ticket: t}
		}
	case protocol.OpMatchmakingCancel:
		var p protocol.CancelTicket
		if err = protocol.DecodeBody(req.D, &p); err == nil {
			err = g.cancelTicket(ctx, uid, p.TicketID)
		}
	default:
		g.metrics.ops.WithLabelValues("unknown").Inc()
		g.replyErr(c, rid, protocol.CodeUnknownOp, "unknown op")
		return
	}
	g.metrics.countOp(req.Op)
	if rid == 0 {
		return // no reply wanted, not even for a refusal
	}
	if err != nil {
		g.replyError(c, rid, err)
		return
	}
	bp := replyBufs.Get().(*[]byte)
	if out == nil {
		*bp = protocol.AppendReplyOK((*bp)[:0], rid)
	} else if *bp, err = protocol.AppendReplyValue((*bp)[:0], rid, out); err != nil {
		replyBufs.Put(bp)
		g.replyError(c, rid, err)
		return
	}
	_ = c.Write(*bp)
	replyBufs.Put(bp)
}

func (s *Session) actor() lobby.Actor { return lobby.Actor{UserID: s.userID, Name: s.name} }

func (s *Session) player() matchmaking.Player {
	return matchmaking.Player{UserID: s.userID, Name: s.name}
}

// replyError answers err: a *protocol.Error with its own code, anything
// else as "internal" (and logged, since it is our fault).
func (g *Gateway) replyError(c writer, rid uint32, err error) {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		g.replyErr(c, rid, pe.Code, pe.Msg)
		return
	}
	g.log.Error("request failed", "err", err)
	g.replyErr(c, rid, protocol.CodeInternal, "internal error")
}

func (g *Gateway) replyErr(c writer, rid uint32, code protocol.Code, msg string) {
	g.metrics.errors.WithLabelValues(string(code)).Inc()
	bp := replyBufs.Get().(*[]byte)
	*bp = protocol.AppendReplyErr((*bp)[:0], rid, code, msg)
	_ = c.Write(*bp)
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
	replyBufs.Put(bp)
}
