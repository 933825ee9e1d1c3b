package gateway

import (
	"context"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/matchmaking"
	"github.com/lobbyd/lobbyd/protocol"
)

// FuzzHandleMessage drives one session's messages through the whole
// request path (envelope, body decoding, lobby and matchmaking rules,
// replies, fan-out) with arbitrary bytes. It must never panic, and a
// message that decodes as a request with a rid gets exactly one reply with
// that rid.
func FuzzHandleMessage(f *testing.F) {
	seed := func(op string, d any) {
		m := map[string]any{"op": op, "rid": 7}
		if d != nil {
			m["d"] = d
		}
		b, err := msgpack.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	seed("ping", nil)
	seed("lobby.create", map[string]any{"name": "x", "max_players": 4, "visibility": "public", "attrs": map[string]any{"k": 1}, "data": map[string]any{"a": []byte{1}}})
	seed("lobby.join", map[string]any{"code": "ABCDEF", "password": "p"})
	seed("lobby.leave", nil)
	seed("lobby.update", map[string]any{"name": "y", "max_players": 3, "locked": true, "password": ""})
	seed("lobby.set_member", map[string]any{"ready": true, "data": map[string]any{}})
	seed("lobby.kick", map[string]any{"user_id": "b"})
	seed("lobby.transfer_host", map[string]any{"user_id": "b"})
	seed("lobby.chat", map[string]any{"text": "hi"})
	seed("lobby.send", map[string]any{"data": []byte("payload"), "to": []string{"b"}})
	seed("lobby.start", nil)
	seed("mm.enqueue", map[string]any{"queue": "duel", "skill": 1.5, "party": true})
	seed("mm.cancel", map[string]any{"ticket_id": "t"})
	seed("nope", nil)
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})

	g, store := testGateway(f, 16, 1<<16)
	// No rate limit: the fuzzer sends thousands a second on one connection,
	// and past 10 × burst refusals the gateway closes it (4008) without a
	// reply. The limit a message meets is the live settings', so they are
	// stored again (testGateway stored the defaults).
	g.opts.RatePerSecond, g.opts.RateBurst = 1e9, 1<<30
	g.settings.Store(g.opts.live())
	mm, err := matchmaking.NewService(nil, matchmaking.NewMemoryStore(), Wiring{g: g}.MatchLobbies(store), matchSink{g}, matchmaking.Options{})
	if err != nil {
		f.Fatal(err)
	}
	g.mm = mm
	wa, wb := &recordingWriter{}, &recordingWriter{}
	sa := attachFake(g, "a", wa)
	attachFake(g, "b", wb)
	// b hosts a lobby, so joins, kicks and transfers have something to act on.
	if _, err := store.Create(context.Background(), lobby.Actor{UserID: "b", Name: "b"}, protocol.CreateLobby{Name: "b's", MaxPlayers: 8, Visibility: "public"}); err != nil {
		f.Fatal(err)
	}
	cs := sa.cs

	f.Fuzz(func(t *testing.T, msg []byte) {
		wa.mu.Lock()
		wa.msgs = wa.msgs[:0]
		wa.mu.Unlock()
		var req protocol.Request
		decodable := protocol.DecodeRequest(append([]byte(nil), msg...), &req) == nil
		g.handleMessage(wa, cs, append([]byte(nil), msg...))
		if !decodable || req.Rid == 0 {
			return
		}
		replies := 0
		for _, m := range wa.decoded(t) {
			if _, isEvent := m["ev"]; isEvent {
				continue
			}
			if rid, ok := asUint(m["rid"]); ok && rid == uint64(req.Rid) {
				replies++
			} else {
				t.Fatalf("reply with another rid: %v", m)
			}
		}
		if replies != 1 {
			t.Fatalf("%d replies to rid %d (op %q)", replies, req.Rid, req.Op)
		}
	})
}

// asUint reads any msgpack-decoded integer.
func asUint(v any) (uint64, bool) {
	switch n := v.(type) {
	case uint8:
		return uint64(n), true
	case uint16:
		return uint64(n), true
	case uint32:
		return uint64(n), true
	case uint64:
		return n, true
	case int8:
		return uint64(n), n >= 0
	case int16:
		return uint64(n), n >= 0
	case int32:
		return uint64(n), n >= 0
	case int64:
		return uint64(n), n >= 0
	}
	return 0, false
}
