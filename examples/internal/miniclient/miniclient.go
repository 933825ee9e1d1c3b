// Package miniclient is the smallest useful lobbyd client, shared by the
// examples so that each of them shows its own logic rather than the same
// plumbing three times. It is a reading aid for client authors in any
// language, not an SDK: it speaks docs/protocol.md directly with a generic
// WebSocket library (gorilla/websocket) and a generic MessagePack library
// (vmihailenco/msgpack), and does nothing a client in another language could
// not do the same way.
//
// What it shows: a guest token over HTTP (dev mode), the handshake and the
// welcome, requests with a client-chosen rid matched to their reply, and
// events delivered in seq order. It does not resume a dropped session (a
// real client keeps welcome's resume_token and the last seq it saw, and
// reconnects with them: docs/protocol.md, "Sessions and resume").
//
// Concurrency: one goroutine reads the socket; Call, Send and Close may be
// used from any goroutine. Read Events while you Call: the reader holds at
// most 256 unread events, then waits, and replies wait behind it.
package miniclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"
)

// Welcome is the welcome event's payload (seq 0, first on every connection).
type Welcome struct {
	SessionID   string             `msgpack:"session_id"`
	UserID      string             `msgpack:"user_id"`
	Name        string             `msgpack:"name"`
	ResumeToken string             `msgpack:"resume_token"`
	Resumed     bool               `msgpack:"resumed"`
	Shard       string             `msgpack:"shard"`
	HeartbeatMs int64              `msgpack:"heartbeat_ms"`
	Lobby       msgpack.RawMessage `msgpack:"lobby"`
}

// Event is a server event: name, the session's seq (0 for welcome and
// server.draining) and the payload, decoded on demand with Decode.
type Event struct {
	Ev  string
	Seq uint64
	D   msgpack.RawMessage
}

// Decode decodes the event's payload into v.
func (e Event) Decode(v any) error { return msgpack.Unmarshal(e.D, v) }

// Error is a refused request: err.code and err.msg of the reply.
type Error struct {
	Code string `msgpack:"code"`
	Msg  string `msgpack:"msg"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Msg }

// envelope is every server message: a reply has rid and ok, an event has ev.
type envelope struct {
	Ev  string             `msgpack:"ev"`
	Seq uint64             `msgpack:"seq"`
	Rid uint32             `msgpack:"rid"`
	OK  *bool              `msgpack:"ok"`
	D   msgpack.RawMessage `msgpack:"d"`
	Err *Error             `msgpack:"err"`
}

// Guest asks a dev-mode server for a guest token (POST /v1/auth/guest).
func Guest(ctx context.Context, addr, name string) (token string, err error) {
	body, _ := json.Marshal(map[string]string{"name": name})
	req, err := http.NewRequestWithContext(ctx, "POST", "http://"+addr+"/v1/auth/guest", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Token string `json:"token"`
		Error *Error `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", fmt.Errorf("guest token: HTTP %d: %w", resp.StatusCode, err)
	}
	if out.Error != nil {
		return "", out.Error
	}
	return out.Token, nil
}

// Client is one connection (one session at a time).
type Client struct {
	Welcome Welcome

	ws     *websocket.Conn
	events chan Event
	done   chan struct{} // closed when the read loop ends

	mu      sync.Mutex
	nextRid uint32
	waiting map[uint32]chan envelope
	err     error // why the read loop ended
}

// Dial opens the socket with token and reads the welcome.
func Dial(ctx context.Context, addr, token string) (*Client, error) {
	ws, resp, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+addr+"/ws?token="+url.QueryEscape(token), nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("handshake: HTTP %d: %w", resp.StatusCode, err)
		}
		return nil, err
	}
	c := &Client{ws: ws, events: make(chan Event, 256), done: make(chan struct{}),
		waiting: map[uint32]chan envelope{}}
	var first envelope
	if err := c.read(&first); err != nil {
		ws.Close()
		return nil, err
	}
	if first.Ev != "welcome" {
		ws.Close()
		return nil, fmt.Errorf("first message is %q, not welcome", first.Ev)
	}
	if err := msgpack.Unmarshal(first.D, &c.Welcome); err != nil {
		ws.Close()
		return nil, err
	}
	go c.readLoop()
	return c, nil
}

func (c *Client) read(m *envelope) error {
	typ, data, err := c.ws.ReadMessage()
	if err != nil {
		return err
	}
	if typ != websocket.BinaryMessage {
		return errors.New("server sent a text frame")
	}
	return msgpack.Unmarshal(data, m)
}

// readLoop hands replies to their callers and events to Events, in order.
func (c *Client) readLoop() {
	defer close(c.events)
	defer close(c.done)
	for {
		var m envelope
		if err := c.read(&m); err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		if m.Ev != "" {
			c.events <- Event{Ev: m.Ev, Seq: m.Seq, D: m.D}
			continue
		}
		c.mu.Lock()
		ch := c.waiting[m.Rid]
		delete(c.waiting, m.Rid)
		c.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
}

// Events delivers the session's events in seq order; closed when the
// connection ends (then Err says why).
func (c *Client) Events() <-chan Event { return c.events }

// Err is why the connection ended (a *websocket.CloseError carries the
// close code), or nil while it is open.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Call sends a request and waits for its reply; out (if not nil) receives
// the reply's d. A refusal is returned as *Error.
func (c *Client) Call(ctx context.Context, op string, d any, out any) error {
	ch := make(chan envelope, 1)
	c.mu.Lock()
	c.nextRid++
	if c.nextRid == 0 { // rid 0 means "no reply wanted"
		c.nextRid = 1
	}
	rid := c.nextRid
	c.waiting[rid] = ch
	c.mu.Unlock()
	if err := c.write(op, rid, d); err != nil {
		return err
	}
	select {
	case m := <-ch:
		if m.OK == nil || !*m.OK {
			if m.Err == nil {
				return errors.New("reply without ok or err")
			}
			return m.Err
		}
		if out != nil && len(m.D) > 0 {
			return msgpack.Unmarshal(m.D, out)
		}
		return nil
	case <-c.done:
		return fmt.Errorf("%s: connection closed: %w", op, c.Err())
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.waiting, rid)
		c.mu.Unlock()
		return ctx.Err()
	}
}

// Send sends a request with rid 0: no reply, not even for a refusal.
func (c *Client) Send(op string, d any) error { return c.write(op, 0, d) }

func (c *Client) write(op string, rid uint32, d any) error {
	req := map[string]any{"op": op, "rid": rid}
	if d != nil {
		req["d"] = d
	}
	b, err := msgpack.Marshal(req)
	if err != nil {
		return err
	}
	c.mu.Lock() // gorilla allows one writer at a time
	defer c.mu.Unlock()
	c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteMessage(websocket.BinaryMessage, b)
}

// Close ends the connection with close code 1000 and waits for the read
// loop.
func (c *Client) Close() error {
	c.mu.Lock()
	c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(time.Second))
	c.mu.Unlock()
	select {
	case <-c.done:
	case <-time.After(2 * time.Second):
	}
	return c.ws.Close()
}
