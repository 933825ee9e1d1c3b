package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/lobbyd/lobbyd/protocol"
)

// writeTimeout bounds one write to the server.
const writeTimeout = 10 * time.Second

// Client is one player's session with a lobbyd cluster. Create it with
// Dial; Close it when done.
type Client struct {
	url  url.URL // the /ws endpoint
	ts   TokenSource
	opts Options
	log  *slog.Logger

	ctx    context.Context // cancelled by Close: stops dials and waits
	cancel context.CancelFunc
	rid    atomic.Uint32

	// Guarded by mu.
	mu      sync.Mutex
	conn    *websocket.Conn  // nil while reconnecting
	ready   chan struct{}    // closed when a connection is attached
	pending map[uint32]*call // requests sent on conn, awaiting replies
	welcome protocol.WelcomeEv
	err     error // set once the Client has ended
	ended   bool

	wmu sync.Mutex // one writer at a time on conn

	// Owned by the run goroutine.
	lastSeq    uint64        // the last numbered event queued for the application
	drainAfter time.Duration // server.draining's reconnect_after_ms, for the next reconnect

	// The event queue between the run goroutine and Events.
	qmu     sync.Mutex
	qcond   *sync.Cond // signalled when the queue shrinks or the Client ends
	queue   []Event
	qwake   chan struct{}
	events  chan Event
	closing chan struct{} // Close was called: stop delivering

	done    chan struct{} // closed when the Client has ended
	runDone chan struct{}
}

type call struct{ ch chan result }

type result struct {
	d   msgpack.RawMessage
	err error
}

// envelope is any message from the server (docs/protocol.md §2).
type envelope struct {
	Rid uint32             `msgpack:"rid"`
	Ok  bool               `msgpack:"ok"`
	D   msgpack.RawMessage `msgpack:"d"`
	Err *wireError         `msgpack:"err"`
	Ev  string             `msgpack:"ev"`
	Seq uint64             `msgpack:"seq"`
}

type wireError struct {
	Code string `msgpack:"code"`
	Msg  string `msgpack:"msg"`
}

// HandshakeError is a handshake the server refused before the upgrade: its
// HTTP status, the error of its body and, for 429 and 503, Retry-After.
// errors.As finds the *protocol.Error inside.
type HandshakeError struct {
	Status     int
	Err        *protocol.Error
	RetryAfter time.Duration
}

// Error says the status and the server's error.
func (e *HandshakeError) Error() string {
	return fmt.Sprintf("client: handshake refused: HTTP %d: %v", e.Status, e.Err)
}

// Unwrap gives the *protocol.Error.
func (e *HandshakeError) Unwrap() error { return e.Err }

// Dial connects to the server at rawURL ("ws://host:port/ws"; an http or
// https URL, or one without a path, means its /ws) with a token from ts,
// and returns once the server's welcome has arrived. The first connection
// is not retried: an error here is the server's answer (a
// *HandshakeError) or the network's. ctx bounds Dial only.
func Dial(ctx context.Context, rawURL string, ts TokenSource, opts *Options) (*Client, error) {
	u, err := wsURL(rawURL)
	if err != nil {
		return nil, err
	}
	if ts == nil {
		return nil, errors.New("client: a TokenSource is required")
	}
	o := opts.withDefaults()
	c := &Client{
		url:     *u,
		ts:      ts,
		opts:    o,
		log:     o.Logger,
		pending: make(map[uint32]*call),
		ready:   make(chan struct{}),
		qwake:   make(chan struct{}, 1),
		events:  make(chan Event),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
		runDone: make(chan struct{}),
	}
	c.qcond = sync.NewCond(&c.qmu)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	conn, w, err := c.dial(ctx)
	if err != nil {
		c.cancel()
		return nil, err
	}
	c.attach(conn, w)
	go c.run(conn)
	go c.pump()
	return c, nil
}

// wsURL turns the URL Dial was given into the /ws endpoint.
func wsURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("client: url: %w", err)
	}
	switch u.Scheme {
	case "ws", "wss":
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return nil, fmt.Errorf("client: url %q: scheme must be ws, wss, http or https", raw)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/ws"
	}
	u.RawQuery = ""
	return u, nil
}

// httpBase is the server's HTTP root, for Watch.
func (c *Client) httpBase() url.URL {
	u := c.url
	if u.Scheme == "wss" {
		u.Scheme = "https"
	} else {
		u.Scheme = "http"
	}
	u.Path, u.RawQuery = "", ""
	return u
}

// Events is the channel of events for the application, in order and
// each once. It is closed when the Client ends; Err says why.
func (c *Client) Events() <-chan Event { return c.events }

