//go:build linux

package netcode

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gorilla/websocket"
)

// TestMoveKeepsFramesInFlight: a connection moved between loops again and
// again while its peer sends (frames split across reads, so a partial frame
// travels with it) and while another goroutine writes to it loses nothing
// and reorders nothing, in either direction.
func TestMoveKeepsFramesInFlight(t *testing.T) {
	const loops, n = 4, 400
	ts := startServer(t, Config{Loops: loops}, newEchoHandler())
	nc, br := rawDial(t, ts.addr, nil)
	c := ts.waitOpen(t)

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // the peer: each frame in two writes, a move between them
		defer wg.Done()
		for i := range n {
			f := maskedFrame(ws.OpBinary, true, []byte("echo "+strconv.Itoa(i)))
			cut := 1 + i%(len(f)-1)
			if _, err := nc.Write(f[:cut]); err != nil {
				t.Error(err)
				return
			}
			c.MoveTo((i + 1) % loops)
			if i%8 == 0 {
				time.Sleep(50 * time.Microsecond) // let the first half be read alone
			}
			if _, err := nc.Write(f[cut:]); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	go func() { // another goroutine writing while the connection moves
		defer wg.Done()
		for i := range n {
			if err := c.Write([]byte("push " + strconv.Itoa(i))); err != nil {
				t.Error(err)
				return
			}
			c.MoveTo(rand.IntN(loops))
		}
	}()

	next := map[string]int{"echo": 0, "push": 0}
	seen := map[int]bool{}
	for next["echo"] < n || next["push"] < n {
		f, err := ws.ReadFrame(br)
		if err != nil {
			t.Fatalf("after %v: %v", next, err)
		}
		if f.Header.OpCode != ws.OpBinary {
			continue
		}
		var kind string
		var i int
		if _, err := fmt.Sscanf(string(f.Payload), "%s %d", &kind, &i); err != nil || i != next[kind] {
			t.Fatalf("got %q, want %s %d next", f.Payload, kind, next[kind])
		}
		next[kind]++
		seen[c.Loop()] = true
	}
	wg.Wait()
	if len(seen) < 2 {
		t.Fatalf("the connection was served by loops %v only", seen)
	}
	if ts.srv.Len() != 1 {
		t.Fatalf("Len %d, want 1", ts.srv.Len())
	}
}

// TestCloseWhileMoving: connections closed by the server, or by their
// peer, just as they move get OnClose exactly once and leave no socket
// behind.
func TestCloseWhileMoving(t *testing.T) {
	const loops, n = 3, 60
	h := newEchoHandler()
	ts := startServer(t, Config{Loops: loops, CloseTimeout: 300 * time.Millisecond}, h)
	clients := make([]*websocket.Conn, n)
	conns := make([]*Conn, n)
	for i := range n {
		clients[i] = dial(t, ts)
		conns[i] = ts.waitOpen(t)
	}
	for i, c := range conns {
		c.MoveTo((c.Loop() + 1 + i%2) % loops)
		switch i % 3 {
		case 0:
			c.Close(CloseNormal, "bye")
		case 1:
			clients[i].UnderlyingConn().Close() // the peer goes while it moves
		case 2:
			c.MoveTo(i % loops)
			go c.Close(CloseNormal, "bye")
		}
	}
	for range n {
		ts.waitClose(t)
	}
	if got, dup := h.closeCounts(); got != n || dup {
		t.Fatalf("OnClose for %d connections (want %d), some twice: %v", got, n, dup)
	}
	ts.waitLen(t, 0)
}

// TestManyMoves: many connections moved at random by many goroutines
// while they echo, while Each runs (it sees every connection once) and
// while the server shuts down: every echo arrives, every connection gets
// OnClose once.
func TestManyMoves(t *testing.T) {
	const loops, n, rounds = 4, 24, 40
	h := newEchoHandler()
	ts := startServer(t, Config{Loops: loops}, h)
	clients := make([]*websocket.Conn, n)
	conns := make([]*Conn, n)
	for i := range n {
		clients[i] = dial(t, ts)
		conns[i] = ts.waitOpen(t)
	}
	stop := make(chan struct{})
	var movers sync.WaitGroup
	for range 6 {
		movers.Add(1)
		go func() {
			defer movers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				conns[rand.IntN(n)].MoveTo(rand.IntN(loops))
			}
		}()
	}
	for r := range rounds {
		for i, cl := range clients {
			if err := cl.WriteMessage(websocket.BinaryMessage, []byte(fmt.Sprint(i, r))); err != nil {
				t.Fatal(err)
			}
		}
		for i, cl := range clients {
			if _, msg, err := cl.ReadMessage(); err != nil || string(msg) != fmt.Sprint(i, r) {
				t.Fatalf("round %d, client %d: %q %v", r, i, msg, err)
			}
		}
		if r%10 == 0 {
			var mu sync.Mutex
			visits := map[*Conn]int{}
			ts.srv.Each(func(c *Conn) {
				mu.Lock()
				visits[c]++
				mu.Unlock()
			})
			for _, c := range conns {
				if visits[c] != 1 {
					t.Fatalf("Each visited a connection %d times", visits[c])
				}
			}
		}
	}
	go func() { // clients answer the shutdown's close frames
		for _, cl := range clients {
			for {
				if _, _, err := cl.ReadMessage(); err != nil {
					break
				}
			}
			cl.Close()
		}
	}()
	ts.srv.Shutdown() // moves still under way
	close(stop)
	movers.Wait()
	if got, dup := h.closeCounts(); got != n || dup {
		t.Fatalf("OnClose for %d connections (want %d), some twice: %v", got, n, dup)
	}
	if ts.srv.Len() != 0 {
		t.Fatalf("Len %d after Shutdown", ts.srv.Len())
	}
}
