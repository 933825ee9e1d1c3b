package client

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"
)

// MatchHandler receives every frame of a matchmaking player on its reader
// goroutine (see MMFrame for how long f's contents live). It must not block
// for long; it may call the Conn's send methods.
type MatchHandler func(c *MatchConn, f *MMFrame)

// MatchDialer opens matchmaking players. Only lobbyd has matchmaking; the
// baselines' dialers do not implement it.
type MatchDialer interface {
	DialMatch(ctx context.Context, user string, h MatchHandler) (*MatchConn, error)
}

// MatchConn is a player that queues for matches. Unlike Conn it does not
// wait for replies: requests go out with a rid whose low two bits name the
// request (Op), and the reply reaches the MatchHandler like any event, so a
// driver can keep thousands of tickets in flight from one goroutine.
type MatchConn struct {
	userID string
	ws     *websocket.Conn
	h      MatchHandler
	done   chan struct{} // closed when readLoop returns
	closed atomic.Bool

	writeMu sync.Mutex // serializes writes; guards everything below
	seq     uint32
	enq     []byte // the mm.enqueue frame, rid patched per send
	enqRID  int    // offset of the rid's 4 bytes in enq
	enqKey  enqueueArgs
	leave   []byte
	leaveAt int
}

type enqueueArgs struct {
	queue, region string
	skill         float64
}

// DialMatch implements MatchDialer: a guest (or ?user=) connection whose
// user id is read from the welcome event.
func (d *MsgpackDialer) DialMatch(ctx context.Context, user string, h MatchHandler) (*MatchConn, error) {
	ws, welcome, err := d.open(ctx, user)
	if err != nil {
		return nil, err
	}
	var w struct {
		D struct {
			UserID string `msgpack:"user_id"`
		} `msgpack:"d"`
	}
	if err := msgpack.Unmarshal(welcome, &w); err != nil || w.D.UserID == "" {
		_ = ws.Close()
		return nil, fmt.Errorf("welcome without user_id: %v", err)
	}
	c := &MatchConn{userID: w.D.UserID, ws: ws, h: h, done: make(chan struct{})}
	c.leave, c.leaveAt, err = frameWithRID("lobby.leave", nil)
	if err != nil {
		_ = ws.Close()
		return nil, err
	}
	go c.readLoop()
	return c, nil
}

// UserID is the player's user id, as the server's welcome gave it.
func (c *MatchConn) UserID() string { return c.userID }

// frameWithRID encodes {"op", "rid": uint32, "d"} and returns the offset of
// the rid's four big-endian bytes, so the frame is encoded once and only the
// rid changes per send.
func frameWithRID(op string, d func(*msgpack.Encoder) error) ([]byte, int, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	err := errors.Join(enc.EncodeMapLen(3), enc.EncodeString("op"), enc.EncodeString(op), enc.EncodeString("rid"))
	at := buf.Len() + 1 // after the uint32 marker
	err = errors.Join(err, enc.EncodeUint32(0), enc.EncodeString("d"))
	if d != nil {
		err = errors.Join(err, d(enc))
	} else {
		err = errors.Join(err, enc.EncodeMapLen(0))
	}
	return buf.Bytes(), at, err
}

// nextRID returns a fresh rid carrying op; writeMu held. Never 0: op is.
func (c *MatchConn) nextRID(op Op) uint32 {
	c.seq++
	return c.seq<<2 | uint32(op)
}

func (c *MatchConn) writeLocked(b []byte) error {
	if c.closed.Load() {
		return ErrClosed
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
	return c.ws.WriteMessage(websocket.BinaryMessage, b)
}

// Enqueue sends mm.enqueue for a solo ticket (region "" sends none). The
// reply comes to the handler as an MMReply with Op OpEnqueue.
func (c *MatchConn) Enqueue(queue string, skill float64, region string) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	args := enqueueArgs{queue: queue, region: region, skill: skill}
	if c.enq == nil || c.enqKey != args {
		b, at, err := frameWithRID("mm.enqueue", func(enc *msgpack.Encoder) error {
			n := 2
			if region != "" {
				n = 3
			}
			err := errors.Join(enc.EncodeMapLen(n), enc.EncodeString("queue"), enc.EncodeString(queue),
				enc.EncodeString("skill"), enc.EncodeFloat64(skill))
			if region != "" {
				err = errors.Join(err, enc.EncodeString("region"), enc.EncodeString(region))
			}
			return err
		})
		if err != nil {
			return err
		}
		c.enq, c.enqRID, c.enqKey = b, at, args
	}
	binary.BigEndian.PutUint32(c.enq[c.enqRID:], c.nextRID(OpEnqueue))
	return c.writeLocked(c.enq)
}

// Leave sends lobby.leave; the reply comes as an MMReply with Op OpLeave.
func (c *MatchConn) Leave() error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	binary.BigEndian.PutUint32(c.leave[c.leaveAt:], c.nextRID(OpLeave))
	return c.writeLocked(c.leave)
}

// Cancel sends mm.cancel; the reply comes as an MMReply with Op OpCancel.
func (c *MatchConn) Cancel(ticketID string) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	b, at, err := frameWithRID("mm.cancel", func(enc *msgpack.Encoder) error {
		return errors.Join(enc.EncodeMapLen(1), enc.EncodeString("ticket_id"), enc.EncodeString(ticketID))
	})
	if err != nil {
		return err
	}
	binary.BigEndian.PutUint32(b[at:], c.nextRID(OpCancel))
	return c.writeLocked(b)
}

// Done is closed when the connection's reader has stopped (closed by
// either side).
func (c *MatchConn) Done() <-chan struct{} { return c.done }

func (c *MatchConn) readLoop() {
	defer close(c.done)
	buf := make([]byte, 0, 1024)
	var f MMFrame
	for {
		_, r, err := c.ws.NextReader()
		if err != nil {
			return
		}
		if buf, err = readAll(r, buf[:0]); err != nil {
			return
		}
		ParseMM(buf, &f)
		if c.h != nil {
			c.h(c, &f)
		}
		if cap(buf) > 8192 { // do not keep a large buffer for a quiet conn
			buf = make([]byte, 0, 1024)
		}
	}
}

// Close closes the connection and waits for its reader to stop.
func (c *MatchConn) Close() error {
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