// Done is closed when the Client has ended (Close, close 4009, or it gave
// up reconnecting).
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the Client ended; nil while it runs.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Welcome is the welcome of the current (or last) connection: the
// session, the user and, at the time of the welcome, their lobby.
func (c *Client) Welcome() protocol.WelcomeEv {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.welcome
}

// Close ends the Client: the connection is closed (1000), requests in
// flight fail with ErrClosed, and Events is closed. The session stays
// resumable on the server for its grace period.
func (c *Client) Close() error {
	c.end(ErrClosed)
	select {
	case <-c.closing:
	default:
		close(c.closing)
	}
	c.qmu.Lock()
	c.qcond.Broadcast()
	c.qmu.Unlock()
	<-c.runDone
	return nil
}

// end makes the Client end with err (the first reason stays).
func (c *Client) end(err error) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended, c.err = true, err
	conn := c.conn
	c.conn = nil
	for rid, cl := range c.pending {
		cl.ch <- result{err: err}
		delete(c.pending, rid)
	}
	c.mu.Unlock()
	c.cancel()
	if conn != nil {
		c.wmu.Lock()
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		c.wmu.Unlock()
		conn.Close()
	}
	close(c.done)
	c.qmu.Lock()
	c.qcond.Broadcast()
	c.qmu.Unlock()
	select {
	case c.qwake <- struct{}{}:
	default:
	}
}

// dial makes one connection: a token, the handshake (with resume after
// the first), the welcome.
func (c *Client) dial(ctx context.Context) (*websocket.Conn, protocol.WelcomeEv, error) {
	var w protocol.WelcomeEv
	tok, err := c.ts.Token(ctx)
	if err != nil {
		return nil, w, fmt.Errorf("client: token: %w", err)
	}
	q := url.Values{"token": {tok}}
	c.mu.Lock()
	if c.welcome.ResumeToken != "" {
		q.Set("resume", c.welcome.ResumeToken)
		q.Set("last_seq", strconv.FormatUint(c.lastSeq, 10))
	}
	c.mu.Unlock()
	u := c.url
	u.RawQuery = q.Encode()
	conn, resp, err := c.opts.Dialer.DialContext(ctx, u.String(), c.opts.Header)
	if err != nil {
		if resp != nil {
			return nil, w, handshakeError(resp.StatusCode, resp.Header.Get("Retry-After"), resp.Body)
		}
		return nil, w, err
	}
	conn.SetReadLimit(c.opts.MaxMessage)
	deadline := time.Now().Add(DefaultHandshake)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	conn.SetReadDeadline(deadline)
	_, b, err := conn.ReadMessage()
	if err != nil {
		conn.Close()
		return nil, w, fmt.Errorf("client: no welcome: %w", err)
	}
	var env envelope
	if err := msgpack.Unmarshal(b, &env); err != nil || env.Ev != protocol.EvWelcome {
		conn.Close()
		return nil, w, fmt.Errorf("client: first message is not a welcome (%v)", err)
	}
	if err := msgpack.Unmarshal(env.D, &w); err != nil {
		conn.Close()
		return nil, w, fmt.Errorf("client: welcome: %w", err)
	}
	conn.SetReadDeadline(time.Time{})
	return conn, w, nil
}

type bodyReader interface{ Read([]byte) (int, error) }

func handshakeError(status int, retryAfter string, body bodyReader) error {
	he := &HandshakeError{Status: status, Err: protocol.NewError(protocol.CodeInternal, "HTTP "+strconv.Itoa(status))}
	if body != nil {
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(limitReader{body, 4096})
		var e struct {
			Error struct {
				Code string `json:"code"`
				Msg  string `json:"msg"`
			} `json:"error"`
		}
		if json.Unmarshal(buf.Bytes(), &e) == nil && e.Error.Code != "" {
			he.Err = protocol.NewError(protocol.Code(e.Error.Code), e.Error.Msg)
		}
	}
	if s, err := strconv.Atoi(retryAfter); err == nil && s >= 0 {
		he.RetryAfter = time.Duration(s) * time.Second
	}
	return he
}

type limitReader struct {
	r bodyReader
	n int
}

func (l limitReader) Read(p []byte) (int, error) {
	if len(p) > l.n {
		p = p[:l.n]
	}
	return l.r.Read(p)
}

// attach makes conn the Client's connection.
func (c *Client) attach(conn *websocket.Conn, w protocol.WelcomeEv) {
	c.mu.Lock()
	c.conn, c.welcome = conn, w
	close(c.ready)
	c.mu.Unlock()
}

// detach forgets conn: requests awaiting a reply on it fail with
// ErrConnectionLost; new requests wait for the next connection.
func (c *Client) detach(conn *websocket.Conn) {
	conn.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != conn {
		return
	}
	c.conn = nil
	c.ready = make(chan struct{})
	for rid, cl := range c.pending {
		cl.ch <- result{err: ErrConnectionLost}
		delete(c.pending, rid)
	}
}

