//go:build linux

package app_test

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"golang.org/x/sys/unix"

	"github.com/lobbyd/lobbyd/app"
	"github.com/lobbyd/lobbyd/config"
	"github.com/lobbyd/lobbyd/internal/redistest"
)

// idleProfile names a file for the heap profile taken at the moment
// BenchmarkIdlePlayerHeap measures (run with -memprofilerate 1 for every
// allocation): what the players hold, by where it was allocated.
var idleProfile = flag.String("idleprofile", "", "write the heap profile of the idle players to this file")

// idlePlayers is how many players BenchmarkIdlePlayerHeap seats: by
// default enough that a lobby's and a map's fixed costs are spread thin,
// few enough for a default open-files limit (two descriptors a player
// here); the bench's 10,000 need -idleplayers and a raised limit.
var idlePlayers = flag.Int("idleplayers", 2000, "players BenchmarkIdlePlayerHeap seats")

// BenchmarkIdlePlayerHeap reports the live heap (after a full collection)
// that one idle player costs a shard, as heap-B/player: a real shard on
// loopback, each player a WebSocket connection authenticated with a JWT
// and seated in a public lobby of 8, as the bench's idle workload does
// (docs/architecture.md, "Memory per idle player"). The players are raw
// sockets driven by hand, so the client side adds no heap of its own.
// RSS is this times the GC's headroom (GOGC), plus what the runtime keeps.
func BenchmarkIdlePlayerHeap(b *testing.B) { benchIdleHeap(b, 1, "") }

// BenchmarkIdlePlayerHeapCluster is the same with --redis on: two shards
// of one cluster on the test Redis, in this process, player i on shard
// i%2, so that every lobby has members on both. The figure is the two
// shards' heap together, per player, as the bench's cluster run sums
// their RSS.
func BenchmarkIdlePlayerHeapCluster(b *testing.B) {
	benchIdleHeap(b, 2, "redis://"+redistest.Addr(b)+"/0")
}

func benchIdleHeap(b *testing.B, shards int, redisURL string) {
	var sum float64
	for range b.N {
		sum += idleHeapPerPlayer(b, *idlePlayers, shards, redisURL)
	}
	b.ReportMetric(sum/float64(b.N), "heap-B/player")
	b.ReportMetric(0, "ns/op") // the time is the set-up's, not a figure
}

