// Command wsfloor is the client floor of bench/: the least a WebSocket
// relay can spend per delivery with the load generator's own clients as
// its players.
//
// The write and relay floors (bench/internal/load) write to bare sockets
// drained by goroutines of the bench's own process. A server under test
// writes to the load generator's WebSocket clients, in another process,
// and on loopback the kernel charges the writer for the receiver's TCP
// processing and wake-up, so those writes cost a server more than the
// floors' writes cost the floors. wsfloor is a server with nothing but
// that: it speaks the gorilla baseline's dialect (user id in the query,
// msgpack envelopes), and once a player is upgraded one locked thread
// waits on every socket in one epoll set, reads each frame as it arrives
// and writes the lobby.data event to the other members of its lobby, one
// write(2) per delivery, with raw system calls. No sessions, no
// sequence numbers, no replay, no rate limit, no write queue: a write the
// socket refuses is dropped. Whatever a server spends per delivery beyond
// this, with the same clients, is its own work.
//
// Written here on purpose, not with a WebSocket library's read and write
// path: a library's buffers, locks and goroutines are what the floor must
// leave out. The upgrade (once per player) uses gorilla/websocket.
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"
	"golang.org/x/sys/unix"
)

const (
	maxFD      = 1 << 16 // players are indexed by descriptor
	maxMessage = 65536   // larger frames close the connection
	readBuf    = 4096
)

// player is one upgraded connection, owned by the relay thread once
// registered.
type player struct {
	fd    int
	user  string
	conn  net.Conn // kept so the runtime does not close the descriptor
	in    []byte   // bytes read but not yet a whole frame
	lobby *lobby
}

type lobby struct {
	id      string
	max     int
	members []*player
}

// relay is the state of the relay thread. Only players is shared: the
// HTTP handlers store a player before adding its descriptor to the epoll
// set, and the thread loads it when the descriptor turns up.
type relay struct {
	ep      int
	players [maxFD]atomic.Pointer[player]
	lobbies map[string]*lobby // relay thread only
	nextID  int               // relay thread only
	out     []byte            // relay thread only: the frame being written
	buf     [readBuf]byte     // relay thread only
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "listen address")
	flag.Parse()
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		log.Fatal(err)
	}
	r := &relay{ep: ep, lobbies: map[string]*lobby{}}
	go r.loop()

	welcome := func(user string) []byte {
		b, _ := msgpack.Marshal(map[string]any{"ev": "welcome", "seq": 0,
			"d": map[string]any{"session_id": user, "user_id": user, "name": user, "heartbeat_ms": 0}})
		return b
	}
	up := websocket.Upgrader{ReadBufferSize: 512, WriteBufferSize: 512}
	var mu sync.Mutex // serializes registrations (the epoll set's adds)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, req *http.Request) {
		user := req.URL.Query().Get("user")
		if user == "" || len(user) > 64 {
			http.Error(w, "user required", http.StatusUnauthorized)
			return
		}
		ws, err := up.Upgrade(w, req, nil)
		if err != nil {
			return
		}
		if err := ws.WriteMessage(websocket.BinaryMessage, welcome(user)); err != nil {
			_ = ws.Close()
			return
		}
		nc := ws.NetConn()
		fd, err := descriptor(nc)
		if err != nil || fd >= maxFD {
			_ = nc.Close()
			return
		}
		mu.Lock()
		defer mu.Unlock()
		r.players[fd].Store(&player{fd: fd, user: user, conn: nc})
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(fd)}
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			r.players[fd].Store(nil)
			_ = nc.Close()
		}
	})
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM, os.Interrupt)
		<-ch
		os.Exit(0)
	}()
	log.Printf("wsfloor listening on %s", *addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// descriptor is the socket's file descriptor; the connection keeps it open.
func descriptor(c net.Conn) (int, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, errors.New("not a socket")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, err
	}
	fd := -1
	if err := raw.Control(func(f uintptr) { fd = int(f) }); err != nil {
		return 0, err
	}
	return fd, nil
}

// loop is the relay thread: it reads every readable socket and handles
// each whole frame at once.
func (r *relay) loop() {
	runtime.LockOSThread()
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := unix.EpollWait(r.ep, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			log.Fatal(err)
		}
		for _, ev := range events[:n] {
			if p := r.players[ev.Fd].Load(); p != nil {
				r.readable(p)
			}
		}
	}
}

