package client

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/protobuf/encoding/protowire"
)

// CentrifugeDialer speaks centrifuge's protobuf client protocol
// (github.com/centrifugal/protocol, definitions/client.proto) over
// /connection/websocket?format=protobuf, as centrifuge-go and
// centrifuge-js in protobuf mode do: every WebSocket message holds one or
// more varint-length-delimited Command (client) or Reply (server)
// messages. The player connects with its JWT in the connect command.
//
// Create is rpc "create" then subscribe to lobby:ID, Join subscribe, Leave
// unsubscribe, Send a publish of 64 bytes (the send time in the first 8,
// big-endian) into the lobby's channel. A publication pushed back to its
// publisher (centrifuge sends every publication to every subscriber) is
// not counted as a delivery. An empty Reply is the server's ping, answered
// with an empty Command, as ConnectResult.pong asks.
//
// The few message shapes it needs are encoded by hand with protowire,
// without generated code, so that the hot path allocates nothing.
type CentrifugeDialer struct {
	// Addr is host:port of the server.
	Addr string
	// Secret signs the players' HS256 JWTs (the server's JWT_SECRET).
	Secret []byte

	once   sync.Once
	dialer websocket.Dialer
}

// Command and Reply field numbers (client.proto).
const (
	cfCmdID          = 1
	cfCmdConnect     = 4
	cfCmdSubscribe   = 5
	cfCmdUnsubscribe = 6
	cfCmdPublish     = 7
	cfCmdRPC         = 13

	cfReplyID    = 1
	cfReplyError = 2
	cfReplyPush  = 4
	cfReplyRPC   = 13

	cfPushPub     = 4
	cfPubData     = 4
	cfPubInfo     = 5
	cfInfoClient  = 2
	cfErrCode     = 1
	cfErrMessage  = 2
	cfRPCData     = 1
	cfRPCMethod   = 2
	cfConnClient  = 1
	cfConnToken   = 1
	cfChannel     = 1
	cfPublishData = 2
	cfReplyConn   = 5
)

func (d *CentrifugeDialer) init() {
	d.once.Do(func() {
		d.dialer = websocket.Dialer{
			HandshakeTimeout: 10 * time.Second,
			ReadBufferSize:   2048,
			WriteBufferPool:  &sync.Pool{},
			WriteBufferSize:  512,
		}
	})
}

// Dial implements Dialer: WebSocket, then the connect command with the
// player's token.
func (d *CentrifugeDialer) Dial(ctx context.Context, user string, onData Handler) (Conn, error) {
	d.init()
	tok, err := signToken(d.Secret, user)
	if err != nil {
		return nil, err
	}
	ws, resp, err := d.dialer.DialContext(ctx, "ws://"+d.Addr+"/connection/websocket?format=protobuf", nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial: %w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, fmt.Errorf("dial: %w", err)
	}
	ws.SetReadLimit(maxFrame)
	c := &cfConn{ws: ws, onData: onData, done: make(chan struct{}), replies: make(chan reply, 4)}
	go c.readLoop()
	connect := protowire.AppendTag(nil, cfConnToken, protowire.BytesType)
	connect = protowire.AppendString(connect, tok)
	r, err := c.call(ctx, cfCmdConnect, connect)
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	c.clientID = string(cfField(cfField(r, cfReplyConn), cfConnClient))
	return c, nil
}

// cfConn is a Conn speaking centrifuge's protobuf protocol.
type cfConn struct {
	ws       *websocket.Conn
	onData   Handler
	done     chan struct{}
	clientID string // set once by Dial, before Send is used

	writeMu sync.Mutex
	sendBuf []byte // guarded by writeMu
	reqMu   sync.Mutex
	id      atomic.Uint32
	replies chan reply
	closed  atomic.Bool
	channel atomic.Pointer[string] // the lobby's channel, nil outside one
}

