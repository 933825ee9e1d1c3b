package client

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// SocketIODialer dials the Express + Socket.IO baseline with Socket.IO's own
// transport: Engine.IO v4 over a websocket-only connection
// (/socket.io/?EIO=4&transport=websocket), Socket.IO v5 packets in text
// frames. It is written here rather than taken from a Go Socket.IO library
// on purpose: the load generator must spend as little CPU per message as the
// msgpack client does, and the few packet shapes it needs are fixed strings.
//
// Payloads travel as 64-character strings (16 hex digits of the send time,
// then padding), not as binary attachments: a Socket.IO binary event costs a
// placeholder text frame plus a binary frame, so the string form is the
// baseline's cheaper path and the fairer comparison.
type SocketIODialer struct {
	// Addr is host:port of the server.
	Addr string

	once   sync.Once
	dialer websocket.Dialer
}

func (d *SocketIODialer) init() {
	d.once.Do(func() {
		d.dialer = websocket.Dialer{
			HandshakeTimeout: 10 * time.Second,
			ReadBufferSize:   2048,
			WriteBufferPool:  &sync.Pool{},
			WriteBufferSize:  512,
		}
	})
}

// Dial implements Dialer: Engine.IO open, then a Socket.IO CONNECT to "/".
func (d *SocketIODialer) Dial(ctx context.Context, user string, onData Handler) (Conn, error) {
	d.init()
	u := "ws://" + d.Addr + "/socket.io/?EIO=4&transport=websocket&user=" + url.QueryEscape(user)
	ws, resp, err := d.dialer.DialContext(ctx, u, nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial: %w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, fmt.Errorf("dial: %w", err)
	}
	ws.SetReadLimit(maxFrame)
	if dl, ok := ctx.Deadline(); ok {
		_ = ws.SetReadDeadline(dl)
	}
	fail := func(err error) (Conn, error) {
		_ = ws.Close()
		return nil, err
	}
	_, open, err := ws.ReadMessage()
	if err != nil {
		return fail(fmt.Errorf("engine.io open: %w", err))
	}
	if len(open) == 0 || open[0] != '0' {
		return fail(fmt.Errorf("engine.io open: unexpected %q", open))
	}
	_ = ws.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := ws.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
		return fail(fmt.Errorf("socket.io connect: %w", err))
	}
	for {
		_, m, err := ws.ReadMessage()
		if err != nil {
			return fail(fmt.Errorf("socket.io connect: %w", err))
		}
		if bytes.HasPrefix(m, []byte("40")) {
			break
		}
		if bytes.HasPrefix(m, []byte("44")) {
			return fail(fmt.Errorf("socket.io connect refused: %s", m[2:]))
		}
		if bytes.Equal(m, []byte("2")) {
			_ = ws.WriteMessage(websocket.TextMessage, []byte("3"))
		}
	}
	_ = ws.SetReadDeadline(time.Time{})
	c := &sioConn{ws: ws, onData: onData, done: make(chan struct{}), replies: make(chan reply, 1)}
	go c.readLoop()
	return c, nil
}

// sioConn is a Conn speaking Socket.IO.
type sioConn struct {
	ws     *websocket.Conn
	onData Handler
	done   chan struct{}

	writeMu sync.Mutex
	sendBuf []byte // guarded by writeMu
	chatBuf []byte // guarded by writeMu
	reqMu   sync.Mutex
	ack     atomic.Uint32
	replies chan reply
	closed  atomic.Bool
}

var (
	sioDataPrefix = []byte(`42["data",`)
	sioChatPrefix = []byte(`42["chat",`)
	sioSendPrefix = []byte(`42["send","`)
	sioSayPrefix  = []byte(`42["chat","`)
)

