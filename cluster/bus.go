package cluster

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"
)

// shardControl is the pub/sub channel of a shard's control messages. It is
// not the lobby events' channel (shard:<id>): control messages are rare,
// and a channel of their own keeps them out of the event follower's order.
// On Redis Cluster it is a sharded channel (SSUBSCRIBE/SPUBLISH, Redis 7),
// routed by its hash tag: one node carries it, and SPUBLISH's count of
// receivers is exact, which plain PUBLISH's is not in a cluster.
func (k Keyspace) shardControl(shardID string) string { return k.tag("sh", shardID, ":ctl") }

// sessionRing holds a replay ring handed over for one request, for
// HandoverTTL: the reply says it is there, the requester GETDELs it.
func (k Keyspace) sessionRing(userID, req string) string { return k.tag("s", userID, ":ring:"+req) }

// Bus timings.
const (
	// DefaultHandoverTimeout bounds a HandOver: request, the holder's
	// answer, and fetching the ring. A resume that hits it goes on without
	// the ring (docs/protocol.md: a resume that cannot be honoured starts a new
	// session).
	DefaultHandoverTimeout = 2 * time.Second
	// handoverTTL is how long a handed-over ring waits in Redis.
	handoverTTL = 10 * time.Second
	// maxRingBytes bounds a ring put into Redis.
	maxRingBytes = 16 << 20
	// DeliverRetryFor bounds how long a sender goes on publishing one
	// event (one id) to a shard: the 10 s in which the protocol has shards
	// recover from a Redis outage (docs/protocol.md §5a), so that a player
	// matched just before one still gets its mm.matched.
	DeliverRetryFor = 10 * time.Second
	// deliverDedupFor is how long a shard remembers the id of an event
	// delivered to it, to drop a second copy: far longer than the
	// sender's retries, and every copy reaches a subscriber as it is
	// published.
	deliverDedupFor = 3 * DeliverRetryFor
)

// Control message kinds.
const (
	ctlClose    = "close"    // close user's connection of session with 4009
	ctlHandover = "handover" // hand session's ring to From; reply on From's channel
	ctlRing     = "ring"     // reply to a handover: the ring is in sessionRing (OK) or not
	ctlDeliver  = "deliver"  // an encoded event for users of that shard (matchmaking)
	ctlDrain    = "drain"    // start draining (an operator asked another shard)
)

type ctlMsg struct {
	Kind    string   `msgpack:"k"`
	User    string   `msgpack:"u"`
	Session string   `msgpack:"s"`
	From    string   `msgpack:"f,omitempty"`
	Req     string   `msgpack:"r,omitempty"`
	OK      bool     `msgpack:"ok,omitempty"`
	Users   []string `msgpack:"us,omitempty"` // deliver: recipients
	Event   []byte   `msgpack:"ev,omitempty"` // deliver: the encoded event
	ID      uint64   `msgpack:"id,omitempty"` // deliver: random, the same in every copy (0: none)
}

// ControlHandler is what a shard does on its peers' control messages; the
// gateway implements it. Methods run on the Bus's goroutine, one at a
// time, and must not block on the network.
type ControlHandler interface {
	// CloseSession closes user's connection with 4009 if it still belongs
	// to session sessionID on this shard (another login replaced it).
	CloseSession(userID, sessionID string)
	// HandOver closes the session's connection here (4009) if it has one,
	// retires the session on this shard and returns its replay ring
	// (opaque bytes the gateway encodes, with the session's last seq); ok
	// false when this shard does not have that session.
	HandOver(userID, sessionID string) (ring []byte, ok bool)
	// DeliverEvent numbers an encoded event (docs/protocol.md's event envelope,
	// seq to be stamped) for each user's session on this shard.
	DeliverEvent(userIDs []string, event []byte)
	// Drain starts draining this shard, as POST /admin/drain on it would:
	// an operator asked another shard (POST /admin/shards/{id}/drain). It
	// must return at once; the drain runs in the background.
	Drain()
}

// ErrShardUnreachable: no shard listens on the target's control channel
// (it is dead or lost its Redis connection).
var ErrShardUnreachable = errors.New("cluster: shard not listening")

// Bus is the shard-to-shard control channel on Redis pub/sub: each shard
// subscribes to its own shard:<id>:ctl. Delivery is at most once (pub/sub
// drops what is published while a subscriber reconnects), which is enough
// because nothing depends on it for correctness: a replaced connection
// whose close is lost finds its session gone at its next Detach or Attach,
// and a lost handover times out into a fresh session. Events
// (DeliverEvent) are the exception: nothing else tells a player it was
// matched, so they are published again while they may not have arrived,
// and each copy carries the same id, which the receiving shard remembers
// (deliverDedupFor), so that a player gets the event once.
type Bus struct {
	rdb     redis.UniversalClient
	ks      Keyspace
	shard   string
	h       ControlHandler
	timeout time.Duration
	log     *slog.Logger

	ps   *redis.PubSub
	done chan struct{}

	mu      sync.Mutex             // guards pending
	pending map[string]chan ctlMsg // handover request id → its reply

	// The ids of the events delivered here in the last deliverDedupFor,
	// and the same in arrival order (to forget them). Only the handler
	// goroutine touches them.
	seen     map[uint64]struct{}
	seenList []seenID
}

