package soak

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"
)

// slowConn is a connection that reads only while allowed to: between
// drains the socket is left unread, as a stalled client would leave it.
type slowConn struct {
	ws         *websocket.Conn
	allowUntil atomic.Int64 // unix ns until which the reader may read
	code       atomic.Int64 // close code once the connection ended
	replies    chan msg
	done       chan struct{}
}

func dialRaw(ctx context.Context, addr, token string) (*slowConn, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 1024, NetDialContext: dialTCP}
	ws, resp, err := d.DialContext(ctx, "ws://"+addr+"/ws?"+url.Values{"token": {token}}.Encode(), nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial: HTTP %d: %w", resp.StatusCode, err)
		}
		return nil, err
	}
	ws.SetReadLimit(1 << 20)
	c := &slowConn{ws: ws, replies: make(chan msg, 1), done: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

func (c *slowConn) readLoop() {
	defer close(c.done)
	for {
		for time.Now().UnixNano() >= c.allowUntil.Load() {
			time.Sleep(20 * time.Millisecond)
		}
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			code := int64(1006)
			if errors.As(err, &ce) {
				code = int64(ce.Code)
			}
			c.code.Store(code)
			return
		}
		var m msg
		if msgpack.Unmarshal(b, &m) == nil && m["rid"] != nil && m["ev"] == nil {
			select {
			case c.replies <- m:
			default:
			}
		}
	}
}

var errAlreadyIn = errors.New("lobby.join: already_in_lobby")

// joinByCode joins a lobby, reading until the reply comes.
func (c *slowConn) joinByCode(code string) error {
	b, _ := msgpack.Marshal(map[string]any{"op": "lobby.join", "rid": 1, "d": map[string]any{"code": code}})
	_ = c.ws.SetWriteDeadline(time.Now().Add(callTimeout))
	if err := c.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		return err
	}
	c.allowUntil.Store(time.Now().Add(callTimeout).UnixNano())
	defer c.allowUntil.Store(0)
	select {
	case m := <-c.replies:
		if m.errCode() == "already_in_lobby" {
			return errAlreadyIn
		}
		if m["ok"] != true {
			return fmt.Errorf("lobby.join: %s", m.errCode())
		}
		return nil
	case <-c.done:
		return errClosed
	case <-time.After(callTimeout):
		return errors.New("lobby.join: no reply")
	}
}

// drain reads for d, then stops reading again. It returns the close code
// if the connection has ended (0 while open).
func (c *slowConn) drain(d time.Duration) int {
	c.allowUntil.Store(time.Now().Add(d).UnixNano())
	select {
	case <-c.done:
	case <-time.After(d):
	}
	return int(c.code.Load())
}

// Close ends the connection and waits for the reader.
func (c *slowConn) Close() {
	_ = c.ws.Close()
	c.allowUntil.Store(time.Now().Add(time.Hour).UnixNano())
	<-c.done
}
