package client

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"
)

// MsgpackDialer dials servers that speak docs/protocol.md's msgpack envelopes.
type MsgpackDialer struct {
	// Addr is host:port of the server.
	Addr string
	// GuestAuth: when true, each Dial first gets a guest JWT from
	// POST /v1/auth/guest (lobbyd); when false the user id goes in the query
	// string as ?user= (the baselines' trivial auth).
	GuestAuth bool
	// HTTP is used for guest tokens; nil means a client with a 10 s timeout.
	HTTP *http.Client

	once   sync.Once
	dialer websocket.Dialer
	hc     *http.Client
}

func (d *MsgpackDialer) init() {
	d.once.Do(func() {
		d.dialer = websocket.Dialer{
			HandshakeTimeout: 10 * time.Second,
			ReadBufferSize:   2048,
			// Idle connections hold no write buffer: it is borrowed per
			// write, which keeps 10k idle client connections cheap.
			WriteBufferPool: &sync.Pool{},
			WriteBufferSize: 512,
		}
		d.hc = d.HTTP
		if d.hc == nil {
			d.hc = &http.Client{Timeout: 10 * time.Second, Transport: idleClosingTransport()}
		}
	})
}

// IdleConnTimeout is how long the load generator's HTTP clients keep an
// idle connection: less than a server's read timeout (lobbyd's is 10 s),
// which ends one that a burst dialled and never used with a 408 (logged
// as "Unsolicited response received on idle HTTP channel").
const IdleConnTimeout = 5 * time.Second

// idleClosingTransport is http.DefaultTransport with IdleConnTimeout.
func idleClosingTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.IdleConnTimeout = IdleConnTimeout
	return t
}

