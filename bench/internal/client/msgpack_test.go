package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"
)

// fakeLobbyd speaks the part of docs/protocol.md the msgpack dialer uses: guest
// tokens, the welcome frame, replies by rid, and lobby.data events (echoed to
// the sender here, so one connection sees its own relay).
func fakeLobbyd(t *testing.T) *httptest.Server {
	up := websocket.Upgrader{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/auth/guest", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Name string }
		if json.NewDecoder(r.Body).Decode(&in) != nil || in.Name == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"token": "tok-" + in.Name, "user_id": in.Name})
	})
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Query().Get("token"), "tok-") {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		send := func(v any) {
			b, _ := msgpack.Marshal(v)
			_ = c.WriteMessage(websocket.BinaryMessage, b)
		}
		send(map[string]any{"ev": "welcome", "seq": 0, "d": map[string]any{"user_id": "u"}})
		inLobby := false
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			var req struct {
				Op  string         `msgpack:"op"`
				Rid uint32         `msgpack:"rid"`
				D   map[string]any `msgpack:"d"`
			}
			if err := msgpack.Unmarshal(msg, &req); err != nil {
				t.Errorf("server: bad request frame: %v", err)
				return
			}
			switch req.Op {
			case "lobby.create":
				inLobby = true
				send(map[string]any{"ev": "lobby.member_joined", "seq": 1, "d": map[string]any{}}) // ignored by the client
				send(map[string]any{"rid": req.Rid, "ok": true, "d": map[string]any{"lobby": map[string]any{"id": "L1", "code": "ABCDEF"}}})
			case "lobby.join":
				send(map[string]any{"rid": req.Rid, "ok": false, "err": map[string]any{"code": "already_in_lobby", "msg": "x"}})
			case "lobby.leave":
				if !inLobby {
					send(map[string]any{"rid": req.Rid, "ok": false, "err": map[string]any{"code": "not_in_lobby", "msg": "x"}})
					continue
				}
				inLobby = false
				send(map[string]any{"rid": req.Rid, "ok": true, "d": map[string]any{}})
			case "lobby.send":
				if req.Rid != 0 {
					t.Errorf("server: lobby.send with rid %d", req.Rid)
				}
				send(map[string]any{"ev": "lobby.data", "seq": 2, "d": map[string]any{"from": "u", "data": req.D["data"]}})
			}
		}
	})
	return httptest.NewServer(mux)
}

func TestMsgpackDialer(t *testing.T) {
	srv := fakeLobbyd(t)
	defer srv.Close()
	got := make(chan int64, 1)
	d := &MsgpackDialer{Addr: strings.TrimPrefix(srv.URL, "http://"), GuestAuth: true}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := d.Dial(ctx, "alice", func(sentAt int64) { got <- sentAt })
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id, err := c.Create(ctx, "room", 8)
	if err != nil || id != "L1" {
		t.Fatalf("Create = %q, %v", id, err)
	}
	var re *ReplyError
	if err := c.Join(ctx, "L2"); !errors.As(err, &re) || re.Code != "already_in_lobby" {
		t.Fatalf("Join = %v, want already_in_lobby", err)
	}
	if err := c.Send(1234567890123); err != nil {
		t.Fatal(err)
	}
	select {
	case ts := <-got:
		if ts != 1234567890123 {
			t.Fatalf("relayed stamp %d", ts)
		}
	case <-ctx.Done():
		t.Fatal("no lobby.data")
	}
	if err := c.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Leave(ctx); !errors.As(err, &re) || re.Code != "not_in_lobby" {
		t.Fatalf("second Leave = %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close = %v", err)
	}
}

func TestMsgpackDialerRefused(t *testing.T) {
	srv := fakeLobbyd(t)
	defer srv.Close()
	d := &MsgpackDialer{Addr: strings.TrimPrefix(srv.URL, "http://")} // no token: 401
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := d.Dial(ctx, "bob", nil); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("Dial without token = %v, want HTTP 401", err)
	}
}

// TestReplyOutcome reads replies as lobbyd writes them, without a decoder.
func TestReplyOutcome(t *testing.T) {
	enc := func(v any) []byte {
		b, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	created := enc(map[string]any{"rid": 7, "ok": true, "d": map[string]any{"lobby": map[string]any{
		"name": "x", "members": []any{map[string]any{"user_id": "u", "data": map[string]any{"k": 1}}}, "id": "L1", "max_players": 8}}})
	if ok, code, id, good := replyOutcome(created); !good || !ok || code != nil || string(id) != "L1" {
		t.Errorf("create reply: ok %v code %q id %q good %v", ok, code, id, good)
	}
	refused := enc(map[string]any{"rid": 8, "ok": false, "err": map[string]any{"code": "lobby_full", "msg": "full"}})
	if ok, code, _, good := replyOutcome(refused); !good || ok || string(code) != "lobby_full" {
		t.Errorf("refusal: ok %v code %q good %v", ok, code, good)
	}
	if _, _, _, good := replyOutcome(enc(map[string]any{"rid": 9, "ok": true, "d": map[string]any{}})); !good {
		t.Error("empty d: not good")
	}
	for _, bad := range [][]byte{nil, {0x81}, enc([]any{1}), enc(map[string]any{"rid": 1}), created[:len(created)-3]} {
		if _, _, _, good := replyOutcome(bad); good {
			t.Errorf("%x read as a good reply", bad)
		}
	}
}
