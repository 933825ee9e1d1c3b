package cluster

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

var (
	//go:embed scripts/lobby_commit.lua
	commitLua    string
	commitScript = newGuardedScript(commitLua)
	//go:embed scripts/lobby_read.lua
	readLua    string
	readScript = redis.NewScript(readLua)
	//go:embed scripts/unlock.lua
	unlockLua    string
	unlockScript = redis.NewScript(unlockLua)
)

// LobbyOptions configure a LobbyStore. The zero value works for a single
// shard in tests; a cluster must share PasswordPepper.
type LobbyOptions struct {
	// ShardOf names the shard a user's session is on; CreateMatch asks it
	// for members who may sit on other shards. nil: this shard.
	ShardOf func(ctx context.Context, userID string) (string, error)
	// Now is the clock (created_at, joined_at, chat ts). nil: time.Now.
	Now func() time.Time
	// PasswordPepper keys the lobby password HMAC. Every shard of a
	// cluster must have the same (from config); nil: 32 random bytes, fine
	// for one shard only.
	PasswordPepper []byte
	// OnPublicChange is called after every committed change of a lobby
	// that is or was public (the listing replica's hook). It runs on the
	// calling goroutine after the commit, outside every lock.
	OnPublicChange func(ctx context.Context, ch PublicChange)
	// Logger reports what no caller can be told (a follower that could not
	// read a log). nil: slog.Default().
	Logger *slog.Logger
	// NewCode makes candidate lobby codes (tests force collisions).
	// nil: lobby.NewCode.
	NewCode func() string
	// MaxRetries bounds the re-runs of the rules when another shard
	// changed the lobby in between (optimistic concurrency), with a
	// random backoff that grows to 8 ms. 0: 32.
	MaxRetries int

	// compactAtOnce (tests): every document a follower takes is compacted
	// at once, so that every use decodes it again (compactDoc).
	compactAtOnce bool
}

// PublicChange is one change of a public lobby: its new public view, or nil
// when it was deleted or went private. Version grows with every change of
// the lobby: a listing that holds a newer version ignores an older one.
type PublicChange struct {
	LobbyID string
	Version uint64
	Seq     uint64 // creation sequence: listing order and cursor
	View    *protocol.LobbyView
}

// LobbyStore is the lobby.Store of a cluster: lobbies live in Redis, the
// rules run in Go on a decoded lobby.Doc and commit with a version check,
// and every shard follows the lobbies of its own players (lobby_follow.go).
// See docs/cluster.md.
type LobbyStore struct {
	rdb   redis.UniversalClient
	ks    Keyspace
	shard string
	sink  lobby.Sink
	opts  LobbyOptions // defaults filled in
	f     *follower
	rec   *recorder // nil: the sink keeps no delivery records
	// commits runs the commit script, pipelined across lobbies under load.
	commits *commitPipe

	// The commit script's arguments that never change, boxed once (each
	// boxing of a string allocates, and a split lobby's relay commits per
	// send).
	shardArg, channelArg any
}

var _ lobby.Store = (*LobbyStore)(nil)

// ErrContended is the cause of an unavailable answer when a lobby (or a
// user's lock) kept changing under an operation for every retry.
var ErrContended = errors.New("cluster: lobby contended, retries exhausted")