// guestToken asks lobbyd for a development token.
func (d *MsgpackDialer) guestToken(ctx context.Context, name string) (string, error) {
	body, _ := json.Marshal(map[string]string{"name": name})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+d.Addr+"/v1/auth/guest", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("guest token: HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(raw))
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.Token == "" {
		return "", fmt.Errorf("guest token: bad answer %q", raw)
	}
	return out.Token, nil
}

// Dial implements Dialer.
func (d *MsgpackDialer) Dial(ctx context.Context, user string, onData Handler) (Conn, error) {
	ws, _, err := d.open(ctx, user)
	if err != nil {
		return nil, err
	}
	c := &mpConn{ws: ws, onData: onData, done: make(chan struct{}), replies: make(chan reply, 1)}
	go c.readLoop()
	return c, nil
}

// open authenticates, upgrades and reads the welcome event, which it
// returns (a copy, the caller's to keep).
func (d *MsgpackDialer) open(ctx context.Context, user string) (*websocket.Conn, []byte, error) {
	d.init()
	q := url.Values{}
	if d.GuestAuth {
		tok, err := d.guestToken(ctx, user)
		if err != nil {
			return nil, nil, err
		}
		q.Set("token", tok)
	} else {
		q.Set("user", user)
	}
	ws, resp, err := d.dialer.DialContext(ctx, "ws://"+d.Addr+"/ws?"+q.Encode(), nil)
	if err != nil {
		if resp != nil {
			return nil, nil, fmt.Errorf("dial: %w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, nil, fmt.Errorf("dial: %w", err)
	}
	ws.SetReadLimit(maxFrame)
	// The first frame must be the welcome event.
	if dl, ok := ctx.Deadline(); ok {
		_ = ws.SetReadDeadline(dl)
	}
	_, first, err := ws.ReadMessage()
	if err != nil {
		_ = ws.Close()
		return nil, nil, fmt.Errorf("welcome: %w", err)
	}
	if k, _, _ := classify(first); k != frameOther || !bytes.Contains(first, []byte("welcome")) {
		_ = ws.Close()
		return nil, nil, fmt.Errorf("welcome: unexpected first frame %x", first[:min(len(first), 32)])
	}
	_ = ws.SetReadDeadline(time.Time{})
	return ws, first, nil
}

type reply struct {
	rid  uint64
	body []byte
}

// mpConn is a Conn speaking msgpack envelopes.
type mpConn struct {
	ws     *websocket.Conn
	onData Handler
	done   chan struct{} // closed when readLoop returns

	writeMu sync.Mutex // serializes writes
	sendBuf []byte     // guarded by writeMu
	chatBuf []byte     // guarded by writeMu
	reqMu   sync.Mutex // one request in flight
	rid     atomic.Uint32
	replies chan reply // readLoop → the waiting request
	closed  atomic.Bool

	reqBuf bytes.Buffer     // guarded by reqMu
	enc    *msgpack.Encoder // writes reqBuf; guarded by reqMu
}

// sendPrefix is {"op":"lobby.send","rid":0,"d":{"data":bin8(64)}} up to the
// payload bytes, keys in that order: the hot path writes it without an
// encoder, the payload last.
var sendPrefix = func() []byte {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	err := errors.Join(
		enc.EncodeMapLen(3),
		enc.EncodeString("op"), enc.EncodeString("lobby.send"),
		enc.EncodeString("rid"), enc.EncodeUint(0),
		enc.EncodeString("d"), enc.EncodeMapLen(1),
		enc.EncodeString("data"),
	)
	if err != nil {
		panic(err)
	}
	return append(buf.Bytes(), 0xc4, PayloadSize) // bin 8 header
}()

// chatPrefix is {"op":"lobby.chat","rid":0,"d":{"text":str8(64)}} up to
// the text: 16 hex digits of the send time, then padding, so a chat carries
// as many bytes as a relayed message.
var chatPrefix = func() []byte {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	err := errors.Join(
		enc.EncodeMapLen(3),
		enc.EncodeString("op"), enc.EncodeString("lobby.chat"),
		enc.EncodeString("rid"), enc.EncodeUint(0),
		enc.EncodeString("d"), enc.EncodeMapLen(1),
		enc.EncodeString("text"),
	)
	if err != nil {
		panic(err)
	}
	return append(buf.Bytes(), 0xd9, PayloadSize) // str 8 header
}()

// chatStamp reads the send time a chat text starts with (16 hex digits).
func chatStamp(text []byte) (int64, bool) {
	if len(text) < 16 {
		return 0, false
	}
	var v uint64
	for _, c := range text[:16] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			return 0, false
		}
		v = v<<4 | uint64(c)
	}
	return int64(v), true
}

// readAll appends one whole WebSocket message from r to buf, growing buf
// only when a message is larger than any before (io.ReadAll would allocate
// for every message).
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func (c *mpConn) readLoop() {
	defer close(c.done)
	buf := make([]byte, 0, 512)
	for {
		_, r, err := c.ws.NextReader()
		if err != nil {
			return
		}
		if buf, err = readAll(r, buf[:0]); err != nil {
			return
		}
		kind, rid, data := classify(buf)
		switch kind {
		case frameData:
			if len(data) >= 8 && c.onData != nil {
				c.onData(int64(binary.LittleEndian.Uint64(data)))
			}
		case frameChat:
			if at, ok := chatStamp(data); ok && c.onData != nil {
				c.onData(at)
			}
		case frameReply:
			select {
			case c.replies <- reply{rid: rid, body: bytes.Clone(buf)}:
			default: // nobody waiting (a reply to rid 0): drop
			}
		}
		if cap(buf) > 8192 { // do not keep a large buffer for an idle conn
			buf = make([]byte, 0, 512)
		}
	}
}

func (c *mpConn) write(b []byte) error {
	if c.closed.Load() {
		return ErrClosed
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
	return c.ws.WriteMessage(websocket.BinaryMessage, b)
}

// call sends one request, {"op": op, "rid": rid, "d": {kv...}} (kv: keys
// and string or int values, alternating), and waits for its reply; it
// returns the reply's d.lobby.id when there is one. Requests are encoded
// into a buffer of the connection's and replies read with the scanner, so
// that churn measures the server rather than the load generator's
// MessagePack.
func (c *mpConn) call(ctx context.Context, op string, kv ...any) (lobbyID string, err error) {
	c.reqMu.Lock()
	defer c.reqMu.Unlock()
	rid := uint64(c.rid.Add(1))
	if rid == 0 {
		rid = uint64(c.rid.Add(1))
	}
	b, err := c.request(op, rid, kv)
	if err != nil {
		return "", err
	}
	c.writeMu.Lock()
	err = c.write(b)
	c.writeMu.Unlock()
	if err != nil {
		return "", err
	}
	for {
		select {
		case r := <-c.replies:
			if r.rid != rid {
				continue // a late reply to an earlier, abandoned request
			}
			ok, code, id, good := replyOutcome(r.body)
			if !good {
				return "", fmt.Errorf("%s: bad reply", op)
			}
			if !ok {
				return "", &ReplyError{Op: op, Code: string(code)}
			}
			return string(id), nil
		case <-c.done:
			return "", ErrClosed
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// request encodes a request into the connection's buffer (reqMu held).
func (c *mpConn) request(op string, rid uint64, kv []any) ([]byte, error) {
	c.reqBuf.Reset()
	if c.enc == nil {
		c.enc = msgpack.NewEncoder(&c.reqBuf)
	}
	e := c.enc
	err := errors.Join(e.EncodeMapLen(3), e.EncodeString("op"), e.EncodeString(op),
		e.EncodeString("rid"), e.EncodeUint(rid), e.EncodeString("d"), e.EncodeMapLen(len(kv)/2))
	for i := 0; i+1 < len(kv) && err == nil; i += 2 {
		k, _ := kv[i].(string)
		err = e.EncodeString(k)
		switch v := kv[i+1].(type) {
		case string:
			err = errors.Join(err, e.EncodeString(v))
		case int:
			err = errors.Join(err, e.EncodeInt(int64(v)))
		default:
			err = fmt.Errorf("request %s: value of %s is a %T", op, k, v)
		}
	}
	return c.reqBuf.Bytes(), err
}

// replyOutcome reads a reply envelope: its "ok", err.code when not ok, and
// d.lobby.id when present (sub-slices of b); good is false when b is not a
// well-formed reply.
func replyOutcome(b []byte) (ok bool, code, lobbyID []byte, good bool) {
	s := scanner{b: b}
	sawOK := false
	good = s.fields(func(k []byte) bool {
		switch string(k) {
		case "ok":
			c, more := s.byte1()
			ok, sawOK = c == 0xc3, more && (c == 0xc3 || c == 0xc2)
			return sawOK
		case "err":
			return s.fields(func(k []byte) bool {
				if string(k) != "code" {
					return s.skip(1)
				}
				var more bool
				code, more = s.raw()
				return more
			})
		case "d":
			if s.i < len(s.b) && s.b[s.i] == 0xc0 { // nil
				s.i++
				return true
			}
			return s.fields(func(k []byte) bool {
				if string(k) != "lobby" {
					return s.skip(1)
				}
				return s.fields(func(k []byte) bool {
					if string(k) != "id" {
						return s.skip(2)
					}
					var more bool
					lobbyID, more = s.raw()
					return more
				})
			})
		default:
			return s.skip(0)
		}
	})
	return ok, code, lobbyID, good && sawOK
}

func (c *mpConn) Create(ctx context.Context, name string, max int) (string, error) {
	id, err := c.call(ctx, "lobby.create", "name", name, "max_players", max, "visibility", "public")
	if err == nil && id == "" {
		err = fmt.Errorf("lobby.create: reply without lobby id")
	}
	return id, err
}

func (c *mpConn) Join(ctx context.Context, id string) error {
	_, err := c.call(ctx, "lobby.join", "lobby_id", id)
	return err
}

func (c *mpConn) Leave(ctx context.Context) error {
	_, err := c.call(ctx, "lobby.leave")
	return err
}

func (c *mpConn) Send(sentAt int64) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if c.sendBuf == nil {
		c.sendBuf = make([]byte, len(sendPrefix)+PayloadSize)
		copy(c.sendBuf, sendPrefix)
		for i := len(sendPrefix) + 8; i < len(c.sendBuf); i++ {
			c.sendBuf[i] = 'x'
		}
	}
	binary.LittleEndian.PutUint64(c.sendBuf[len(sendPrefix):], uint64(sentAt))
	return c.write(c.sendBuf)
}

// Chat sends one lobby.chat whose text carries sentAt, asking for no reply.
// Everyone in the lobby gets it, the sender included.
func (c *mpConn) Chat(sentAt int64) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.write(c.chatFrame(sentAt))
}

// chatFrame is the chat request stamped with sentAt, in chatBuf (writeMu
// held).
func (c *mpConn) chatFrame(sentAt int64) []byte {
	if c.chatBuf == nil {
		c.chatBuf = make([]byte, len(chatPrefix)+PayloadSize)
		copy(c.chatBuf, chatPrefix)
		for i := len(chatPrefix) + 16; i < len(c.chatBuf); i++ {
			c.chatBuf[i] = 'x'
		}
	}
	const hexDigits = "0123456789abcdef"
	t := c.chatBuf[len(chatPrefix):]
	for i := 15; i >= 0; i-- {
		t[i] = hexDigits[sentAt&0xf]
		sentAt >>= 4
	}
	return c.chatBuf
}

func (c *mpConn) Close() error {
	if c.closed.Swap(true) {
		<-c.done
		return nil
	}
	c.writeMu.Lock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.writeMu.Unlock()
	err := c.ws.Close()
	<-c.done
	return err
}
