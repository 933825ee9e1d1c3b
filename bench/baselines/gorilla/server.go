package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"
)

const (
	maxMessage = 65536
	sendQueue  = 256
	writeWait  = 10 * time.Second
	pongWait   = 45 * time.Second
	pingPeriod = 15 * time.Second
)

type lobby struct {
	id        string
	name      string
	host      string
	max       int
	createdAt int64
	members   map[*client]int64 // joined at, unix ms
	order     int               // index in server.order
}

type server struct {
	upgrader websocket.Upgrader

	mu      sync.Mutex
	lobbies map[string]*lobby
	order   []*lobby // creation order; nil entries are deleted lobbies
	nextID  uint64
}

func newServer() *server {
	return &server{
		upgrader: websocket.Upgrader{
			ReadBufferSize:  4096,
			WriteBufferSize: 4096,
			CheckOrigin:     func(*http.Request) bool { return true },
		},
		lobbies: make(map[string]*lobby),
	}
}

type client struct {
	s    *server
	conn *websocket.Conn
	user string
	send chan []byte

	// lobby is owned by readPump (reads under s.mu elsewhere).
	lobby *lobby
}

func (s *server) serveWS(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("user")
	if user == "" || len(user) > 64 {
		http.Error(w, `{"error":{"code":"unauthorized","msg":"user required"}}`, http.StatusUnauthorized)
		return
	}
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &client{s: s, conn: conn, user: user, send: make(chan []byte, sendQueue)}
	welcome, _ := msgpack.Marshal(map[string]any{
		"ev": "welcome", "seq": 0,
		"d": map[string]any{"session_id": user, "user_id": user, "name": user, "heartbeat_ms": 15000},
	})
	c.send <- welcome
	go c.writePump()
	go c.readPump()
}

type request struct {
	Op  string             `msgpack:"op"`
	Rid uint32             `msgpack:"rid"`
	D   msgpack.RawMessage `msgpack:"d"`
}

// lobbyView carries the fields of lobbyd's LobbyView (without code), so a
// listing or a join reply is the same work as lobbyd's: a client reads the
// same fields from each server.
type lobbyView struct {
	ID          string         `msgpack:"id" json:"id"`
	Name        string         `msgpack:"name" json:"name"`
	Host        string         `msgpack:"host" json:"host"`
	Mode        string         `msgpack:"mode" json:"mode"`
	Region      string         `msgpack:"region" json:"region"`
	Visibility  string         `msgpack:"visibility" json:"visibility"`
	HasPassword bool           `msgpack:"has_password" json:"has_password"`
	Locked      bool           `msgpack:"locked" json:"locked"`
	State       string         `msgpack:"state" json:"state"`
	MaxPlayers  int            `msgpack:"max_players" json:"max_players"`
	Attrs       map[string]any `msgpack:"attrs" json:"attrs"`
	Data        map[string]any `msgpack:"data" json:"data"`
	Members     []member       `msgpack:"members" json:"members"`
	CreatedAt   int64          `msgpack:"created_at" json:"created_at"`
}

// member carries the fields of lobbyd's Member. A player's name is its
// user id: this baseline has no accounts.
type member struct {
	UserID    string         `msgpack:"user_id" json:"user_id"`
	Name      string         `msgpack:"name" json:"name"`
	Ready     bool           `msgpack:"ready" json:"ready"`
	Connected bool           `msgpack:"connected" json:"connected"`
	IsHost    bool           `msgpack:"is_host" json:"is_host"`
	Data      map[string]any `msgpack:"data" json:"data"`
	JoinedAt  int64          `msgpack:"joined_at" json:"joined_at"`
}

func (l *lobby) member(c *client, joinedAt int64) member {
	return member{UserID: c.user, Name: c.user, Connected: true, IsHost: c.user == l.host,
		Data: map[string]any{}, JoinedAt: joinedAt}
}

// view must be called with s.mu held.
func (l *lobby) view() lobbyView {
	v := lobbyView{ID: l.id, Name: l.name, Host: l.host, Visibility: "public", State: "open",
		MaxPlayers: l.max, Attrs: map[string]any{}, Data: map[string]any{}, CreatedAt: l.createdAt,
		Members: make([]member, 0, len(l.members))}
	for m, joinedAt := range l.members {
		v.Members = append(v.Members, l.member(m, joinedAt))
	}
	return v
}

func (c *client) readPump() {
	defer func() {
		c.leave()
		close(c.send)
		_ = c.conn.Close()
	}()
	c.conn.SetReadLimit(maxMessage)
	_ = c.conn.SetReadDeadline(time.Now().Add(pongWait))
	c.conn.SetPongHandler(func(string) error { return c.conn.SetReadDeadline(time.Now().Add(pongWait)) })
	for {
		_, msg, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(pongWait))
		var req request
		if err := msgpack.Unmarshal(msg, &req); err != nil {
			c.reply(0, nil, "bad_request")
			continue
		}
		c.handle(&req)
	}
}

