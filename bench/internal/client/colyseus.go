package client

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
)

// Colyseus protocol codes (@colyseus/shared-types Protocol, 0.18): the
// first byte of every binary frame.
const (
	colJoinRoom      = 10
	colError         = 11
	colLeaveRoom     = 12
	colRoomData      = 13
	colRoomDataBytes = 17
)

// ColyseusDialer speaks to the Colyseus baseline as its SDK (@colyseus/sdk
// 0.18) does: each create or join is an HTTP matchmaking request
// (POST /matchmake/create/lobby, POST /matchmake/joinById/ID) carrying the
// player's JWT as Authorization: Bearer, answered by a seat reservation,
// which the client consumes on a WebSocket to /PROCESS/ROOM?sessionId=…;
// the server sends JOIN_ROOM, the client acknowledges with JOIN_ROOM, then
// the room's state and messages follow. Leaving sends LEAVE_ROOM and the
// server closes the room's connection. A Colyseus client is connected only
// while it is in a room, so Dial makes the token and opens nothing.
//
// Messages are the SDK's room.send("send", bytes): ROOM_DATA, the type as a
// msgpack string, the payload as msgpack bin 8 (64 bytes, the send time in
// the first 8, big-endian). The relay arrives as ROOM_DATA "data" with a
// msgpack map {from, data}, data last.
type ColyseusDialer struct {
	// Addr is host:port of the server.
	Addr string
	// Secret signs the players' HS256 JWTs (the server's JWT_SECRET).
	Secret []byte
	// Room is the room type's name (default "lobby").
	Room string

	once   sync.Once
	dialer websocket.Dialer
	hc     *http.Client
}

func (d *ColyseusDialer) init() {
	d.once.Do(func() {
		d.dialer = websocket.Dialer{
			HandshakeTimeout: 10 * time.Second,
			ReadBufferSize:   2048,
			WriteBufferPool:  &sync.Pool{},
			WriteBufferSize:  512,
		}
		// Node closes a keep-alive connection idle for 5 s
		// (keepAliveTimeout); a POST on one it is closing fails and is
		// not retried, so the client lets them go first.
		d.hc = &http.Client{Timeout: 10 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxIdleConns: 64, IdleConnTimeout: 2 * time.Second}}
		if d.Room == "" {
			d.Room = "lobby"
		}
	})
}

// Token signs a JWT for user, valid for a day.
func signToken(secret []byte, user string) (string, error) {
	return jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": user, "iat": time.Now().Unix(), "exp": time.Now().Add(24 * time.Hour).Unix(),
	}).SignedString(secret)
}

// Dial implements Dialer: it signs the player's token; the connection opens
// with the first create or join.
func (d *ColyseusDialer) Dial(ctx context.Context, user string, onData Handler) (Conn, error) {
	d.init()
	tok, err := signToken(d.Secret, user)
	if err != nil {
		return nil, err
	}
	return &colConn{d: d, token: tok, onData: onData}, nil
}

// colConn is a Colyseus player: at most one room connection at a time.
type colConn struct {
	d      *ColyseusDialer
	token  string
	onData Handler

	mu     sync.Mutex // guards room (Create/Join/Leave/Close against Send)
	room   *colRoom
	closed atomic.Bool
}

// colRoom is one room connection.
type colRoom struct {
	ws      *websocket.Conn
	onData  Handler
	done    chan struct{} // closed when readLoop returns
	writeMu sync.Mutex
	sendBuf []byte // guarded by writeMu
}

// colSendPrefix is ROOM_DATA, "send" as a msgpack fixstr, then the bin 8
// header of the 64-byte payload.
var colSendPrefix = []byte{colRoomData, 0xa4, 's', 'e', 'n', 'd', 0xc4, PayloadSize}

// seat is the matchmaker's answer (ISeatReservation).
type seat struct {
	Name      string `json:"name"`
	SessionID string `json:"sessionId"`
	RoomID    string `json:"roomId"`
	ProcessID string `json:"processId"`
}

func (c *colConn) Create(ctx context.Context, name string, max int) (string, error) {
	s, err := c.matchmake(ctx, "create/"+url.PathEscape(c.d.Room), map[string]any{"name": name, "max_players": max})
	if err != nil {
		return "", err
	}
	return s.RoomID, c.consume(ctx, s)
}

func (c *colConn) Join(ctx context.Context, id string) error {
	s, err := c.matchmake(ctx, "joinById/"+url.PathEscape(id), map[string]any{})
	if err != nil {
		return err
	}
	return c.consume(ctx, s)
}

// matchmake asks the matchmaker for a seat.
func (c *colConn) matchmake(ctx context.Context, path string, opts any) (seat, error) {
	var s seat
	c.mu.Lock()
	inRoom := c.room != nil
	c.mu.Unlock()
	if inRoom {
		return s, &ReplyError{Op: "matchmake", Code: "already_in_lobby"}
	}
	body, _ := json.Marshal(opts)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+c.d.Addr+"/matchmake/"+path, bytes.NewReader(body))
	if err != nil {
		return s, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.d.hc.Do(req)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return s, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Code  int    `json:"code"`
			Error string `json:"error"`
		}
		_ = json.Unmarshal(raw, &e)
		return s, &ReplyError{Op: "matchmake", Code: strconv.Itoa(e.Code) + " " + e.Error}
	}
	if err := json.Unmarshal(raw, &s); err != nil || s.RoomID == "" || s.SessionID == "" || s.ProcessID == "" {
		return s, fmt.Errorf("matchmake: bad seat reservation %q", raw)
	}
	return s, nil
}

