package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"
	"golang.org/x/sys/unix"

	"github.com/lobbyd/lobbyd/bench/internal/proc"
)

// slowreadCmd is issue 10's slow-reader attack against a running lobbyd in
// dev mode: n members of one busy lobby read nothing (a 16 KiB receive
// buffer, set before the connect) while senders relay -size-byte messages
// to them as fast as the rate limit allows. It samples the server's RSS
// from /proc and, at the end, lets every reader read what it was sent:
// each stream must end with whole frames and then 1008, or still be open.
func slowreadCmd(args []string) error {
	fs := flag.NewFlagSet("slowread", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "lobbyd address (loopback only, dev mode: guest tokens)")
	pid := fs.Int("pid", 0, "server process id (default: the process listening on -addr)")
	n := fs.Int("n", 100, "non-reading lobby members (1..250)")
	senders := fs.Int("senders", 4, "members that send (each within its rate limit)")
	size := fs.Int("size", 32<<10, "payload bytes of each lobby.send (1..60000)")
	rate := fs.Float64("rate", 45, "lobby.send per second per sender")
	dur := fs.Duration("duration", 20*time.Second, "how long the senders send (max 2m)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *senders < 1 || *n+*senders > 256 || *size < 1 || *size > 60000 || *rate <= 0 || *dur <= 0 || *dur > 2*time.Minute {
		return errors.New("slowread: -n+-senders up to 256, -size 1..60000, -rate > 0, -duration up to 2m")
	}
	t, err := runningTarget("slowread", "lobbyd", *addr, *pid)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	before, err := proc.ReadStatus(t.PID)
	if err != nil {
		return err
	}
	host, err := dialGuest(ctx, *addr, "host", 0)
	if err != nil {
		return err
	}
	defer host.Close()
	lobbyID, err := createLobby(host)
	if err != nil {
		return err
	}
	go discard(host)
	var sendConns []*websocket.Conn
	for i := range *senders - 1 {
		c, err := dialGuest(ctx, *addr, fmt.Sprint("sender", i), 0)
		if err != nil {
			return err
		}
		defer c.Close()
		go discard(c)
		if err := request(c, "lobby.join", map[string]any{"lobby_id": lobbyID}); err != nil {
			return err
		}
		sendConns = append(sendConns, c)
	}
	sendConns = append(sendConns, host)
	readers := make([]*websocket.Conn, *n)
	for i := range readers {
		c, err := dialGuest(ctx, *addr, fmt.Sprint("slow", i), 16<<10)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := request(c, "lobby.join", map[string]any{"lobby_id": lobbyID}); err != nil {
			return err
		}
		readers[i] = c
	}
	time.Sleep(200 * time.Millisecond) // let the joins land before the relay starts

	// Senders at a fixed rate; RSS sampled every 250 ms.
	msg, _ := msgpack.Marshal(map[string]any{"op": "lobby.send", "d": map[string]any{"data": make([]byte, *size)}})
	var sent atomic.Int64
	sendCtx, cancel := context.WithTimeout(ctx, *dur)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range sendConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Duration(float64(time.Second) / *rate))
			defer tick.Stop()
			for {
				select {
				case <-sendCtx.Done():
					return
				case <-tick.C:
					if c.WriteMessage(websocket.BinaryMessage, msg) != nil {
						return
					}
					sent.Add(1)
				}
			}
		}()
	}
	var peak int64
	sample := time.NewTicker(250 * time.Millisecond)
	fmt.Printf("server pid %d: %d slow readers, %d senders × %.0f/s × %d B for %s\n", t.PID, *n, len(sendConns), *rate, *size, *dur)
	start := time.Now()
	next := time.Second * 5