func (c *cfConn) readLoop() {
	defer close(c.done)
	buf := make([]byte, 0, 512)
	for {
		_, rd, err := c.ws.NextReader()
		if err != nil {
			return
		}
		if buf, err = readAll(rd, buf[:0]); err != nil {
			return
		}
		for b := buf; len(b) > 0; {
			m, n := protowire.ConsumeBytes(b)
			if n < 0 {
				break
			}
			b = b[n:]
			if len(m) == 0 { // the server's ping: answer with an empty command
				c.writeMu.Lock()
				err := c.write([]byte{0})
				c.writeMu.Unlock()
				if err != nil {
					return
				}
				continue
			}
			c.onReply(m)
		}
		if cap(buf) > 8192 {
			buf = make([]byte, 0, 512)
		}
	}
}

// onReply routes one Reply: a push with a publication to onData (unless it
// is this client's own), a reply with an id to the waiting call.
func (c *cfConn) onReply(m []byte) {
	if push := cfField(m, cfReplyPush); push != nil {
		pub := cfField(push, cfPushPub)
		if pub == nil {
			return
		}
		data := cfField(pub, cfPubData)
		if len(data) < 8 || c.onData == nil {
			return
		}
		if len(data) <= 8 || data[8] != cfChatMark {
			if from := cfField(cfField(pub, cfPubInfo), cfInfoClient); string(from) == c.clientID {
				return // its own relay publication, echoed
			}
		}
		c.onData(int64(binary.BigEndian.Uint64(data)))
		return
	}
	id, ok := cfVarint(m, cfReplyID)
	if !ok || id == 0 {
		return
	}
	select {
	case c.replies <- reply{rid: id, body: append([]byte(nil), m...)}:
	default:
	}
}

// cfField returns the bytes of the first length-delimited field num in a
// message (nil when absent or malformed).
func cfField(m []byte, num protowire.Number) []byte {
	for len(m) > 0 {
		n, typ, l := protowire.ConsumeTag(m)
		if l < 0 {
			return nil
		}
		m = m[l:]
		if n == num && typ == protowire.BytesType {
			v, l := protowire.ConsumeBytes(m)
			if l < 0 {
				return nil
			}
			return v
		}
		l = protowire.ConsumeFieldValue(n, typ, m)
		if l < 0 {
			return nil
		}
		m = m[l:]
	}
	return nil
}

// cfVarint returns the varint field num of a message.
func cfVarint(m []byte, num protowire.Number) (uint64, bool) {
	for len(m) > 0 {
		n, typ, l := protowire.ConsumeTag(m)
		if l < 0 {
			return 0, false
		}
		m = m[l:]
		if n == num && typ == protowire.VarintType {
			v, l := protowire.ConsumeVarint(m)
			return v, l >= 0
		}
		l = protowire.ConsumeFieldValue(n, typ, m)
		if l < 0 {
			return 0, false
		}
		m = m[l:]
	}
	return 0, false
}

