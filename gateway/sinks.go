package gateway

import (
	"github.com/lobbyd/lobbyd/cluster"
	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/matchmaking"
	"github.com/lobbyd/lobbyd/protocol"
)

// lobbySink delivers lobby events to this shard's sessions. The store calls
// it in each lobby's order with that lobby's lock held, so every member
// numbers the lobby's events in the same order. Each event is encoded once;
// every recipient gets the same bytes with its own seq.
type lobbySink struct{ g *Gateway }

func (s lobbySink) Deliver(ev *lobby.Event) { s.deliver(ev, nil) }

// DeliverRecorded implements cluster.RecordingSink: Deliver whose frames
// wait for the shard's delivery record of the message (docs/cluster.md,
// "Delivery records").
func (s lobbySink) DeliverRecorded(ev *lobby.Event, d *cluster.Delivery) { s.deliver(ev, d) }

// deliver encodes ev once and fans it out to its recipients here, their
// frames waiting for d's record when d is not nil.
func (s lobbySink) deliver(ev *lobby.Event, d *cluster.Delivery) {
	g := s.g
	if len(ev.To) == 0 {
		return
	}
	buf := g.encodeLobbyEvent(ev)
	if buf == nil {
		return
	}
	g.metrics.eventsOut.Inc()
	size := len(buf.b)
	var n int
	if d == nil {
		n = g.hub.fanOut(ev.To, buf)
	} else {
		n = g.hub.fanOutRecorded(ev.To, buf, d)
	}
	g.metrics.event(ev.Name).delivered(n, size)
}

// Positions implements cluster.RecordingSink.
func (s lobbySink) Positions(d *cluster.Delivery, users []string) { s.g.hub.positions(d, users) }

// Release implements cluster.RecordingSink.
func (s lobbySink) Release(d *cluster.Delivery) { s.g.hub.release(d) }

// encodeLobbyEvent encodes ev once into a pooled buffer marked with its
// lobby and version (nil if it cannot be encoded: our bug, logged).
func (g *Gateway) encodeLobbyEvent(ev *lobby.Event) *eventBuf {
	var buf *eventBuf
	if ev.Name == protocol.EvData {
		// The hot path: hand-encoded, no allocation.
		buf = g.hub.pool.get(len(ev.Data) + len(ev.From) + 64)
		buf.b = protocol.AppendDataEvent(buf.b, ev.From, ev.Data)
	} else {
		buf = g.encodeEvent(ev.Name, lobbyPayload(ev))
		if buf == nil {
			return nil
		}
	}
	buf.lobbyID, buf.version, buf.inView = ev.LobbyID, ev.Version, inView(ev.Name)
	if p := g.hub.place; p != nil {
		buf.home = int16(p.homeOf(ev.LobbyID) + 1)
	}
	return buf
}

// inView reports whether a lobby view taken after an event of this kind
// shows everything the event says, so that a welcome carrying that view
// must not repeat it. Chat and data are messages no view shows;
// lobby.started names a match id no view carries.
func inView(name string) bool {
	switch name {
	case protocol.EvMemberJoined, protocol.EvMemberLeft, protocol.EvMemberUpdated,
		protocol.EvLobbyUpdated, protocol.EvHostChanged, protocol.EvKicked:
		return true
	}
	return false
}

// lobbyPayload returns the "d" of a lobby event other than lobby.data.
func lobbyPayload(ev *lobby.Event) any {
	switch ev.Name {
	case protocol.EvMemberJoined:
		return protocol.MemberJoinedEv{Member: *ev.Member}
	case protocol.EvMemberUpdated:
		return protocol.MemberUpdatedEv{Member: *ev.Member}
	case protocol.EvMemberLeft:
		return protocol.MemberLeftEv{UserID: ev.UserID, Reason: ev.Reason}
	case protocol.EvLobbyUpdated:
		return protocol.LobbyUpdatedEv{Lobby: *ev.Lobby}
	case protocol.EvKicked:
		return protocol.KickedEv{LobbyID: ev.LobbyID}
	case protocol.EvHostChanged:
		return protocol.HostChangedEv{Host: ev.UserID}
	case protocol.EvChat:
		return protocol.ChatEv{From: ev.From, Text: ev.Text, Ts: ev.TS}
	case protocol.EvStarted:
		return protocol.StartedEv{LobbyID: ev.LobbyID, MatchID: ev.MatchID}
	}
	return struct{}{}
}