func (c *client) handle(req *request) {
	switch req.Op {
	case "ping":
		c.reply(req.Rid, map[string]any{"t": time.Now().UnixMilli()}, "")
	case "lobby.create":
		var d struct {
			Name       string `msgpack:"name"`
			MaxPlayers int    `msgpack:"max_players"`
		}
		if msgpack.Unmarshal(req.D, &d) != nil || d.Name == "" || len(d.Name) > 64 || d.MaxPlayers < 2 || d.MaxPlayers > 256 {
			c.reply(req.Rid, nil, "bad_request")
			return
		}
		v, code := c.create(d.Name, d.MaxPlayers)
		c.reply(req.Rid, map[string]any{"lobby": v}, code)
	case "lobby.join":
		var d struct {
			LobbyID string `msgpack:"lobby_id"`
		}
		if msgpack.Unmarshal(req.D, &d) != nil {
			c.reply(req.Rid, nil, "bad_request")
			return
		}
		v, code := c.join(d.LobbyID)
		c.reply(req.Rid, map[string]any{"lobby": v}, code)
	case "lobby.leave":
		if c.lobby == nil {
			c.reply(req.Rid, nil, "not_in_lobby")
			return
		}
		c.leave()
		c.reply(req.Rid, map[string]any{}, "")
	case "lobby.send":
		var d struct {
			Data []byte `msgpack:"data"`
		}
		if msgpack.Unmarshal(req.D, &d) != nil {
			c.reply(req.Rid, nil, "bad_request")
			return
		}
		if c.lobby == nil {
			c.reply(req.Rid, nil, "not_in_lobby")
			return
		}
		ev, _ := msgpack.Marshal(map[string]any{"ev": "lobby.data", "seq": 0,
			"d": map[string]any{"from": c.user, "data": d.Data}})
		c.s.mu.Lock()
		for m := range c.lobby.members {
			if m != c {
				m.push(ev)
			}
		}
		c.s.mu.Unlock()
		c.reply(req.Rid, map[string]any{}, "")
	default:
		c.reply(req.Rid, nil, "unknown_op")
	}
}

func (c *client) create(name string, max int) (lobbyView, string) {
	if c.lobby != nil {
		return lobbyView{}, "already_in_lobby"
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	now := time.Now().UnixMilli()
	l := &lobby{id: "l" + strconv.FormatUint(s.nextID, 10), name: name, host: c.user, max: max,
		createdAt: now, members: map[*client]int64{c: now}, order: len(s.order)}
	s.lobbies[l.id] = l
	s.order = append(s.order, l)
	c.lobby = l
	return l.view(), ""
}

func (c *client) join(id string) (lobbyView, string) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lobbies[id]
	switch {
	case l == nil:
		return lobbyView{}, "not_found"
	case c.lobby != nil:
		return lobbyView{}, "already_in_lobby"
	case len(l.members) >= l.max:
		return lobbyView{}, "lobby_full"
	}
	joinedAt := time.Now().UnixMilli()
	ev, _ := msgpack.Marshal(map[string]any{"ev": "lobby.member_joined", "seq": 0,
		"d": map[string]any{"member": l.member(c, joinedAt)}})
	for m := range l.members {
		m.push(ev)
	}
	l.members[c] = joinedAt
	c.lobby = l
	return l.view(), ""
}

func (c *client) leave() {
	l := c.lobby
	if l == nil {
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c.lobby = nil
	delete(l.members, c)
	if len(l.members) == 0 {
		delete(s.lobbies, l.id)
		s.order[l.order] = nil
		s.compactLocked()
		return
	}
	ev, _ := msgpack.Marshal(map[string]any{"ev": "lobby.member_left", "seq": 0,
		"d": map[string]any{"user_id": c.user, "reason": "left"}})
	for m := range l.members {
		m.push(ev)
	}
}

// push queues a frame without blocking; a client whose queue is full is too
// slow and is dropped (as in gorilla's chat example). Called with s.mu held.
func (c *client) push(b []byte) {
	select {
	case c.send <- b:
	default:
		_ = c.conn.Close()
	}
}

func (c *client) reply(rid uint32, d any, code string) {
	if rid == 0 && code != "bad_request" {
		return
	}
	var b []byte
	if code == "" {
		b, _ = msgpack.Marshal(map[string]any{"rid": rid, "ok": true, "d": d})
	} else {
		b, _ = msgpack.Marshal(map[string]any{"rid": rid, "ok": false, "err": map[string]string{"code": code, "msg": code}})
	}
	c.s.mu.Lock()
	c.push(b)
	c.s.mu.Unlock()
}

func (c *client) writePump() {
	ticker := time.NewTicker(pingPeriod)
	defer func() {
		ticker.Stop()
		_ = c.conn.Close()
	}()
	for {
		select {
		case msg, ok := <-c.send:
			_ = c.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if !ok {
				_ = c.conn.WriteMessage(websocket.CloseMessage, []byte{})
				return
			}
			if err := c.conn.WriteMessage(websocket.BinaryMessage, msg); err != nil {
				return
			}
		case <-ticker.C:
			_ = c.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := c.conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				return
			}
		}
	}
}

func (s *server) serveList(w http.ResponseWriter, r *http.Request) {
	limit := 20
	if q := r.URL.Query().Get("limit"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 || n > 100 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":{"code":"bad_request","msg":"limit must be 1..100"}}`))
			return
		}
		limit = n
	}
	out := make([]lobbyView, 0, limit)
	s.mu.Lock()
	for i := len(s.order) - 1; i >= 0 && len(out) < limit; i-- {
		if l := s.order[i]; l != nil {
			out = append(out, l.view())
		}
	}
	s.compactLocked()
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"lobbies": out, "next_cursor": nil})
}

// compactLocked drops deleted entries from s.order once they outnumber the
// live ones, so the listing walk stays short. Called with s.mu held.
func (s *server) compactLocked() {
	if len(s.order) < 2*len(s.lobbies)+1024 {
		return
	}
	live := s.order[:0]
	for _, l := range s.order {
		if l != nil {
			l.order = len(live)
			live = append(live, l)
		}
	}
	clear(s.order[len(live):])
	s.order = live
}

func serveMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintf(w, "go_goroutines %d\n", runtime.NumGoroutine())
}
