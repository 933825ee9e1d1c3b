package gateway

import (
	"context"
	"time"

	"github.com/lobbyd/lobbyd/netcode"
	"github.com/lobbyd/lobbyd/protocol"
)

// connState is one connection's state, handed to netcode.Upgrade and read
// back with Conn.Value. Owned by the connection's loop goroutine, except
// where noted.
type connState struct {
	id      Identity // from the verified token
	resume  string   // resume token from the query, if any
	lastSeq uint64   // last_seq from the query

	session *Session // set by OnOpen
	conn    *netcode.Conn
	bucket  tokenBucket
	send    protocol.SendReq // scratch for decoding lobby.send without allocating
	req     protocol.Request // scratch for the envelope
}

// handler adapts a Gateway to netcode.Handler.
type handler struct{ g *Gateway }

func (h handler) OnOpen(c *netcode.Conn) {
	g := h.g
	cs := c.Value().(*connState)
	cs.conn = c
	g.metrics.connections.Inc()
	if !time.Now().Before(cs.id.Expiry) { // expired during the handshake
		c.Close(protocol.CloseTokenExpired, "token expired")
		return
	}
	ctx := context.Background()
	view, inLobby := g.lobbies.LobbyOf(ctx, cs.id.UserID)
	res := g.hub.attach(cs, c, func(s *Session, resumed bool) []byte {
		w := protocol.WelcomeEv{
			SessionID:   s.id,
			UserID:      s.userID,
			Name:        cs.id.Name,
			ResumeToken: s.resumeToken,
			Resumed:     resumed,
			Shard:       g.opts.ShardID,
			HeartbeatMs: g.opts.Heartbeat.Milliseconds(),
		}
		if inLobby {
			w.Lobby = &view
		}
		return connEvent(protocol.EvWelcome, w)
	})
	cs.session = res.session
	if res.replaced != nil {
		res.replaced.Close(protocol.CloseReplaced, "replaced by a newer connection")
	}
	if inLobby {
		// The member may have been shown disconnected while the user was
		// away; the store does nothing when it already shows connected.
		_ = g.lobbies.SetConnected(ctx, cs.id.UserID, true)
	}
}

func (h handler) OnClose(c *netcode.Conn, code uint16) {
	g := h.g
	cs := c.Value().(*connState)
	g.metrics.connections.Dec()
	s := cs.session
	if s == nil {
		return
	}
	if !g.hub.detach(s, cs, g.opts.ResumeGrace, g.expire) {
		return
	}
	ctx := context.Background()
	_ = g.lobbies.SetConnected(ctx, s.userID, false)
	// A resume may have landed between detach and SetConnected: then the
	// store must show the member connected after all.
	if s.connected() {
		_ = g.lobbies.SetConnected(ctx, s.userID, true)
	}
}

// expirySweep closes, with 4001, every connection whose token has expired.
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
	ctx := context.Background()
	_ = g.lobbies.Leave(ctx, s.userID, protocol.ReasonDisconnected)
	if g.mm != nil {
		g.mm.CancelUser(ctx, s.userID, protocol.ReasonDisconnected)
	}
}
