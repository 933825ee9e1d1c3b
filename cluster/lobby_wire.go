package cluster

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

// wireEvent is a lobby.Event as the log and the shard channels carry it:
// the recipients with the shard of each (a shard delivers to its own), and
// the fields of its kind.
type wireEvent struct {
	Name    string              `msgpack:"n"`
	To      []string            `msgpack:"to"`
	Shards  []string            `msgpack:"sh"` // Shards[i] is the shard of To[i]
	Member  *protocol.Member    `msgpack:"m,omitempty"`
	Lobby   *protocol.LobbyView `msgpack:"l,omitempty"`
	UserID  string              `msgpack:"u,omitempty"`
	Reason  string              `msgpack:"r,omitempty"`
	From    string              `msgpack:"f,omitempty"`
	Text    string              `msgpack:"t,omitempty"`
	TS      int64               `msgpack:"ts,omitempty"`
	Data    []byte              `msgpack:"d,omitempty"`
	MatchID string              `msgpack:"mi,omitempty"`
}

// collector is the lobby.Sink the rules run against in the Redis store:
// it keeps a copy of every event, with each recipient's shard from the
// document the rules run on (every recipient is a member when the event is
// emitted), and its encoding for the commit script.
type collector struct {
	doc     *lobby.Doc
	events  []wireEvent
	encoded []string
	err     error
}

// recipientOn reports whether To[i] gets w on shard: its member was on
// that shard when w was committed. The follower delivers by this rule, and
// a resume counts a session's events by it (LobbyStore.derive).
func (w *wireEvent) recipientOn(i int, shard string) bool {
	return i < len(w.Shards) && w.Shards[i] == shard
}

// deliveredTo reports whether the follower of shard delivers w to userID
// (recipientOn for the user's place in To).
func (w *wireEvent) deliveredTo(userID, shard string) bool {
	for i, u := range w.To {
		if u == userID {
			return w.recipientOn(i, shard)
		}
	}
	return false
}

func (c *collector) Deliver(ev *lobby.Event) {
	// To and Shards share one array: one allocation, not two (a split
	// lobby's relay makes one of these per send).
	n := len(ev.To)
	both := make([]string, 2*n)
	copy(both, ev.To)
	w := wireEvent{
		Name: ev.Name, To: both[:n:n], Shards: both[n:],
		Member: ev.Member, Lobby: ev.Lobby, UserID: ev.UserID, Reason: ev.Reason,
		From: ev.From, Text: ev.Text, TS: ev.TS, Data: append([]byte(nil), ev.Data...), MatchID: ev.MatchID,
	}
	if n == 0 {
		w.To = nil // encoded as nil, as before
	}
	for i, u := range ev.To {
		if m := c.doc.Member(u); m != nil {
			w.Shards[i] = m.Shard
		}
	}
	wc := wireCoders.Get().(*wireCoder)
	wc.buf.Reset()
	if err := w.EncodeMsgpack(wc.enc); err != nil && c.err == nil {
		c.err = err
	}
	c.events = append(c.events, w)
	c.encoded = append(c.encoded, wc.buf.String())
	wireCoders.Put(wc)
}

// wireCoder is a reusable encoder and decoder of wire events (the hot path
// of a split lobby: one of each per event and shard).
type wireCoder struct {
	buf bytes.Buffer
	enc *msgpack.Encoder
	src strings.Reader
	dec *msgpack.Decoder
}

var wireCoders = sync.Pool{New: func() any {
	wc := &wireCoder{}
	wc.enc = msgpack.NewEncoder(&wc.buf)
	wc.dec = msgpack.NewDecoder(&wc.src)
	return wc
}}

// message is one publication of the commit script (scripts/lobby_commit.lua).
type message struct {
	lobbyID        string
	first, version uint64
	events         []wireEvent
	doc            []byte // nil: unchanged
	deleted        bool
}

var errBadMessage = errors.New("cluster: malformed lobby message")

// parseMessage reads "<id> <first> <version> <n> <doclen> " doc events.
func parseMessage(p string) (message, error) {
	var m message
	sp := strings.IndexByte(p, ' ')
	if sp < 1 {
		return m, errBadMessage
	}
	m.lobbyID, p = p[:sp], p[sp+1:]
	var nums [4]int64
	for i := range nums {
		sp := strings.IndexByte(p, ' ')
		if sp < 0 {
			return m, errBadMessage
		}
		n, err := strconv.ParseInt(p[:sp], 10, 64)
		if err != nil {
			return m, errBadMessage
		}
		nums[i], p = n, p[sp+1:]
	}
	if nums[0] < 1 || nums[1] < 0 || nums[2] < 0 || nums[3] < -1 || nums[3] > int64(len(p)) || nums[2] > int64(len(p)) {
		return m, errBadMessage
	}
	m.first, m.version = uint64(nums[0]), uint64(nums[1])
	switch {
	case nums[3] == -1:
		m.deleted = true
	case nums[3] > 0:
		m.doc = []byte(p[:nums[3]])
		p = p[nums[3]:]
	}
	m.events = make([]wireEvent, nums[2])
	for i := range m.events {
		var err error
		if m.events[i], p, err = decodeWireEventString(p); err != nil {
			return m, errBadMessage
		}
	}
	return m, nil
}

// entryOffset parses a log entry id "<offset>-1".
func entryOffset(id string) (uint64, bool) {
	o, _, ok := strings.Cut(id, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(o, 10, 64)
	return n, err == nil
}