// encodeEvent encodes a cold event (nil if it cannot be encoded, which is
// our bug and is logged) into a buffer of its own size: member and lobby
// changes stay in the replay rings of idle sessions, where a pooled
// 256-byte buffer held a ~150-byte lobby.member_joined (84 B more per idle
// player in lobbies of 8; docs/architecture.md, "Memory per idle player").
// Such events are rare next to lobby.data, which keeps its pooled buffers.
func (g *Gateway) encodeEvent(name string, payload any) *eventBuf {
	bp := replyBufs.Get().(*[]byte)
	defer replyBufs.Put(bp)
	b, err := protocol.AppendEvent((*bp)[:0], name, payload)
	*bp = b
	if err != nil {
		g.log.Error("event encoding failed", "event", name, "err", err)
		return nil
	}
	return g.hub.pool.copyOf(b)
}

// matchSink delivers matchmaking events (mm.*) to this shard's sessions.
type matchSink struct{ g *Gateway }

func (s matchSink) Deliver(ev *matchmaking.Event) {
	g := s.g
	if len(ev.To) == 0 {
		return
	}
	if buf := s.encode(ev); buf != nil {
		if g.cl != nil {
			g.forwardRemote(ev.To, buf.b)
		}
		size := len(buf.b)
		g.metrics.event(ev.Name).delivered(g.hub.fanOut(ev.To, buf), size)
	}
}

// DeliverMatch implements matchmaking.MatchSink: a match's mm.matched
// events are numbered for every recipient on this shard before any of
// them can be given anything else (hub.fanOutTogether). Recipients on
// other shards get theirs through the control bus, which orders nothing
// with the match lobby's events there (docs/cluster.md).
func (s matchSink) DeliverMatch(evs []*matchmaking.Event) {
	g := s.g
	to := make([][]string, 0, len(evs))
	bufs := make([]*eventBuf, 0, len(evs))
	for _, ev := range evs {
		if len(ev.To) == 0 {
			continue
		}
		if buf := s.encode(ev); buf != nil {
			if g.cl != nil {
				g.forwardRemote(ev.To, buf.b)
			}
			to, bufs = append(to, ev.To), append(bufs, buf)
		}
	}
	sizes := make([]int, len(bufs))
	for i, b := range bufs {
		sizes[i] = len(b.b)
	}
	for i, n := range g.hub.fanOutTogether(to, bufs) {
		g.metrics.event(protocol.EvMatched).delivered(n, sizes[i])
	}
}

// encode makes an mm.* event's frame (nil, logged, for a name it does
// not know).
func (s matchSink) encode(ev *matchmaking.Event) *eventBuf {
	g := s.g
	var payload any
	switch ev.Name {
	case protocol.EvQueued:
		payload = protocol.QueuedEv{Ticket: *ev.Ticket}
	case protocol.EvMatched:
		payload = protocol.MatchedEv{TicketID: ev.TicketID, MatchID: ev.MatchID, Queue: ev.Queue, Lobby: *ev.Lobby, Teams: ev.Teams}
	case protocol.EvTicketCancelled:
		payload = protocol.TicketCancelledEv{TicketID: ev.TicketID, Reason: ev.Reason}
	default:
		g.log.Error("unknown matchmaking event", "event", ev.Name)
		return nil
	}
	buf := g.encodeEvent(ev.Name, payload)
	if buf != nil {
		g.metrics.eventsOut.Inc()
	}
	return buf
}
