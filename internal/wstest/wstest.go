// Package wstest is a player for tests outside the gateway: it dials
// lobbyd's WebSocket with a token and sends requests whose replies it
// waits for, skipping events. It is for tests that need a lobby to exist
// (an HTTP listing, a CLI's output), not for testing the protocol itself:
// e2e has the full client for that.
package wstest

import (
	"net/url"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"
)

// Player is one WebSocket connection of a test.
type Player struct {
	t  testing.TB
	ws *websocket.Conn
}

// Dial connects to the lobbyd at addr (host:port) with a JWT; the
// connection is closed when the test ends.
func Dial(t testing.TB, addr, token string) *Player {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws?token="+url.QueryEscape(token), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return &Player{t: t, ws: ws}
}

// Call sends a request and returns its reply's d, skipping events; a
// refusal or no reply within 15 s fails the test.
func (p *Player) Call(op string, d map[string]any) map[string]any {
	p.t.Helper()
	req, _ := msgpack.Marshal(map[string]any{"op": op, "rid": 1, "d": d})
	if err := p.ws.WriteMessage(websocket.BinaryMessage, req); err != nil {
		p.t.Fatal(err)
	}
	for {
		p.ws.SetReadDeadline(time.Now().Add(15 * time.Second))
		_, b, err := p.ws.ReadMessage()
		if err != nil {
			p.t.Fatal(err)
		}
		var m map[string]any
		if err := msgpack.Unmarshal(b, &m); err != nil {
			p.t.Fatal(err)
		}
		if _, isEvent := m["ev"]; isEvent {
			continue
		}
		if m["ok"] != true {
			p.t.Fatalf("%s refused: %v", op, m["err"])
		}
		d, _ := m["d"].(map[string]any)
		return d
	}
}