sampling:
	for {
		select {
		case <-sendCtx.Done():
			break sampling
		case <-sample.C:
			st, err := proc.ReadStatus(t.PID)
			if err != nil {
				return err
			}
			peak = max(peak, st.RSSBytes)
			if el := time.Since(start); el >= next {
				fmt.Printf("  %4.0fs  RSS %7.1f MiB  (peak %7.1f MiB)\n", el.Seconds(), mib(st.RSSBytes), mib(peak))
				next += 5 * time.Second
			}
		}
	}
	sample.Stop()
	wg.Wait()
	after, _ := proc.ReadStatus(t.PID)

	// Now every reader reads what it was sent.
	var closed1008, open, cut atomic.Int64
	var rwg sync.WaitGroup
	for _, c := range readers {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			for {
				_ = c.SetReadDeadline(time.Now().Add(3 * time.Second)) // 3 s without a frame: still open
				if _, _, err := c.ReadMessage(); err != nil {
					var ce *websocket.CloseError
					var ne net.Error
					switch {
					case errors.As(err, &ce) && ce.Code == 1008:
						closed1008.Add(1)
					case errors.As(err, &ne) && ne.Timeout():
						open.Add(1)
					default:
						cut.Add(1)
					}
					return
				}
			}
		}()
	}
	rwg.Wait()
	fmt.Printf("RSS before %.1f MiB, peak %.1f MiB, at the end %.1f MiB; %d messages sent (%.0f MB owed to the readers)\n",
		mib(before.RSSBytes), mib(peak), mib(after.RSSBytes), sent.Load(), float64(sent.Load())*float64(*size)*float64(*n)/1e6)
	fmt.Printf("readers: %d closed with 1008, %d still open, %d streams cut without a close frame\n", closed1008.Load(), open.Load(), cut.Load())
	return nil
}

// dialGuest connects as a new dev-mode guest; rcvbuf > 0 sets the socket's
// receive buffer before the connect.
func dialGuest(ctx context.Context, addr, name string, rcvbuf int) (*websocket.Conn, error) {
	body, _ := json.Marshal(map[string]string{"name": name})
	resp, err := http.Post("http://"+addr+"/v1/auth/guest", "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	var g struct{ Token string }
	err = json.NewDecoder(resp.Body).Decode(&g)
	resp.Body.Close()
	if err != nil || g.Token == "" {
		return nil, fmt.Errorf("guest token: %v (HTTP %d)", err, resp.StatusCode)
	}
	nd := &net.Dialer{}
	if rcvbuf > 0 {
		nd.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf) })
			return errors.Join(err, serr)
		}
	}
	d := websocket.Dialer{NetDialContext: nd.DialContext, HandshakeTimeout: 10 * time.Second}
	c, _, err := d.DialContext(ctx, "ws://"+addr+"/ws?token="+url.QueryEscape(g.Token), nil)
	return c, err
}

// request sends op without waiting for its reply (rid 1: the reply comes,
// unread or discarded).
func request(c *websocket.Conn, op string, d map[string]any) error {
	b, err := msgpack.Marshal(map[string]any{"op": op, "rid": 1, "d": d})
	if err != nil {
		return err
	}
	return c.WriteMessage(websocket.BinaryMessage, b)
}

// createLobby creates a public lobby and returns its id, reading c up to
// the reply (before discard takes c over).
func createLobby(c *websocket.Conn) (string, error) {
	b, _ := msgpack.Marshal(map[string]any{"op": "lobby.create", "rid": 7, "d": map[string]any{"name": "slowread", "max_players": 256, "visibility": "public"}})
	if err := c.WriteMessage(websocket.BinaryMessage, b); err != nil {
		return "", err
	}
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			return "", err
		}
		var m struct {
			Rid uint32 `msgpack:"rid"`
			D   struct {
				Lobby struct {
					ID string `msgpack:"id"`
				} `msgpack:"lobby"`
			} `msgpack:"d"`
		}
		if msgpack.Unmarshal(data, &m) == nil && m.Rid == 7 && m.D.Lobby.ID != "" {
			return m.D.Lobby.ID, nil
		}
	}
}

// discard reads and drops everything c is sent, so c never falls behind.
func discard(c *websocket.Conn) {
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			return
		}
	}
}