// consume opens the seat's WebSocket, waits for JOIN_ROOM and acknowledges
// it, as the SDK's Room does.
func (c *colConn) consume(ctx context.Context, s seat) error {
	q := url.Values{"sessionId": {s.SessionID}, "_authToken": {c.token}}
	u := "ws://" + c.d.Addr + "/" + url.PathEscape(s.ProcessID) + "/" + url.PathEscape(s.RoomID) + "?" + q.Encode()
	ws, resp, err := c.d.dialer.DialContext(ctx, u, nil)
	if err != nil {
		if resp != nil {
			return fmt.Errorf("seat: %w (HTTP %d)", err, resp.StatusCode)
		}
		return fmt.Errorf("seat: %w", err)
	}
	ws.SetReadLimit(maxFrame)
	if dl, ok := ctx.Deadline(); ok {
		_ = ws.SetReadDeadline(dl)
	}
	fail := func(err error) error {
		_ = ws.Close()
		return err
	}
	_, m, err := ws.ReadMessage()
	if err != nil {
		return fail(fmt.Errorf("join room: %w", err))
	}
	switch {
	case len(m) > 0 && m[0] == colError:
		return fail(&ReplyError{Op: "join room", Code: fmt.Sprintf("%x", m[1:min(len(m), 40)])})
	case len(m) == 0 || m[0] != colJoinRoom:
		return fail(fmt.Errorf("join room: unexpected first frame %x", m[:min(len(m), 16)]))
	}
	_ = ws.SetReadDeadline(time.Time{})
	_ = ws.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := ws.WriteMessage(websocket.BinaryMessage, []byte{colJoinRoom}); err != nil {
		return fail(fmt.Errorf("join room ack: %w", err))
	}
	r := &colRoom{ws: ws, onData: c.onData, done: make(chan struct{})}
	go r.readLoop()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		r.close()
		return ErrClosed
	}
	c.room = r
	return nil
}

// readLoop hands relayed payloads to onData and ignores the rest (state
// patches, the SDK's other messages).
func (r *colRoom) readLoop() {
	defer close(r.done)
	buf := make([]byte, 0, 512)
	for {
		_, rd, err := r.ws.NextReader()
		if err != nil {
			return
		}
		if buf, err = readAll(rd, buf[:0]); err != nil {
			return
		}
		if ts, ok := colData(buf); ok && r.onData != nil {
			r.onData(ts)
		}
		if cap(buf) > 8192 {
			buf = make([]byte, 0, 512)
		}
	}
}

// colData reads the send time from a relayed message: ROOM_DATA whose
// msgpack payload ends in bin 8 of 64 bytes (the map's last value), or
// ROOM_DATA_BYTES ending in the 64 bytes.
func colData(m []byte) (int64, bool) {
	n := len(m)
	if n < PayloadSize+3 {
		return 0, false
	}
	switch m[0] {
	case colRoomData:
		if m[n-PayloadSize-2] != 0xc4 || m[n-PayloadSize-1] != PayloadSize {
			return 0, false
		}
	case colRoomDataBytes:
	default:
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(m[n-PayloadSize:])), true
}

func (r *colRoom) write(b []byte) error {
	_ = r.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
	return r.ws.WriteMessage(websocket.BinaryMessage, b)
}

func (r *colRoom) close() {
	r.writeMu.Lock()
	_ = r.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	r.writeMu.Unlock()
	_ = r.ws.Close()
	<-r.done
}

// Leave sends LEAVE_ROOM and waits for the server to close the room's
// connection (the SDK's room.leave(true)).
func (c *colConn) Leave(ctx context.Context) error {
	c.mu.Lock()
	r := c.room
	c.room = nil
	c.mu.Unlock()
	if r == nil {
		return &ReplyError{Op: "leave", Code: "not_in_lobby"}
	}
	r.writeMu.Lock()
	err := r.write([]byte{colLeaveRoom})
	r.writeMu.Unlock()
	if err != nil {
		r.close()
		return err
	}
	select {
	case <-r.done:
		_ = r.ws.Close()
		return nil
	case <-ctx.Done():
		r.close()
		return ctx.Err()
	}
}

// Send writes room.send("send", payload).
func (c *colConn) Send(sentAt int64) error {
	c.mu.Lock()
	r := c.room
	c.mu.Unlock()
	if r == nil {
		return ErrClosed
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if r.sendBuf == nil {
		r.sendBuf = make([]byte, len(colSendPrefix)+PayloadSize)
		copy(r.sendBuf, colSendPrefix)
		for i := len(colSendPrefix) + 8; i < len(r.sendBuf); i++ {
			r.sendBuf[i] = 'x'
		}
	}
	binary.BigEndian.PutUint64(r.sendBuf[len(colSendPrefix):], uint64(sentAt))
	return r.write(r.sendBuf)
}

func (c *colConn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.mu.Lock()
	r := c.room
	c.room = nil
	c.mu.Unlock()
	if r != nil {
		r.close()
	}
	return nil
}