func (c *sioConn) readLoop() {
	defer close(c.done)
	for {
		_, m, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		switch {
		case bytes.HasPrefix(m, sioDataPrefix), bytes.HasPrefix(m, sioChatPrefix):
			// 42["data","<from>","<64 chars>"], 42["chat","<from>","<64 chars>"]
			n := len(m)
			if n < len(sioDataPrefix)+PayloadSize+3 || m[n-1] != ']' || m[n-2] != '"' || m[n-3-PayloadSize] != '"' {
				continue
			}
			var ts [8]byte
			if _, err := hex.Decode(ts[:], m[n-2-PayloadSize:n-2-PayloadSize+16]); err == nil && c.onData != nil {
				c.onData(int64(binary.BigEndian.Uint64(ts[:])))
			}
		case bytes.HasPrefix(m, []byte("43")):
			// 43<id>[...]
			i := 2
			for i < len(m) && m[i] >= '0' && m[i] <= '9' {
				i++
			}
			id, err := strconv.ParseUint(string(m[2:i]), 10, 32)
			if err != nil {
				continue
			}
			select {
			case c.replies <- reply{rid: id, body: m[i:]}:
			default:
			}
		case len(m) == 1 && m[0] == '2': // Engine.IO ping: answer pong
			c.writeMu.Lock()
			err := c.write([]byte("3"))
			c.writeMu.Unlock()
			if err != nil {
				return
			}
		case len(m) > 0 && m[0] == '1': // Engine.IO close
			return
		}
	}
}

func (c *sioConn) write(b []byte) error {
	if c.closed.Load() {
		return ErrClosed
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// call emits an event with an ack id and waits for the ack.
func (c *sioConn) call(ctx context.Context, event string, d any, out any) error {
	c.reqMu.Lock()
	defer c.reqMu.Unlock()
	id := uint64(c.ack.Add(1))
	args, err := json.Marshal([]any{event, d})
	if err != nil {
		return err
	}
	b := append(strconv.AppendUint([]byte("42"), id, 10), args...)
	c.writeMu.Lock()
	err = c.write(b)
	c.writeMu.Unlock()
	if err != nil {
		return err
	}
	for {
		select {
		case r := <-c.replies:
			if r.rid != id {
				continue
			}
			var res []json.RawMessage
			var env struct {
				OK  bool `json:"ok"`
				Err struct {
					Code string `json:"code"`
				} `json:"err"`
			}
			if err := json.Unmarshal(r.body, &res); err != nil || len(res) != 1 {
				return fmt.Errorf("%s: bad ack %q", event, r.body)
			}
			if err := json.Unmarshal(res[0], &env); err != nil {
				return fmt.Errorf("%s: bad ack: %w", event, err)
			}
			if !env.OK {
				return &ReplyError{Op: event, Code: env.Err.Code}
			}
			if out != nil {
				return json.Unmarshal(res[0], out)
			}
			return nil
		case <-c.done:
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (c *sioConn) Create(ctx context.Context, name string, max int) (string, error) {
	var out struct {
		Lobby struct {
			ID string `json:"id"`
		} `json:"lobby"`
	}
	err := c.call(ctx, "create", map[string]any{"name": name, "max_players": max, "visibility": "public"}, &out)
	if err == nil && out.Lobby.ID == "" {
		err = fmt.Errorf("create: ack without lobby id")
	}
	return out.Lobby.ID, err
}

func (c *sioConn) Join(ctx context.Context, id string) error {
	return c.call(ctx, "join", map[string]any{"lobby_id": id}, nil)
}

func (c *sioConn) Leave(ctx context.Context) error {
	return c.call(ctx, "leave", map[string]any{}, nil)
}

// Send emits 42["send","<16 hex digits of sentAt><48 x>"].
func (c *sioConn) Send(sentAt int64) error { return c.emit(&c.sendBuf, sioSendPrefix, sentAt) }

// Chat emits 42["chat","<16 hex digits of sentAt><48 x>"]: the server
// sends it to the whole room, the sender included (io.to(room).emit).
func (c *sioConn) Chat(sentAt int64) error { return c.emit(&c.chatBuf, sioSayPrefix, sentAt) }

// emit writes prefix, the stamped payload and `"]` from a buffer kept in
// *buf for the next message.
func (c *sioConn) emit(buf *[]byte, prefix []byte, sentAt int64) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if *buf == nil {
		b := make([]byte, 0, len(prefix)+PayloadSize+2)
		b = append(b, prefix...)
		b = append(b, bytes.Repeat([]byte{'x'}, PayloadSize)...)
		*buf = append(b, '"', ']')
	}
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(sentAt))
	hex.Encode((*buf)[len(prefix):], ts[:])
	return c.write(*buf)
}

func (c *sioConn) Close() error {
	if c.closed.Swap(true) {
		<-c.done
		return nil
	}
	c.writeMu.Lock()
	// Socket.IO DISCONNECT, then the WebSocket close.
	_ = c.ws.SetWriteDeadline(time.Now().Add(time.Second))
	_ = c.ws.WriteMessage(websocket.TextMessage, []byte("41"))
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.writeMu.Unlock()
	err := c.ws.Close()
	<-c.done
	return err
}