// run reads conn, and after it drops, reconnects, until the Client ends.
func (c *Client) run(conn *websocket.Conn) {
	defer close(c.runDone)
	for {
		err := c.read(conn)
		c.detach(conn)
		if c.ctx.Err() != nil {
			return
		}
		code := 0
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			code = ce.Code
		}
		if code == int(protocol.CloseReplaced) {
			c.end(ErrReplaced)
			return
		}
		c.log.Info("lobbyd client: connection lost, reconnecting", "err", err, "close_code", code)
		c.enqueue(Event{Name: EvDisconnected, Data: &Disconnected{Err: err, CloseCode: code}})
		// A drained shard told this client when to come back and closed
		// the connection at that time: come back now (behind the load
		// balancer, another shard). Otherwise the backoff starts at once.
		drained := code == int(protocol.CloseDraining)
		c.drainAfter = 0
		var w protocol.WelcomeEv
		conn, w, err = c.reconnect(drained)
		if err != nil {
			c.end(err)
			return
		}
		if w.Resumed {
			c.enqueue(Event{Name: EvResumed, Data: &Resumed{Welcome: w}})
		} else {
			// A new session numbers its events from 1 again.
			c.lastSeq = 0
			c.enqueue(Event{Name: EvSessionReset, Data: &SessionReset{Welcome: w}})
		}
		c.attach(conn, w)
	}
}

// reconnect dials until a connection is made, the Client is closed, or
// it gives up (MaxAttempts, AuthRetries).
func (c *Client) reconnect(drained bool) (*websocket.Conn, protocol.WelcomeEv, error) {
	var wait time.Duration
	authFails := 0
	for n := 0; ; n++ {
		if n > 0 || !drained {
			wait = max(wait, backoff(n, c.opts.MinBackoff, c.opts.MaxBackoff))
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-c.ctx.Done():
				t.Stop()
				return nil, protocol.WelcomeEv{}, ErrClosed
			}
		}
		wait = 0
		ctx, cancel := context.WithTimeout(c.ctx, DefaultHandshake+time.Second)
		conn, w, err := c.dial(ctx)
		cancel()
		if err == nil {
			return conn, w, nil
		}
		if c.ctx.Err() != nil {
			return nil, w, ErrClosed
		}
		var he *HandshakeError
		if errors.As(err, &he) {
			switch he.Status {
			case 401:
				// The token source is asked again on the next dial; a
				// source that keeps giving refused tokens is a bug.
				if authFails++; authFails >= c.opts.AuthRetries {
					return nil, w, err
				}
			case 403, 400:
				return nil, w, err // nothing a retry changes
			}
			if he.RetryAfter > 0 {
				// Retry-After, spread by a little jitter.
				wait = he.RetryAfter + backoff(0, c.opts.MinBackoff, c.opts.MinBackoff)
			}
		}
		c.log.Info("lobbyd client: reconnect failed", "attempt", n+1, "err", err)
		if c.opts.MaxAttempts > 0 && n+1 >= c.opts.MaxAttempts {
			return nil, w, fmt.Errorf("client: gave up after %d attempts: %w", n+1, err)
		}
	}
}