func (r *relay) readable(p *player) {
	for {
		n, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(p.fd), uintptr(unsafe.Pointer(&r.buf[0])), readBuf)
		switch {
		case errno == unix.EAGAIN:
			return
		case errno == unix.EINTR:
			continue
		case errno != 0 || n == 0:
			r.drop(p)
			return
		}
		data := r.buf[:n]
		if len(p.in) > 0 {
			p.in = append(p.in, data...)
			data = p.in
		}
		rest, ok := r.frames(p, data)
		if !ok {
			r.drop(p)
			return
		}
		p.in = append(p.in[:0], rest...)
		if int(n) < readBuf {
			return
		}
	}
}

// frames handles every whole client frame in b and returns what is left.
func (r *relay) frames(p *player, b []byte) ([]byte, bool) {
	for len(b) >= 2 {
		op, masked := b[0]&0x0f, b[1]&0x80 != 0
		size, head := int(b[1]&0x7f), 2
		switch size {
		case 126:
			if len(b) < 4 {
				return b, true
			}
			size, head = int(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			return nil, false // larger than maxMessage
		}
		if !masked || b[0]&0x80 == 0 || size > maxMessage {
			return nil, false // clients mask; no fragments
		}
		if len(b) < head+4+size {
			return b, true
		}
		mask := b[head : head+4]
		payload := b[head+4 : head+4+size]
		for i := range payload {
			payload[i] ^= mask[i&3]
		}
		b = b[head+4+size:]
		switch op {
		case 0x8:
			return nil, false
		case 0x1, 0x2:
			r.message(p, payload)
		}
	}
	return b, true
}

// message handles one envelope: a lobby.send is relayed from a scan of its
// bytes; the rest (create, join, leave: the setup, not measured) is
// decoded.
func (r *relay) message(p *player, m []byte) {
	if data, ok := sendData(m); ok {
		r.relay(p, data)
		return
	}
	var req struct {
		Op  string `msgpack:"op"`
		Rid uint64 `msgpack:"rid"`
		D   struct {
			LobbyID string `msgpack:"lobby_id"`
			Max     int    `msgpack:"max_players"`
		} `msgpack:"d"`
	}
	if msgpack.Unmarshal(m, &req) != nil {
		r.reply(p, req.Rid, "", "bad_request")
		return
	}
	switch req.Op {
	case "lobby.create":
		if p.lobby != nil {
			r.reply(p, req.Rid, "", "already_in_lobby")
			return
		}
		r.nextID++
		l := &lobby{id: "f" + strconv.Itoa(r.nextID), max: max(req.D.Max, 2), members: []*player{p}}
		r.lobbies[l.id] = l
		p.lobby = l
		r.reply(p, req.Rid, l.id, "")
	case "lobby.join":
		l := r.lobbies[req.D.LobbyID]
		switch {
		case l == nil:
			r.reply(p, req.Rid, "", "not_found")
		case p.lobby != nil:
			r.reply(p, req.Rid, "", "already_in_lobby")
		case len(l.members) >= l.max:
			r.reply(p, req.Rid, "", "lobby_full")
		default:
			l.members = append(l.members, p)
			p.lobby = l
			r.reply(p, req.Rid, l.id, "")
		}
	case "lobby.leave":
		if p.lobby == nil {
			r.reply(p, req.Rid, "", "not_in_lobby")
			return
		}
		r.leave(p)
		r.reply(p, req.Rid, "", "")
	default:
		r.reply(p, req.Rid, "", "unknown_op")
	}
}

// relay writes {"ev":"lobby.data","seq":0,"d":{"from":user,"data":data}}
// to every other member, one write each.
func (r *relay) relay(p *player, data []byte) {
	l := p.lobby
	if l == nil || len(data) > 255 || len(p.user) > 31 {
		return
	}
	b := append(r.out[:0], 0x82, 0) // FIN, binary; length below
	b = append(b, 0x83, 0xa2, 'e', 'v', 0xaa)
	b = append(b, "lobby.data"...)
	b = append(b, 0xa3, 's', 'e', 'q', 0x00, 0xa1, 'd', 0x82, 0xa4, 'f', 'r', 'o', 'm', 0xa0|byte(len(p.user)))
	b = append(b, p.user...)
	b = append(b, 0xa4, 'd', 'a', 't', 'a', 0xc4, byte(len(data)))
	b = append(b, data...)
	if len(b)-2 > 125 {
		return
	}
	b[1] = byte(len(b) - 2)
	r.out = b
	for _, m := range l.members {
		if m != p {
			_, _, _ = unix.RawSyscall(unix.SYS_WRITE, uintptr(m.fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		}
	}
}

// reply answers a request (not a lobby.send, which asks for none): ok with
// d.lobby.id when lobbyID is set, or the error code.
func (r *relay) reply(p *player, rid uint64, lobbyID, code string) {
	if rid == 0 {
		return
	}
	var env map[string]any
	switch {
	case code != "":
		env = map[string]any{"rid": rid, "ok": false, "err": map[string]string{"code": code, "msg": code}}
	case lobbyID != "":
		env = map[string]any{"rid": rid, "ok": true, "d": map[string]any{"lobby": map[string]string{"id": lobbyID}}}
	default:
		env = map[string]any{"rid": rid, "ok": true, "d": map[string]any{}}
	}
	body, _ := msgpack.Marshal(env)
	frame := []byte{0x82, 0}
	switch {
	case len(body) <= 125:
		frame[1] = byte(len(body))
	default:
		frame = append(frame[:1], 126, byte(len(body)>>8), byte(len(body)))
	}
	frame = append(frame, body...)
	// Replies are small and rare; a full socket buffer drops one, as
	// relay drops a delivery.
	_, _, _ = unix.RawSyscall(unix.SYS_WRITE, uintptr(p.fd), uintptr(unsafe.Pointer(&frame[0])), uintptr(len(frame)))
}

func (r *relay) leave(p *player) {
	l := p.lobby
	if l == nil {
		return
	}
	p.lobby = nil
	for i, m := range l.members {
		if m == p {
			l.members = append(l.members[:i], l.members[i+1:]...)
			break
		}
	}
	if len(l.members) == 0 {
		delete(r.lobbies, l.id)
	}
}

func (r *relay) drop(p *player) {
	r.leave(p)
	_ = unix.EpollCtl(r.ep, unix.EPOLL_CTL_DEL, p.fd, nil)
	r.players[p.fd].Store(nil)
	_ = p.conn.Close()
}

// sendData finds d.data of a {"op":"lobby.send","rid":uint,"d":{"data":bin}}
// envelope, keys in any order, with fixstr keys and a bin8 body; anything
// else is not a send it knows.
func sendData(m []byte) ([]byte, bool) {
	if len(m) == 0 || m[0]&0xf0 != 0x80 {
		return nil, false
	}
	n, i := int(m[0]&0x0f), 1
	var data []byte
	isSend := false
	for range n {
		k, j, ok := fixstr(m, i)
		if !ok {
			return nil, false
		}
		i = j
		switch string(k) {
		case "op":
			v, j, ok := fixstr(m, i)
			if !ok {
				return nil, false
			}
			i, isSend = j, string(v) == "lobby.send"
		case "rid":
			if i >= len(m) {
				return nil, false
			}
			switch c := m[i]; {
			case c <= 0x7f:
				i++
			case c == 0xcc:
				i += 2
			case c == 0xcd:
				i += 3
			case c == 0xce:
				i += 5
			case c == 0xcf:
				i += 9
			default:
				return nil, false
			}
		case "d":
			if i+1 >= len(m) || m[i] != 0x81 {
				return nil, false
			}
			k, j, ok := fixstr(m, i+1)
			if !ok || string(k) != "data" || j+1 >= len(m) || m[j] != 0xc4 {
				return nil, false
			}
			size := int(m[j+1])
			if j+2+size > len(m) {
				return nil, false
			}
			data, i = m[j+2:j+2+size], j+2+size
		default:
			return nil, false
		}
	}
	return data, isSend && data != nil
}

// fixstr reads a fixstr at m[i:] and returns it and the index after it.
func fixstr(m []byte, i int) ([]byte, int, bool) {
	if i >= len(m) || m[i]&0xe0 != 0xa0 {
		return nil, 0, false
	}
	size := int(m[i] & 0x1f)
	if i+1+size > len(m) {
		return nil, 0, false
	}
	return m[i+1 : i+1+size], i + 1 + size, true
}