func (c *cfConn) write(b []byte) error {
	if c.closed.Load() {
		return ErrClosed
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
	return c.ws.WriteMessage(websocket.BinaryMessage, b)
}

// call sends Command{id, <field>: body} and waits for its reply, which it
// returns; a reply with an error is a ReplyError.
func (c *cfConn) call(ctx context.Context, field protowire.Number, body []byte) ([]byte, error) {
	c.reqMu.Lock()
	defer c.reqMu.Unlock()
	id := uint64(c.id.Add(1))
	cmd := protowire.AppendTag(nil, cfCmdID, protowire.VarintType)
	cmd = protowire.AppendVarint(cmd, id)
	cmd = protowire.AppendTag(cmd, field, protowire.BytesType)
	cmd = protowire.AppendBytes(cmd, body)
	frame := protowire.AppendBytes(nil, cmd)
	c.writeMu.Lock()
	err := c.write(frame)
	c.writeMu.Unlock()
	if err != nil {
		return nil, err
	}
	for {
		select {
		case r := <-c.replies:
			if r.rid != id {
				continue
			}
			if e := cfField(r.body, cfReplyError); e != nil {
				code, _ := cfVarint(e, cfErrCode)
				return nil, &ReplyError{Op: "centrifuge", Code: fmt.Sprintf("%d %s", code, cfField(e, cfErrMessage))}
			}
			return r.body, nil
		case <-c.done:
			return nil, ErrClosed
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func cfChannelBody(ch string) []byte {
	b := protowire.AppendTag(nil, cfChannel, protowire.BytesType)
	return protowire.AppendString(b, ch)
}

func (c *cfConn) Create(ctx context.Context, name string, max int) (string, error) {
	args, _ := json.Marshal(map[string]any{"name": name, "max_players": max})
	body := protowire.AppendTag(nil, cfRPCData, protowire.BytesType)
	body = protowire.AppendBytes(body, args)
	body = protowire.AppendTag(body, cfRPCMethod, protowire.BytesType)
	body = protowire.AppendString(body, "create")
	r, err := c.call(ctx, cfCmdRPC, body)
	if err != nil {
		return "", err
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(cfField(cfField(r, cfReplyRPC), cfRPCData), &out); err != nil || out.ID == "" {
		return "", fmt.Errorf("create: bad rpc result")
	}
	return out.ID, c.Join(ctx, out.ID)
}

func (c *cfConn) Join(ctx context.Context, id string) error {
	ch := "lobby:" + id
	if _, err := c.call(ctx, cfCmdSubscribe, cfChannelBody(ch)); err != nil {
		return err
	}
	c.channel.Store(&ch)
	return nil
}

func (c *cfConn) Leave(ctx context.Context) error {
	ch := c.channel.Swap(nil)
	if ch == nil {
		return &ReplyError{Op: "leave", Code: "not_in_lobby"}
	}
	_, err := c.call(ctx, cfCmdUnsubscribe, cfChannelBody(*ch))
	return err
}

// cfChatMark, as a payload's ninth byte, makes a publication a chat: the
// baseline keeps it in the channel's history (centrifuge's way to recover
// missed messages) and every member counts it, its sender included.
const cfChatMark = 'c'

// Send publishes the payload into the lobby's channel without waiting for
// the publish reply (readLoop drops it), as an SDK's fire-and-forget
// publish does.
func (c *cfConn) Send(sentAt int64) error { return c.publish(sentAt, 'x') }

// Chat publishes a chat (cfChatMark) into the lobby's channel.
func (c *cfConn) Chat(sentAt int64) error { return c.publish(sentAt, cfChatMark) }

func (c *cfConn) publish(sentAt int64, mark byte) error {
	ch := c.channel.Load()
	if ch == nil {
		return ErrClosed
	}
	var payload [PayloadSize]byte
	binary.BigEndian.PutUint64(payload[:], uint64(sentAt))
	payload[8] = mark
	for i := 9; i < PayloadSize; i++ {
		payload[i] = 'x'
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	// Command{id, publish{channel, data}}, length-delimited, in a buffer
	// kept for the next send.
	pubLen := protowire.SizeTag(cfChannel) + protowire.SizeBytes(len(*ch)) +
		protowire.SizeTag(cfPublishData) + protowire.SizeBytes(PayloadSize)
	id := uint64(c.id.Add(1))
	cmdLen := protowire.SizeTag(cfCmdID) + protowire.SizeVarint(id) + protowire.SizeTag(cfCmdPublish) + protowire.SizeBytes(pubLen)
	b := protowire.AppendVarint(c.sendBuf[:0], uint64(cmdLen))
	b = protowire.AppendTag(b, cfCmdID, protowire.VarintType)
	b = protowire.AppendVarint(b, id)
	b = protowire.AppendTag(b, cfCmdPublish, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(pubLen))
	b = protowire.AppendTag(b, cfChannel, protowire.BytesType)
	b = protowire.AppendString(b, *ch)
	b = protowire.AppendTag(b, cfPublishData, protowire.BytesType)
	b = protowire.AppendBytes(b, payload[:])
	c.sendBuf = b
	return c.write(b)
}

func (c *cfConn) Close() error {
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