// read handles conn's messages until it fails.
func (c *Client) read(conn *websocket.Conn) error {
	c.mu.Lock()
	hb := time.Duration(c.welcome.HeartbeatMs) * time.Millisecond
	c.mu.Unlock()
	if hb <= 0 {
		hb = 15 * time.Second
	}
	grace := defaultHeartbeatGrace * hb
	conn.SetPingHandler(func(data string) error {
		conn.SetReadDeadline(time.Now().Add(grace))
		err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(writeTimeout))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	for {
		conn.SetReadDeadline(time.Now().Add(grace))
		typ, b, err := conn.ReadMessage()
		if err != nil {
			return err
		}
		if typ != websocket.BinaryMessage {
			continue
		}
		var env envelope
		if err := msgpack.Unmarshal(b, &env); err != nil {
			c.log.Warn("lobbyd client: undecodable message skipped", "err", err)
			continue
		}
		if env.Ev == "" {
			c.reply(&env)
			continue
		}
		if env.Ev == protocol.EvWelcome {
			continue // only the first message of a connection, handled by dial
		}
		if env.Seq > 0 {
			if env.Seq <= c.lastSeq {
				continue // replayed after a resume, delivered already
			}
			c.lastSeq = env.Seq
		}
		data, err := decodePayload(env.Ev, env.D)
		if err != nil {
			c.log.Warn("lobbyd client: undecodable event payload", "event", env.Ev, "err", err)
			data = env.D
		}
		if d, ok := data.(*protocol.DrainingEv); ok {
			c.drainAfter = time.Duration(d.ReconnectAfterMs) * time.Millisecond
		}
		c.enqueue(Event{Name: env.Ev, Seq: env.Seq, Data: data})
	}
}

// reply hands a reply to its request.
func (c *Client) reply(env *envelope) {
	c.mu.Lock()
	cl := c.pending[env.Rid]
	delete(c.pending, env.Rid)
	c.mu.Unlock()
	if cl == nil {
		return // a request that gave up waiting, or rid 0
	}
	if env.Ok {
		cl.ch <- result{d: env.D}
		return
	}
	e := protocol.NewError(protocol.CodeInternal, "reply without an error")
	if env.Err != nil {
		e = protocol.NewError(protocol.Code(env.Err.Code), env.Err.Msg)
	}
	cl.ch <- result{err: e}
}

// enqueue queues ev for Events, waiting while the queue is full.
func (c *Client) enqueue(ev Event) {
	c.qmu.Lock()
	for len(c.queue) >= c.opts.MaxQueued && !c.isEnded() {
		c.qcond.Wait()
	}
	c.queue = append(c.queue, ev)
	c.qmu.Unlock()
	select {
	case c.qwake <- struct{}{}:
	default:
	}
}

func (c *Client) isEnded() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// pump hands queued events to Events in order; after the Client ended it
// delivers what is queued (unless Close was called) and closes Events.
func (c *Client) pump() {
	defer close(c.events)
	var batch []Event
	for {
		c.qmu.Lock()
		batch, c.queue = c.queue, batch[:0]
		c.qcond.Broadcast()
		c.qmu.Unlock()
		for i, ev := range batch {
			select {
			case c.events <- ev:
			case <-c.closing:
				return
			}
			batch[i] = Event{}
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-c.qwake:
		case <-c.done:
			c.qmu.Lock()
			empty := len(c.queue) == 0
			c.qmu.Unlock()
			if empty {
				return
			}
		case <-c.closing:
			return
		}
	}
}

// request is a request envelope.
type request struct {
	Op  string `msgpack:"op"`
	Rid uint32 `msgpack:"rid"`
	D   any    `msgpack:"d,omitempty"`
}

func encodeRequest(op string, rid uint32, d any) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.SetOmitEmpty(true) // absent fields stay absent (an update changes only what it names)
	enc.SetCustomStructTag("msgpack")
	if err := enc.Encode(request{Op: op, Rid: rid, D: d}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Call sends the op with body d (nil: none) and waits for its reply,
// decoding the reply's d into out (nil: ignored). Refusals are
// *protocol.Error. While the Client reconnects, the request waits for the
// new connection or for ctx. The typed methods (CreateLobby, ...) are Call
// with the types of docs/protocol.md §3.
func (c *Client) Call(ctx context.Context, op string, d any, out any) error {
	rid := c.rid.Add(1)
	if rid == 0 {
		rid = c.rid.Add(1)
	}
	frame, err := encodeRequest(op, rid, d)
	if err != nil {
		return fmt.Errorf("client: encode %s: %w", op, err)
	}
	for {
		c.mu.Lock()
		if c.ended {
			err := c.err
			c.mu.Unlock()
			return err
		}
		conn, ready := c.conn, c.ready
		if conn == nil {
			c.mu.Unlock()
			select {
			case <-ready:
				continue
			case <-c.done:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		cl := &call{ch: make(chan result, 1)}
		c.pending[rid] = cl
		c.mu.Unlock()

		c.wmu.Lock()
		conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		werr := conn.WriteMessage(websocket.BinaryMessage, frame)
		c.wmu.Unlock()
		if werr != nil {
			// Not written whole: the server cannot have run it. Wait for
			// the next connection and send it there.
			c.mu.Lock()
			if c.pending[rid] == cl {
				delete(c.pending, rid)
			}
			c.mu.Unlock()
			conn.Close() // the reader notices and reconnects
			select {
			case <-ready:
			default:
			}
			c.waitDetached(ctx, conn)
			continue
		}
		select {
		case r := <-cl.ch:
			if r.err != nil {
				return r.err
			}
			if out != nil && len(r.d) > 0 {
				if err := msgpack.Unmarshal(r.d, out); err != nil {
					return fmt.Errorf("client: reply of %s: %w", op, err)
				}
			}
			return nil
		case <-ctx.Done():
			c.mu.Lock()
			if c.pending[rid] == cl {
				delete(c.pending, rid)
			}
			c.mu.Unlock()
			return ctx.Err()
		}
	}
}

// waitDetached waits until conn is no longer the Client's connection.
func (c *Client) waitDetached(ctx context.Context, conn *websocket.Conn) {
	for {
		c.mu.Lock()
		still := c.conn == conn && !c.ended
		c.mu.Unlock()
		if !still {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-c.done:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}
