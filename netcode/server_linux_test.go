//go:build linux

package netcode

import (
	"bytes"
	"errors"
	"io"
	"math"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/gobwas/ws"
	"github.com/gofiber/fiber/v2"
	"github.com/gorilla/websocket"
)

func dial(t testing.TB, ts *testServer) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(ts.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	return c
}

// closeCode is the code of a gorilla read error, or -1.
func closeCode(err error) int {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return -1
}

func TestEchoBinary(t *testing.T) {
	ts := startServer(t, Config{}, newEchoHandler())
	c := dial(t, ts)
	for _, n := range []int{0, 1, 125, 126, 65535, 65536} {
		msg := bytes.Repeat([]byte{byte(n)}, n)
		if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			t.Fatal(err)
		}
		typ, got, err := c.ReadMessage()
		if err != nil || typ != websocket.BinaryMessage || !bytes.Equal(got, msg) {
			t.Fatalf("%d bytes: type %d, %d bytes, err %v", n, typ, len(got), err)
		}
	}
	if v := ts.waitOpen(t).Value(); v != "v" {
		t.Fatalf("Value %v", v)
	}
}

func TestPingPong(t *testing.T) {
	ts := startServer(t, Config{}, newEchoHandler())
	c := dial(t, ts)
	pong := make(chan string, 1)
	c.SetPongHandler(func(s string) error { pong <- s; return nil })
	if err := c.WriteControl(websocket.PingMessage, []byte("hi"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	// The pong handler runs inside a read; an echoed message ends it.
	if err := c.WriteMessage(websocket.BinaryMessage, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-pong:
		if s != "hi" {
			t.Fatalf("pong %q", s)
		}
	default:
		t.Fatal("no pong")
	}
}

func TestServerHeartbeatKeepsPongingClientAlive(t *testing.T) {
	const hb = 40 * time.Millisecond
	ts := startServer(t, Config{HeartbeatInterval: hb}, newEchoHandler())
	c := dial(t, ts)
	pings := make(chan struct{}, 100)
	c.SetPingHandler(func(s string) error {
		pings <- struct{}{}
		return c.WriteControl(websocket.PongMessage, []byte(s), time.Now().Add(time.Second))
	})
	// Read (answering pings) for 6 heartbeats, past the 3× idle limit.
	go func() {
		time.Sleep(6 * hb)
		_ = c.WriteMessage(websocket.BinaryMessage, []byte("still here"))
	}()
	_, msg, err := c.ReadMessage()
	if err != nil || string(msg) != "still here" {
		t.Fatalf("read %q, %v", msg, err)
	}
	if len(pings) < 3 {
		t.Fatalf("%d pings in 6 heartbeats", len(pings))
	}
}

// Frames written with WriteHead that go quiet for AckDelay get a ping
// carrying the Acker's mark, and the pong that echoes it reaches OnAck;
// other writes ask for none.
func TestAckPingAfterQuietWrites(t *testing.T) {
	h := newEchoHandler()
	var mark atomic.Uint64
	// No mark before the first event: a heartbeat's ping (index 0 is
	// pinged on the first tick) then carries none.
	h.mark = func(*Conn) (uint64, bool) { return mark.Load(), mark.Load() > 0 }
	ts := startServer(t, Config{HeartbeatInterval: time.Hour, AckDelay: 50 * time.Millisecond}, h)
	c := dial(t, ts) // gorilla's default ping handler echoes the payload
	sc := ts.waitOpen(t)
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()

	_ = sc.Write([]byte("a reply"))
	select {
	case m := <-h.acked:
		t.Fatalf("ack %d after a plain Write", m)
	case <-time.After(300 * time.Millisecond):
	}

	var head [MaxHead]byte
	for i := range 3 {
		mark.Store(uint64(i + 1))
		if err := sc.WriteHead(head, 4, []byte("event")); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case m := <-h.acked:
		if m != 3 {
			t.Fatalf("acked %d, want 3", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no ack after the events went quiet")
	}
	select {
	case m := <-h.acked:
		t.Fatalf("a second ack (%d) with nothing new written", m)
	case <-time.After(300 * time.Millisecond):
	}
}

// A heartbeat ping carries the mark too; a pong with any other payload
// acknowledges nothing.
func TestHeartbeatPingCarriesMark(t *testing.T) {
	h := newEchoHandler()
	h.mark = func(*Conn) (uint64, bool) { return 42, true }
	ts := startServer(t, Config{HeartbeatInterval: 40 * time.Millisecond}, h)
	c := dial(t, ts)
	ts.waitOpen(t)
	if err := c.WriteControl(websocket.PongMessage, []byte("1234567"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()
	select {
	case m := <-h.acked:
		if m != 42 {
			t.Fatalf("acked %d, want 42", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no ack from the heartbeat's ping")
	}
}

// A heartbeat's ping to a connection whose acknowledged writes have not
// been quiet for AckDelay carries no mark: a pong never acknowledges an
// event written a moment before.
func TestHeartbeatPingDuringWritesCarriesNoMark(t *testing.T) {
	h := newEchoHandler()
	var written atomic.Bool // a mark from the first write on: a ping before it has none anyway
	h.mark = func(*Conn) (uint64, bool) { return 7, written.Load() }
	ts := startServer(t, Config{HeartbeatInterval: 40 * time.Millisecond, AckDelay: time.Hour}, h)
	c := dial(t, ts)
	sc := ts.waitOpen(t)
	pings := make(chan string, 100)
	c.SetPingHandler(func(s string) error {
		pings <- s
		return c.WriteControl(websocket.PongMessage, []byte(s), time.Now().Add(time.Second))
	})
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()
	var head [MaxHead]byte
	if err := sc.WriteHead(head, 4, []byte("event")); err != nil {
		t.Fatal(err)
	}
	written.Store(true) // after: the write is queued (acks) or flushed (quiet) by now
	deadline := time.After(5 * time.Second)
	for got := 0; got < 3; {
		select {
		case p := <-pings:
			if p != "" {
				t.Fatalf("a heartbeat ping carried %q while the writes were not quiet", p)
			}
			got++
		case m := <-h.acked:
			t.Fatalf("acked %d", m)
		case <-deadline:
			t.Fatal("no heartbeat pings")
		}
	}
}

func TestIdleTimeout(t *testing.T) {
	ts := startServer(t, Config{HeartbeatInterval: 30 * time.Millisecond}, newEchoHandler())
	nc, br := rawDial(t, ts.addr, nil) // never answers pings
	if code := readClose(t, br); code != CloseGoingAway {
		t.Fatalf("close %d, want %d", code, CloseGoingAway)
	}
	nc.Close()
	if code := ts.waitClose(t); code != CloseGoingAway {
		t.Fatalf("OnClose %d", code)
	}
	ts.waitLen(t, 0)
}

func TestIdleTimeoutPartialFrame(t *testing.T) {
	ts := startServer(t, Config{HeartbeatInterval: 30 * time.Millisecond}, newEchoHandler())
	f := maskedFrame(ws.OpBinary, true, bytes.Repeat([]byte{1}, 1000))
	nc, br := rawDial(t, ts.addr, nil)
	// Trickle a frame that never completes: bytes alone are not traffic.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; i < len(f)-1; i++ {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if _, err := nc.Write(f[i : i+1]); err != nil {
				return
			}
		}
	}()
	if code := readClose(t, br); code != CloseGoingAway {
		t.Fatalf("close %d", code)
	}
}

func TestCloseHandshake(t *testing.T) {
	ts := startServer(t, Config{}, newEchoHandler())
	c := dial(t, ts)
	ts.waitOpen(t)
	msg := websocket.FormatCloseMessage(4000, "bye")
	if err := c.WriteMessage(websocket.CloseMessage, msg); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.ReadMessage()
	if closeCode(err) != 4000 {
		t.Fatalf("read %v, want close 4000 echoed", err)
	}
	if code := ts.waitClose(t); code != 4000 {
		t.Fatalf("OnClose %d", code)
	}
	c.Close()
	ts.waitLen(t, 0)
}

func TestServerClose(t *testing.T) {
	ts := startServer(t, Config{}, newEchoHandler())
	c := dial(t, ts)
	sc := ts.waitOpen(t)
	if err := sc.Write([]byte("first")); err != nil {
		t.Fatal(err)
	}
	const appCode uint16 = 4010 // an application's code goes through as it is
	sc.Close(appCode, "draining")
	sc.Close(CloseNormal, "again") // no effect
	if err := sc.Write([]byte("late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	_, msg, err := c.ReadMessage()
	if err != nil || string(msg) != "first" {
		t.Fatalf("queued data before close: %q %v", msg, err)
	}
	_, _, err = c.ReadMessage()
	if closeCode(err) != int(appCode) {
		t.Fatalf("read %v", err)
	}
	if code := ts.waitClose(t); code != appCode {
		t.Fatalf("OnClose %d", code)
	}
	// gorilla answers nothing and leaves the socket to us: our FIN then its
	// close end it.
	c.Close()
	ts.waitLen(t, 0)
	if n, dup := ts.h.closeCounts(); n != 1 || dup {
		t.Fatalf("OnClose on %d conns, dup %v", n, dup)
	}
}

func TestCloseCodes(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		send func(c *websocket.Conn) error
		want int
	}{
		{"text frame", Config{}, func(c *websocket.Conn) error {
			return c.WriteMessage(websocket.TextMessage, []byte("hi"))
		}, 1003},
		{"over max", Config{MaxMessageBytes: 1024}, func(c *websocket.Conn) error {
			return c.WriteMessage(websocket.BinaryMessage, make([]byte, 1025))
		}, 1009},
		{"fragments over max", Config{MaxMessageBytes: 1024}, func(c *websocket.Conn) error {
			w, err := c.NextWriter(websocket.BinaryMessage)
			if err != nil {
				return err
			}
			for range 5 { // gorilla flushes a frame per 256-byte buffer
				if _, err := w.Write(make([]byte, 256)); err != nil {
					return err
				}
			}
			return w.Close()
		}, 1009},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, tt.cfg, newEchoHandler())
			d := websocket.Dialer{WriteBufferSize: 256}
			c, _, err := d.Dial(ts.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if err := tt.send(c); err != nil {
				t.Fatal(err)
			}
			_, _, err = c.ReadMessage()
			if closeCode(err) != tt.want {
				t.Fatalf("read %v, want close %d", err, tt.want)
			}
			if code := ts.waitClose(t); int(code) != tt.want {
				t.Fatalf("OnClose %d", code)
			}
		})
	}
}

func TestFragmentedEcho(t *testing.T) {
	ts := startServer(t, Config{MaxMessageBytes: 4096}, newEchoHandler())
	d := websocket.Dialer{WriteBufferSize: 256}
	c, _, err := d.Dial(ts.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	msg := make([]byte, 4096) // exactly the limit, in 16+ frames
	for i := range msg {
		msg[i] = byte(i)
	}
	w, _ := c.NextWriter(websocket.BinaryMessage)
	for off := 0; off < len(msg); off += 300 {
		if _, err := w.Write(msg[off:min(off+300, len(msg))]); err != nil {
			t.Fatal(err)
		}
		if off == 600 { // a control frame between fragments
			if err := c.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, got, err := c.ReadMessage()
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo of %d bytes: %d, %v", len(msg), len(got), err)
	}
}

func TestMalformedFrames(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want uint16
	}{
		{"unmasked", []byte{0x82, 0x01, 0x00}, CloseProtocolError},
		{"rsv bits", cat(rawHeader(0x82|0x20, true, 1), []byte{1}), CloseProtocolError},
		{"bad opcode", cat(rawHeader(0x85, true, 1), []byte{1}), CloseProtocolError},
		{"fragmented control", cat(rawHeader(0x0A, true, 1), []byte{1}), CloseProtocolError},
		{"continuation first", maskedFrame(ws.OpContinuation, true, []byte("x")), CloseProtocolError},
		{"huge length msb", rawHeader(0x82, true, 1<<63|5), CloseProtocolError},
		{"huge length", rawHeader(0x82, true, 1<<40), CloseTooLarge},
		{"bad close code", maskedFrame(ws.OpClose, true, []byte{0x03, 0xED}), CloseProtocolError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, Config{}, newEchoHandler())
			nc, br := rawDial(t, ts.addr, nil)
			if _, err := nc.Write(tt.in); err != nil {
				t.Fatal(err)
			}
			if code := readClose(t, br); code != tt.want {
				t.Fatalf("close %d, want %d", code, tt.want)
			}
			if code := ts.waitClose(t); code != tt.want {
				t.Fatalf("OnClose %d", code)
			}
			nc.Close()
			ts.waitLen(t, 0)
		})
	}
}

func TestPipelinedWithHandshake(t *testing.T) {
	ts := startServer(t, Config{}, newEchoHandler())
	frames := cat(maskedFrame(ws.OpBinary, true, []byte("one")), maskedFrame(ws.OpBinary, true, []byte("two")),
		maskedFrame(ws.OpBinary, false, []byte("thr"))) // the rest of "three" comes later
	nc, br := rawDial(t, ts.addr, frames)
	if _, err := nc.Write(maskedFrame(ws.OpContinuation, true, []byte("ee"))); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"one", "two", "three"} {
		f, err := ws.ReadFrame(br)
		if err != nil || f.Header.OpCode != ws.OpBinary || string(f.Payload) != want {
			t.Fatalf("got %v %q %v, want %q", f.Header.OpCode, f.Payload, err, want)
		}
	}
}

func TestSlowConsumer(t *testing.T) {
	ts := startServer(t, Config{WriteQueueBytes: 64 << 10, CloseTimeout: 200 * time.Millisecond}, newEchoHandler())
	nc, _ := rawDial(t, ts.addr, nil) // never reads again
	sc := ts.waitOpen(t)
	msg := make([]byte, 4096)
	var err error
	for i := 0; i < 100_000 && err == nil; i++ { // at most 400 MB; the kernel buffers a few MB
		err = sc.Write(msg)
	}
	if !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("write error %v, want ErrSlowConsumer", err)
	}
	if err := sc.Write(msg); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after slow consumer: %v", err)
	}
	if code := ts.waitClose(t); code != ClosePolicyViolation {
		t.Fatalf("OnClose %d", code)
	}
	ts.waitLen(t, 0) // closed at CloseTimeout: the peer never drains
	nc.Close()
}

