package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"
)

// callTimeout bounds every request's wait for its reply.
const callTimeout = 10 * time.Second

// connectRetries counts TCP connects that timed out and were tried again.
var connectRetries atomic.Int64

// dialTCP connects with a 4 s timeout and tries once more when that times
// out. The kernel, not lobbyd, answers a SYN (lobbyd's listen queue never
// overflowed in these runs), and on a loaded machine a SYN that meets a
// TIME_WAIT of an earlier loopback connection with the same ports can go
// unanswered: a retry tells that apart from a server that is not there.
func dialTCP(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 4 * time.Second}
	c, err := d.DialContext(ctx, network, addr)
	var ne net.Error
	if err != nil && errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil {
		connectRetries.Add(1)
		return d.DialContext(ctx, network, addr)
	}
	return c, err
}

// newHTTPClient is the soak's HTTP client (guest tokens, listings).
func newHTTPClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dialTCP, MaxIdleConnsPerHost: 16}}
}

// guest asks lobbyd (dev mode) for a player token.
func guest(ctx context.Context, hc *http.Client, addr, name string) (token, userID string, err error) {
	body, _ := json.Marshal(map[string]string{"name": name})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/v1/auth/guest", bytes.NewReader(body))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	var out struct {
		Token  string `json:"token"`
		UserID string `json:"user_id"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil || out.Token == "" {
		return "", "", fmt.Errorf("guest token: HTTP %d %q", resp.StatusCode, raw)
	}
	return out.Token, out.UserID, nil
}

// msg is one decoded server message.
type msg map[string]any

func (m msg) d() map[string]any { d, _ := m["d"].(map[string]any); return d }

func (m msg) errCode() string {
	e, _ := m["err"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// num reads any msgpack number as uint64 (negative or absent: 0).
func num(v any) uint64 {
	switch n := v.(type) {
	case uint8:
		return uint64(n)
	case uint16:
		return uint64(n)
	case uint32:
		return uint64(n)
	case uint64:
		return n
	case int8:
		return uint64(max(n, 0))
	case int16:
		return uint64(max(n, 0))
	case int32:
		return uint64(max(n, 0))
	case int64:
		return uint64(max(n, 0))
	}
	return 0
}

// wsConn is one player connection: requests with replies, events to a
// callback on the reader goroutine, the close code when it ends.
type wsConn struct {
	ws      *websocket.Conn
	welcome msg
	onEvent func(msg) // reader goroutine; must not block

	wmu sync.Mutex // writes
	rid atomic.Uint32

	mu      sync.Mutex
	pending map[uint32]chan msg
	closeCd int // close code received, 1006 without one
	done    chan struct{}
}

// dial opens a connection and waits for its welcome (the reader starts
// after it, so onEvent sees every numbered event). onWelcome, if set, runs
// with the welcome before the reader starts: what it writes, onEvent
// reads without a race.
func dial(ctx context.Context, addr, token, resume string, lastSeq uint64, onWelcome, onEvent func(msg)) (*wsConn, error) {
	q := url.Values{"token": {token}}
	if resume != "" {
		q.Set("resume", resume)
		q.Set("last_seq", strconv.FormatUint(lastSeq, 10))
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 4096, NetDialContext: dialTCP}
	ws, resp, err := d.DialContext(ctx, "ws://"+addr+"/ws?"+q.Encode(), nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial: HTTP %d: %w", resp.StatusCode, err)
		}
		return nil, err
	}
	ws.SetReadLimit(1 << 20)
	c := &wsConn{ws: ws, onEvent: onEvent, pending: map[uint32]chan msg{}, done: make(chan struct{})}
	_ = ws.SetReadDeadline(time.Now().Add(callTimeout))
	w, err := c.read()
	if err != nil || w["ev"] != "welcome" {
		ws.Close()
		return nil, fmt.Errorf("welcome: %v %v", w, err)
	}
	_ = ws.SetReadDeadline(time.Time{})
	c.welcome = w
	if onWelcome != nil {
		onWelcome(w)
	}
	go c.readLoop()
	return c, nil
}

func (c *wsConn) read() (msg, error) {
	_, b, err := c.ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	var m msg
	if err := msgpack.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

func (c *wsConn) readLoop() {
	defer close(c.done)
	for {
		m, err := c.read()
		if err != nil {
			var ce *websocket.CloseError
			c.mu.Lock()
			c.closeCd = 1006
			if errors.As(err, &ce) {
				c.closeCd = ce.Code
			}
			for rid, ch := range c.pending {
				close(ch)
				delete(c.pending, rid)
			}
			c.mu.Unlock()
			return
		}
		if _, ev := m["ev"]; ev {
			if c.onEvent != nil {
				c.onEvent(m)
			}
			continue
		}
		rid := uint32(num(m["rid"]))
		c.mu.Lock()
		ch := c.pending[rid]
		delete(c.pending, rid)
		c.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
}

func (c *wsConn) write(v any) error {
	b, err := msgpack.Marshal(v)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(callTimeout))
	return c.ws.WriteMessage(websocket.BinaryMessage, b)
}

// errClosed: the connection ended before the reply.
var errClosed = errors.New("connection closed")

// call sends a request and waits for its reply's d, or the refusal's code.
func (c *wsConn) call(op string, d any) (map[string]any, error) {
	rid := c.rid.Add(1)
	ch := make(chan msg, 1)
	c.mu.Lock()
	if c.closeCd != 0 {
		c.mu.Unlock()
		return nil, errClosed
	}
	c.pending[rid] = ch
	c.mu.Unlock()
	if err := c.write(map[string]any{"op": op, "rid": rid, "d": d}); err != nil {
		return nil, err
	}
	t := time.NewTimer(callTimeout)
	defer t.Stop()
	select {
	case m, ok := <-ch:
		if !ok {
			return nil, errClosed
		}
		if m["ok"] != true {
			return nil, fmt.Errorf("%s: %s", op, m.errCode())
		}
		return m.d(), nil
	case <-t.C:
		return nil, fmt.Errorf("%s: no reply in %v", op, callTimeout)
	}
}

// send is a request without a reply (rid 0).
func (c *wsConn) send(op string, d any) error { return c.write(map[string]any{"op": op, "d": d}) }

// drop cuts the TCP connection without a close handshake, as a lost
// network would, and waits for the reader.
func (c *wsConn) drop() {
	_ = c.ws.UnderlyingConn().Close()
	<-c.done
}

// close ends the connection with a normal close and waits for the reader.
func (c *wsConn) close() {
	c.wmu.Lock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
	c.wmu.Unlock()
	select {
	case <-c.done:
	case <-time.After(2 * time.Second):
	}
	_ = c.ws.Close()
	<-c.done
}

// code is the close code once the connection ended (0 while open).
func (c *wsConn) code() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeCd
}