func idleHeapPerPlayer(b *testing.B, n, shards int, redisURL string) float64 {
	var prefix string
	if redisURL != "" {
		_, prefix = redistest.SharedPrefix(b)
	}
	ports := make([]int, shards)
	var auth *app.App
	for i := range ports {
		cfg, err := config.Load(nil, func(string) string { return "" }, nil)
		if err != nil {
			b.Fatal(err)
		}
		cfg.Addr = "127.0.0.1:0"
		cfg.JWTSecret = "idle-bench-secret"
		cfg.MaxConnections = n + 16
		cfg.HandshakeLimit.PerAddress.PerSecond = 0 // every player dials from 127.0.0.1
		cfg.HeartbeatMs = 600_000                   // the players answer no ping: a slow run must not lose them
		cfg.RedisURL, cfg.RedisPrefix, cfg.ShardID = redisURL, prefix, fmt.Sprintf("idle-%c", 'a'+i)
		a, err := app.New(cfg, nil)
		if err != nil {
			b.Fatal(err)
		}
		go a.Serve()
		defer a.Shutdown()
		ports[i], auth = a.Listener.Addr().(*net.TCPAddr).Port, a
	}
	toks := make([]string, n)
	for i := range toks {
		var err error
		if toks[i], err = auth.Auth.Issue(fmt.Sprintf("idle-%06d", i), "", time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	players := make([]*rawPlayer, 0, n)
	defer func() {
		for _, p := range players {
			unix.Close(p.fd)
		}
	}()
	before := liveHeap()
	var lobbyID string
	for i := range n {
		p := dialPlayer(b, ports[i%shards], toks[i])
		players = append(players, p)
		if i%8 == 0 {
			d := p.call(b, "lobby.create", map[string]any{"name": "idle", "max_players": 8, "visibility": "public"})
			lobbyID = d.D.Lobby.ID
		} else {
			p.call(b, "lobby.join", map[string]any{"lobby_id": lobbyID})
		}
	}
	toks = nil
	// The players answer the ping that follows their last events (the
	// shard drops what a pong acknowledges from the replay rings, as a
	// real client's pong has it do), then wait as long as the bench's idle
	// workload waits before reading RSS: the live lobby list's round, the
	// other shard's copies, and two ticks of the follower's sweep, which
	// compacts documents unused for one.
	time.Sleep(ackPingAfter)
	for _, p := range players {
		p.answerPings(b)
	}
	time.Sleep(3 * time.Second)
	after := liveHeap()
	if *idleProfile != "" {
		f, err := os.Create(*idleProfile)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			b.Fatal(err)
		}
	}
	return float64(after-before) / float64(n)
}

// liveHeap is the heap in use after a full collection (two: the first
// may find objects only reachable from finalizers or pools).
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// rawPlayer is a WebSocket client on a bare socket: no Go object but the
// descriptor outlives its set-up.
type rawPlayer struct {
	fd  int
	in  []byte // read, not yet parsed
	rid uint32
}

func dialPlayer(b *testing.B, port int, token string) *rawPlayer {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	p := &rawPlayer{fd: fd}
	tv := unix.Timeval{Sec: 60}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	// A blocking connect interrupted by a signal goes on in the kernel:
	// EINTR then leaves a socket that turns connected.
	if err := unix.Connect(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil && err != unix.EINTR {
		unix.Close(fd)
		b.Fatal(err)
	}
	p.write(b, []byte("GET /ws?token="+token+" HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"+
		"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	for {
		if i := bytes.Index(p.in, []byte("\r\n\r\n")); i >= 0 {
			if !bytes.HasPrefix(p.in, []byte("HTTP/1.1 101")) {
				b.Fatalf("handshake: %q", p.in[:i])
			}
			p.in = p.in[i+4:]
			return p
		}
		p.read(b)
	}
}

func (p *rawPlayer) write(b *testing.B, msg []byte) {
	for len(msg) > 0 {
		n, err := unix.Write(p.fd, msg)
		if err == unix.EINTR { // the runtime's preemption signal
			continue
		}
		if err != nil {
			b.Fatal(err)
		}
		msg = msg[n:]
	}
}

func (p *rawPlayer) read(b *testing.B) {
	var buf [4096]byte
	n, err := unix.Read(p.fd, buf[:])
	for err == unix.EINTR { // the runtime's preemption signal
		n, err = unix.Read(p.fd, buf[:])
	}
	if err != nil || n == 0 {
		b.Fatalf("read: %d, %v", n, err)
	}
	p.in = append(p.in, buf[:n]...)
}

// ackPingAfter is how long after its last event a player has surely been
// pinged for an acknowledgement: netcode's default AckDelay (1 s) and a
// loop tick or two (250 ms each).
const ackPingAfter = 1500 * time.Millisecond

// answerPings reads what the server has sent, without waiting for more,
// and answers each ping with a pong echoing its payload, as RFC 6455 asks
// of every client.
func (p *rawPlayer) answerPings(b *testing.B) {
	var buf [4096]byte
	for {
		n, _, err := unix.Recvfrom(p.fd, buf[:], unix.MSG_DONTWAIT)
		if err == unix.EINTR {
			continue
		}
		if n <= 0 || err != nil {
			break
		}
		p.in = append(p.in, buf[:n]...)
	}
	for {
		op, payload, ok := p.nextFrame()
		if !ok {
			break
		}
		if op == 0x9 { // ping → FIN + pong, masked with a zero key
			p.write(b, append([]byte{0x8a, 0x80 | byte(len(payload)), 0, 0, 0, 0}, payload...))
		}
	}
	p.in = nil
}

// reply is what the benchmark reads of a reply.
type reply struct {
	Rid uint32 `msgpack:"rid"`
	OK  bool   `msgpack:"ok"`
	D   struct {
		Lobby struct {
			ID string `msgpack:"id"`
		} `msgpack:"lobby"`
	} `msgpack:"d"`
	Err map[string]any `msgpack:"err"`
}

// call sends one request in a masked frame and reads frames up to its
// reply (events and the welcome before it are skipped).
func (p *rawPlayer) call(b *testing.B, op string, d map[string]any) reply {
	p.rid++
	body, err := msgpack.Marshal(map[string]any{"op": op, "rid": p.rid, "d": d})
	if err != nil || len(body) > 125 {
		b.Fatalf("request %s: %d bytes, %v", op, len(body), err)
	}
	// FIN + binary, masked with a zero key: the payload goes as it is.
	p.write(b, append([]byte{0x82, 0x80 | byte(len(body)), 0, 0, 0, 0}, body...))
	for {
		payload, ok := p.frame()
		if !ok {
			p.read(b)
			continue
		}
		var r reply
		if msgpack.Unmarshal(payload, &r) == nil && r.Rid == p.rid {
			if !r.OK {
				b.Fatalf("%s: %v", op, r.Err)
			}
			p.in = nil
			return r
		}
	}
}

// frame takes one complete server frame (unmasked, unfragmented) off in.
func (p *rawPlayer) frame() ([]byte, bool) {
	_, payload, ok := p.nextFrame()
	return payload, ok
}

// nextFrame is frame with the frame's opcode.
func (p *rawPlayer) nextFrame() (op byte, payload []byte, ok bool) {
	if len(p.in) < 2 {
		return 0, nil, false
	}
	op = p.in[0] & 0x0f
	n, h := int(p.in[1]&0x7f), 2
	switch n {
	case 126:
		if len(p.in) < 4 {
			return 0, nil, false
		}
		n, h = int(binary.BigEndian.Uint16(p.in[2:])), 4
	case 127:
		if len(p.in) < 10 {
			return 0, nil, false
		}
		n, h = int(binary.BigEndian.Uint64(p.in[2:])), 10
	}
	if len(p.in) < h+n {
		return 0, nil, false
	}
	payload = p.in[h : h+n]
	p.in = p.in[h+n:]
	return op, payload, true
}