func TestManyConnections(t *testing.T) {
	const n = 500
	ts := startServer(t, Config{}, newEchoHandler())
	conns := make([]*websocket.Conn, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _, err := websocket.DefaultDialer.Dial(ts.url, nil)
			if err != nil {
				errs <- err
				return
			}
			conns[i] = c
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			msg := []byte{byte(i), byte(i >> 8)}
			if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
				errs <- err
				return
			}
			if _, got, err := c.ReadMessage(); err != nil || !bytes.Equal(got, msg) {
				errs <- errors.Join(err, errors.New("bad echo"))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := ts.srv.Len(); got != n {
		t.Fatalf("Len %d, want %d", got, n)
	}
	for _, c := range conns {
		c.Close()
	}
	ts.waitLen(t, 0)
	if got, dup := ts.h.closeCounts(); got != n || dup {
		t.Fatalf("OnClose on %d conns (dup %v), want %d", got, dup, n)
	}
}

func TestIdleConnsHoldNoGoroutine(t *testing.T) {
	const n = 200
	ts := startServer(t, Config{}, newEchoHandler())
	base := runtime.NumGoroutine()
	for range n {
		rawDial(t, ts.addr, nil) // raw client sockets: no client goroutines
	}
	ts.waitLen(t, n)
	// fasthttp's idle workers from the handshakes retire on their own
	// schedule; wait for them, then the count must not depend on n.
	deadline := time.Now().Add(15 * time.Second)
	for runtime.NumGoroutine()-base > 20 {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines for %d idle connections (base %d)", runtime.NumGoroutine(), n, base)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// notInGo is the runtime's count of goroutines in a system call: the least
// of a few reads, so that a goroutine passing through a short syscall (a
// client's read) is not counted.
func notInGo() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines/not-in-go:goroutines"}}
	least := uint64(math.MaxUint64)
	for range 20 {
		metrics.Read(s)
		least = min(least, s[0].Value.Uint64())
		runtime.Gosched()
	}
	return least
}

// An idle loop must sleep in Go's netpoller, never in a blocking syscall:
// a goroutine in a syscall makes the runtime's sysmon retake its P every
// 20 µs, which once cost a third of the relay's CPU. The runtime's own
// count of goroutines in system calls tells the two apart: a loop parked
// on its epoll fd is waiting, one blocked in epoll_wait(2) is in a syscall
// (and the loops' zero-timeout polls are raw syscalls, never counted).
func TestIdleLoopsParkInNetpoller(t *testing.T) {
	const loops = 4
	before := notInGo()
	ts := startServer(t, Config{Loops: loops}, newEchoHandler())
	rawDial(t, ts.addr, nil)
	ts.waitLen(t, 1)
	if after := notInGo(); after >= before+loops {
		t.Fatalf("%d goroutines in system calls with %d idle loops (%d before they started): the loops block in a syscall", after, loops, before)
	}
}

func TestConnSize(t *testing.T) {
	size := unsafe.Sizeof(Conn{})
	t.Logf("sizeof(Conn) = %d bytes", size)
	// A Conn per player: 128 is Go's size class it fits in
	// (docs/architecture.md, "Memory per idle player").
	if size > 128 {
		t.Fatalf("sizeof(Conn) = %d, over the 128-byte budget", size)
	}
}

func TestEachAndShutdown(t *testing.T) {
	h := newEchoHandler()
	ts := startServer(t, Config{}, h)
	clients := []*websocket.Conn{dial(t, ts), dial(t, ts), dial(t, ts)}
	ts.waitLen(t, 3)
	ts.srv.Each(func(c *Conn) { _ = c.Write([]byte("drain soon")) })
	for _, c := range clients {
		if _, msg, err := c.ReadMessage(); err != nil || string(msg) != "drain soon" {
			t.Fatalf("Each: %q %v", msg, err)
		}
	}
	done := make(chan struct{})
	go func() {
		for _, c := range clients {
			_, _, err := c.ReadMessage()
			if closeCode(err) != int(CloseGoingAway) {
				t.Errorf("read %v, want 1001", err)
			}
			c.Close()
		}
		close(done)
	}()
	ts.srv.Shutdown()
	<-done
	if ts.srv.Len() != 0 {
		t.Fatalf("Len %d after Shutdown", ts.srv.Len())
	}
	if got, dup := h.closeCounts(); got != 3 || dup {
		t.Fatalf("OnClose on %d conns (dup %v)", got, dup)
	}
	// New upgrades are refused.
	_, resp, err := websocket.DefaultDialer.Dial(ts.url, nil)
	if err == nil || resp == nil || resp.StatusCode != 503 {
		t.Fatalf("dial after Shutdown: %v %v", resp, err)
	}
}

func TestHandshakeRefusals(t *testing.T) {
	var gotStatus int
	var gotMsg string
	refuse := func(c *fiber.Ctx, status int, msg string) error {
		gotStatus, gotMsg = status, msg
		return c.Status(status).SendString("refused: " + msg)
	}
	srv, err := NewServer(Config{Loops: 1, Refuse: refuse}, newEchoHandler())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	app := fiber.New()
	ConfigureApp(app)
	app.Get("/ws", func(c *fiber.Ctx) error { return srv.Upgrade(c, nil) })
	good := map[string]string{
		"Upgrade": "websocket", "Connection": "keep-alive, Upgrade",
		"Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
	}
	tests := []struct {
		name       string
		key, value string
		status     int
	}{
		{"no upgrade", "Upgrade", "", 400},
		{"upgrade h2c", "Upgrade", "h2c", 400},
		{"no connection upgrade", "Connection", "keep-alive", 400},
		{"version 8", "Sec-WebSocket-Version", "8", 426},
		{"no key", "Sec-WebSocket-Key", "", 400},
		{"short key", "Sec-WebSocket-Key", "c2hvcnQ=", 400},
		{"key not base64", "Sec-WebSocket-Key", "!!!!!!!!!!!!!!!!!!!!!!==", 400},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("GET", "/ws", nil)
		for k, v := range good {
			req.Header.Set(k, v)
		}
		req.Header.Set(tt.key, tt.value)
		gotStatus, gotMsg = 0, ""
		resp, err := app.Test(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		// The caller's writer answered, with netcode's status and reason.
		if gotStatus != tt.status || gotMsg == "" || resp.StatusCode != tt.status || string(body) != "refused: "+gotMsg {
			t.Errorf("%s: writer got %d %q; answer %d %q", tt.name, gotStatus, gotMsg, resp.StatusCode, body)
		}
		if tt.status == 426 && resp.Header.Get("Sec-WebSocket-Version") != "13" {
			t.Errorf("%s: no Sec-WebSocket-Version in the 426", tt.name)
		}
	}
}

// Without a refusal writer, a refusal is the status and its reason as text:
// netcode knows no error-body format.
func TestHandshakeRefusalDefault(t *testing.T) {
	srv, err := NewServer(Config{Loops: 1}, newEchoHandler())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	app := fiber.New()
	app.Get("/ws", func(c *fiber.Ctx) error { return srv.Upgrade(c, nil) })
	resp, err := app.Test(httptest.NewRequest("GET", "/ws", nil))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || string(body) != "missing Upgrade: websocket" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
}

// WriteHead sends head[:n]||body as one message, as WriteParts does with
// head[:n].
func TestWriteHead(t *testing.T) {
	ts := startServer(t, Config{}, newEchoHandler())
	ws := dial(t, ts)
	c := ts.waitOpen(t)
	var head [MaxHead]byte
	copy(head[:], "stamped-")
	if err := c.WriteHead(head, 8, []byte("body")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := ws.ReadMessage(); err != nil || string(msg) != "stamped-body" {
		t.Fatalf("got %q, %v", msg, err)
	}
}