type seenID struct {
	id uint64
	at time.Time
}

// BusOptions tune a Bus.
type BusOptions struct {
	HandoverTimeout time.Duration // 0: DefaultHandoverTimeout
	Logger          *slog.Logger  // nil: slog.Default()
}

// NewBus returns the control bus of shard shardID; Start subscribes.
func NewBus(rdb redis.UniversalClient, ks Keyspace, shardID string, h ControlHandler, opts BusOptions) *Bus {
	if opts.HandoverTimeout <= 0 {
		opts.HandoverTimeout = DefaultHandoverTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Bus{rdb: rdb, ks: ks, shard: shardID, h: h, timeout: opts.HandoverTimeout, log: opts.Logger,
		pending: make(map[string]chan ctlMsg), seen: make(map[uint64]struct{})}
}

// Start subscribes to this shard's channel and returns once Redis has
// confirmed it; messages are handled until Close. go-redis resubscribes by
// itself after a dropped connection.
func (b *Bus) Start(ctx context.Context) error {
	if b.sharded() {
		b.ps = b.rdb.SSubscribe(ctx, b.ks.shardControl(b.shard))
	} else {
		b.ps = b.rdb.Subscribe(ctx, b.ks.shardControl(b.shard))
	}
	if _, err := b.ps.Receive(ctx); err != nil {
		b.ps.Close()
		return redisFailure("bus: subscribe", err)
	}
	b.done = make(chan struct{})
	ch := b.ps.Channel()
	go func() {
		defer close(b.done)
		for m := range ch {
			b.handle(m.Payload)
		}
	}()
	return nil
}

// Close unsubscribes and waits for the handler goroutine to end.
func (b *Bus) Close() error {
	if b.ps == nil {
		return nil
	}
	err := b.ps.Close()
	<-b.done
	return err
}

func (b *Bus) handle(payload string) {
	var m ctlMsg
	if err := msgpack.Unmarshal([]byte(payload), &m); err != nil {
		b.log.Warn("cluster: bad control message", "err", err)
		return
	}
	switch m.Kind {
	case ctlClose:
		b.h.CloseSession(m.User, m.Session)
	case ctlHandover:
		b.answerHandover(m)
	case ctlDeliver:
		if b.firstCopy(m.ID, time.Now()) {
			b.h.DeliverEvent(m.Users, m.Event)
		}
	case ctlDrain:
		b.h.Drain()
	case ctlRing:
		b.mu.Lock()
		ch := b.pending[m.Req]
		delete(b.pending, m.Req)
		b.mu.Unlock()
		if ch != nil {
			ch <- m // capacity 1, one reply per request
		}
	}
}

// firstCopy reports whether an event with this id was not delivered here
// in the last deliverDedupFor, and remembers it. Id 0 (a sender that does
// not publish again) is always new.
func (b *Bus) firstCopy(id uint64, now time.Time) bool {
	for len(b.seenList) > 0 && now.Sub(b.seenList[0].at) > deliverDedupFor {
		delete(b.seen, b.seenList[0].id)
		b.seenList[0] = seenID{}
		b.seenList = b.seenList[1:]
	}
	if len(b.seenList) == 0 && cap(b.seenList) > 64 {
		b.seenList = nil // a burst's backing array goes with it
	}
	if id == 0 {
		return true
	}
	if _, dup := b.seen[id]; dup {
		return false
	}
	b.seen[id] = struct{}{}
	b.seenList = append(b.seenList, seenID{id, now})
	return true
}

// answerHandover gives the ring (if any) to the requester: SET the ring
// with a TTL, then publish the reply on the requester's channel.
func (b *Bus) answerHandover(m ctlMsg) {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	ring, ok := b.h.HandOver(m.User, m.Session)
	if ok && len(ring) > maxRingBytes {
		b.log.Warn("cluster: replay ring too large to hand over", "user", m.User, "bytes", len(ring))
		ok = false
	}
	if ok {
		if err := b.rdb.Set(ctx, b.ks.sessionRing(m.User, m.Req), ring, handoverTTL).Err(); err != nil {
			b.log.Warn("cluster: handing a ring over", "err", err)
			ok = false
		}
	}
	reply := ctlMsg{Kind: ctlRing, User: m.User, Session: m.Session, Req: m.Req, OK: ok}
	if _, err := b.publish(ctx, m.From, &reply); err != nil {
		b.log.Warn("cluster: answering a handover", "to", m.From, "err", err)
	}
}

// sharded reports whether the bus uses sharded pub/sub (Redis Cluster).
func (b *Bus) sharded() bool {
	_, ok := b.rdb.(*redis.ClusterClient)
	return ok
}

func (b *Bus) publish(ctx context.Context, shard string, m *ctlMsg) (int64, error) {
	p, err := msgpack.Marshal(m)
	if err != nil {
		return 0, err
	}
	var n int64
	if b.sharded() {
		n, err = b.rdb.SPublish(ctx, b.ks.shardControl(shard), p).Result()
	} else {
		n, err = b.rdb.Publish(ctx, b.ks.shardControl(shard), p).Result()
	}
	if err != nil {
		return 0, redisFailure("bus: publish", err)
	}
	return n, nil
}

// DeliverEvent hands an encoded event to users whose sessions are on shard
// (events no lobby log carries: matchmaking's). No other message tells a
// player it was matched, so the event is published again, 20 ms later and
// then twice as long each time, until it has surely reached a subscriber
// there or ctx ends (a sender gives it at most DeliverRetryFor):
//
//   - when the publish reached nobody (ErrShardUnreachable: the shard is
//     re-subscribing after Redis restarted, which takes some tens of ms);
//   - when the publish failed (EOF, connection reset, timeout): Redis may
//     have published it before it died, or not. Publishing again may
//     deliver a second copy; every copy carries id (NewEventID), the same
//     in the sender's later calls for this event, and the receiving shard
//     delivers only the first (firstCopy).
//
// The last error is returned when it never got through;
// ErrShardUnreachable: nobody listens there.
func (b *Bus) DeliverEvent(ctx context.Context, shard string, id uint64, userIDs []string, event []byte) error {
	return RetryUntil(ctx, func() (bool, error) {
		err := b.TryDeliverEvent(ctx, shard, id, userIDs, event)
		return err != nil, err
	})
}

// TryDeliverEvent is one attempt of DeliverEvent: one publish, no retry.
// ErrShardUnreachable: it reached nobody. A caller that retries keeps id
// for every attempt, as DeliverEvent does.
func (b *Bus) TryDeliverEvent(ctx context.Context, shard string, id uint64, userIDs []string, event []byte) error {
	if shard == b.shard {
		b.h.DeliverEvent(userIDs, event)
		return nil
	}
	n, err := b.publish(ctx, shard, &ctlMsg{Kind: ctlDeliver, Users: userIDs, Event: event, ID: id})
	if err == nil && n == 0 {
		err = ErrShardUnreachable
	}
	return err
}

// NewEventID returns a random id for DeliverEvent, never 0: one per event,
// kept by the sender across its attempts so that the receiving shard
// delivers the event once.
func NewEventID() uint64 {
	var id [8]byte
	_, _ = rand.Read(id[:])
	return binary.LittleEndian.Uint64(id[:]) | 1
}

// Drain tells shard to start draining. On this shard it calls the handler
// directly. Delivery is at most once, like every control message; the
// caller sees the drain in the shard's next registry report (draining).
// ErrShardUnreachable: nobody listens there.
func (b *Bus) Drain(ctx context.Context, shard string) error {
	if shard == b.shard {
		b.h.Drain()
		return nil
	}
	n, err := b.publish(ctx, shard, &ctlMsg{Kind: ctlDrain})
	if err == nil && n == 0 {
		err = ErrShardUnreachable
	}
	return err
}

// CloseSession tells shard to close user's connection of session
// sessionID with 4009 (a new login replaced it). On this shard it calls
// the handler directly. ErrShardUnreachable: nobody listens there.
func (b *Bus) CloseSession(ctx context.Context, shard, userID, sessionID string) error {
	if shard == b.shard {
		b.h.CloseSession(userID, sessionID)
		return nil
	}
	n, err := b.publish(ctx, shard, &ctlMsg{Kind: ctlClose, User: userID, Session: sessionID})
	if err == nil && n == 0 {
		err = ErrShardUnreachable
	}
	return err
}

// HandOver asks shard for the replay ring of user's session sessionID (a
// resume here of a session held there): that shard closes the old
// connection with 4009 and gives the ring up. ok false when it did not
// have the session; ErrShardUnreachable or a timeout (HandoverTimeout)
// when it did not answer.
func (b *Bus) HandOver(ctx context.Context, shard, userID, sessionID string) (ring []byte, ok bool, err error) {
	if shard == b.shard {
		ring, ok = b.h.HandOver(userID, sessionID)
		return ring, ok, nil
	}
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	var id [12]byte
	_, _ = rand.Read(id[:])
	req := hex.EncodeToString(id[:])
	reply := make(chan ctlMsg, 1)
	b.mu.Lock()
	b.pending[req] = reply
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.pending, req)
		b.mu.Unlock()
	}()
	n, err := b.publish(ctx, shard, &ctlMsg{Kind: ctlHandover, User: userID, Session: sessionID, From: b.shard, Req: req})
	if err != nil {
		return nil, false, err
	}
	if n == 0 {
		return nil, false, ErrShardUnreachable
	}
	select {
	case <-ctx.Done():
		return nil, false, redisFailure("bus: handover", ctx.Err())
	case m := <-reply:
		if !m.OK {
			return nil, false, nil
		}
	}
	ring, err = b.rdb.GetDel(ctx, b.ks.sessionRing(userID, req)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, redisFailure("bus: handover", err)
	}
	return ring, true, nil
}