// NewLobbyStore returns the store of shardID, subscribed to its channel:
// it returns once the subscription is confirmed (bounded by ctx), so no
// event published to this shard afterwards is missed. Stop stops it.
func NewLobbyStore(ctx context.Context, client redis.UniversalClient, ks Keyspace, shardID string, sink lobby.Sink, opts LobbyOptions) (*LobbyStore, error) {
	if shardID == "" {
		return nil, errors.New("cluster: empty shard id")
	}
	if sink == nil {
		sink = lobby.SinkFunc(func(*lobby.Event) {})
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PasswordPepper == nil {
		opts.PasswordPepper = make([]byte, 32)
		rand.Read(opts.PasswordPepper)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.NewCode == nil {
		opts.NewCode = lobby.NewCode
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 32
	}
	s := &LobbyStore{rdb: client, ks: ks, shard: shardID, sink: sink, opts: opts,
		shardArg: shardID, channelArg: ks.shardChannel(""), commits: newCommitPipe(client, commitScript)}
	if rs, ok := sink.(RecordingSink); ok {
		s.rec = newRecorder(s, rs)
	}
	f, err := startFollower(ctx, s)
	if err != nil {
		return nil, err
	}
	s.f = f
	return s, nil
}

// Stop stops the follower (the subscription and its goroutines); the
// store must not be used afterwards. (Close is lobby.Store's operator
// close of a lobby.) The client stays open: it belongs to the caller.
func (s *LobbyStore) Stop() error {
	s.f.stop()
	return nil
}

// ShardID is the shard this store delivers for.
func (s *LobbyStore) ShardID() string { return s.shard }

// Stats implements lobby.Store: this shard's share, the lobbies it follows
// (those with a member here) and its members. Summing members over the
// shards gives the cluster's; a lobby split over two shards counts on both.
func (s *LobbyStore) Stats() lobby.Stats { return s.f.stats() }

func (s *LobbyStore) nowMS() int64 { return s.opts.Now().UnixMilli() }

// maxLockWait bounds how long an operation waits for a user's lock (it is
// also bounded by the caller's context).
const (
	lockTTL     = 5 * time.Second
	maxLockWait = 2 * time.Second
)

// lockUser takes the user's lock (held while the user is added to a
// lobby, so a user is never added to two) and returns its release.
func (s *LobbyStore) lockUser(ctx context.Context, userID string) (func(), error) {
	key := s.ks.userLock(userID)
	var b [16]byte
	rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	deadline := time.Now().Add(maxLockWait)
	wait := time.Millisecond
	for {
		ok, err := s.rdb.SetNX(ctx, key, token, lockTTL).Result()
		if err != nil {
			if mayHaveRun(err) {
				// The SET may have run (its reply lost as Redis died):
				// the lock would then be held, under a token nobody else
				// knows, for lockTTL, and the user's next requests would
				// wait for it and fail contended. Let it go as soon as
				// Redis answers (only this token's: compare and delete).
				go s.releaseLost(key, token)
			}
			return nil, redisFailure("lock", err)
		}
		if ok {
			return func() {
				// Not the caller's context: a cancelled request must still
				// release the lock (it also expires on its own).
				c, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				if err := unlockScript.Run(c, s.rdb, []string{key}, token).Err(); err != nil {
					s.opts.Logger.Warn("cluster: releasing a user lock", "user", userID, "err", err)
				}
			}, nil
		}
		if time.Now().After(deadline) {
			return nil, redisFailure("lock of user "+userID, ErrContended)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// releaseLost deletes the user lock key if it holds token (a lock whose
// SET lost its reply), tried every 20 ms, then twice as long each time,
// for as long as the lock could live (lockTTL).
func (s *LobbyStore) releaseLost(key, token string) {
	ctx, cancel := context.WithTimeout(context.Background(), lockTTL)
	defer cancel()
	_ = RetryUntil(ctx, func() (bool, error) {
		err := unlockScript.Run(ctx, s.rdb, []string{key}, token).Err()
		return err != nil, err
	})
}

// loaded is a lobby read from Redis.
type loaded struct {
	doc     *lobby.Doc // nil: no such lobby
	version uint64
	offset  uint64
	entries []redis.XMessage
}

// read runs the read script: the document and, when after is not "", the
// log entries after that offset.
func (s *LobbyStore) read(ctx context.Context, lobbyID, after string) (loaded, error) {
	var l loaded
	res, err := readScript.Run(ctx, s.rdb, []string{s.ks.lobbyDoc(lobbyID), s.ks.lobbyLog(lobbyID)}, after).Slice()
	if err != nil {
		return l, redisFailure("read", err)
	}
	if len(res) != 4 {
		return l, fmt.Errorf("cluster: read script: %d results", len(res))
	}
	if v, ok := res[0].(string); ok {
		fmt.Sscan(v, &l.version)
	}
	if o, ok := res[1].(string); ok {
		fmt.Sscan(o, &l.offset)
	}
	if d, ok := res[2].(string); ok {
		if l.doc, err = lobby.DecodeDoc([]byte(d)); err != nil {
			return l, fmt.Errorf("cluster: lobby %s: %w", lobbyID, err)
		}
		l.doc.Version = versionAt(l.offset) // views of it show every event up to there
	}
	if entries, ok := res[3].([]any); ok {
		l.entries, err = parseXRange(entries)
	}
	return l, err
}

// parseXRange converts a script's XRANGE reply.
func parseXRange(raw []any) ([]redis.XMessage, error) {
	out := make([]redis.XMessage, 0, len(raw))
	for _, r := range raw {
		e, ok := r.([]any)
		if !ok || len(e) != 2 {
			return nil, errors.New("cluster: bad log entry")
		}
		id, _ := e[0].(string)
		kv, _ := e[1].([]any)
		m := redis.XMessage{ID: id, Values: make(map[string]any, len(kv)/2)}
		for i := 0; i+1 < len(kv); i += 2 {
			k, _ := kv[i].(string)
			m.Values[k] = kv[i+1]
		}
		out = append(out, m)
	}
	return out, nil
}

// Forget drops every copy of a lobby this shard keeps (documents, offsets,
// which of its users are where): after Redis lost its data, or this shard
// was cut off long enough to be declared dead, they may name lobbies that
// no longer exist or miss changes. What is needed again is read again.
func (s *LobbyStore) Forget() { s.f.forgetAll() }
