package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// sessionKey is the hash of a user's session: id, shard, tok (SHA-256 of
// the resume token, hex; never the token), conn ("1"/"0"), seq (last seq
// at detach), created (Redis ms). No TTL while connected; the resume grace
// while disconnected.
func (k Keyspace) sessionKey(userID string) string { return k.tag("s", userID, "") }

// shardSessions is the set of users whose session a shard connected: the
// index Orphan walks when the shard dies. A hint: members whose session
// moved on are checked and skipped.
func (k Keyspace) shardSessions(shardID string) string { return k.tag("sh", shardID, ":sessions") }

// Session is a user's session as the cluster knows it.
type Session struct {
	ID        string
	UserID    string
	Shard     string // where it is (or was last) connected
	TokenHash string // HashToken of the current resume token
	Connected bool
	LastSeq   uint64 // seq of the session's last event when it was detached
	Created   int64  // unix ms (Redis's clock)
}

// HashToken is what the directory keeps of a resume token: hex SHA-256. A
// resume token is 24 random characters (≥ 120 bits), so an unsalted hash
// is enough: nobody can search that space, and a dump of Redis gives no
// token that resumes anything.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

var (
	// sessionClaimScript: KEYS session; ARGV id, shard, tok. Replaces the
	// session (no TTL) and returns the previous one's fields.
	sessionClaimScript = newGuardedScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local old = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'shard', ARGV[2], 'tok', ARGV[3], 'conn', '1', 'seq', '0',
  'created', string.format('%.0f', now))
return old`)

	// sessionResumeScript: KEYS session; ARGV tok, shard, next tok. If the
	// token is the session's current one: spend it (next tok), move the
	// session to shard, connected, no TTL; return the fields before.
	sessionResumeScript = newGuardedScript(`
local tok = redis.call('HGET', KEYS[1], 'tok')
if not tok or tok == '' or tok ~= ARGV[1] then return false end
local old = redis.call('HGETALL', KEYS[1])
redis.call('HSET', KEYS[1], 'tok', ARGV[3], 'shard', ARGV[2], 'conn', '1')
redis.call('PERSIST', KEYS[1])
return old`)

	// sessionDetachScript: KEYS session; ARGV id, shard, seq, grace ms.
	// Only the shard that holds the session may detach it.
	sessionDetachScript = newGuardedScript(`
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'shard') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'conn', '0', 'seq', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`)

	// sessionAttachScript: KEYS session; ARGV id, shard.
	sessionAttachScript = newGuardedScript(`
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'shard') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'conn', '1')
redis.call('PERSIST', KEYS[1])
return 1`)

	// sessionExpireScript: KEYS session; ARGV id, shard.
	sessionExpireScript = newGuardedScript(`
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'shard') ~= ARGV[2] then return 0 end
return redis.call('DEL', KEYS[1])`)

	// sessionOrphanScript: KEYS session; ARGV dead shard, grace ms. A
	// session still connected on the dead shard starts its grace now.
	sessionOrphanScript = newGuardedScript(`
if redis.call('HGET', KEYS[1], 'shard') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'conn') ~= '1' then return 0 end
redis.call('HSET', KEYS[1], 'conn', '0')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`)
)

// Sessions is the cluster's session directory: a user has at most one
// session, wherever it is connected, and a resume token works once, on any
// shard. One Sessions per shard; safe for concurrent use.
//
// What the directory does not do is move connections: the caller tells
// the previous shard (Bus) to close the replaced connection with 4009, or
// to hand the replay ring over on a resume.
type Sessions struct {
	rdb   redis.UniversalClient
	ks    Keyspace
	shard string
	grace time.Duration
}

// NewSessions returns the directory as shard sees it; grace is the resume
// grace (docs/protocol.md resume_grace_ms), the TTL of a detached session.
func NewSessions(rdb redis.UniversalClient, ks Keyspace, shardID string, grace time.Duration) *Sessions {
	return &Sessions{rdb: rdb, ks: ks, shard: shardID, grace: grace}
}

// Claim makes a new session (id, resume token) the user's session,
// connected on this shard, replacing any previous one atomically. It
// returns the previous session (ok false when there was none): if it was
// connected, the caller closes its connection with 4009 (Bus.CloseSession
// when prev.Shard is another shard).
func (ss *Sessions) Claim(ctx context.Context, userID, sessionID, token string) (prev Session, ok bool, err error) {
	if err := ss.index(ctx, userID); err != nil {
		return Session{}, false, err
	}
	r, err := runGuarded(ctx, ss.rdb, sessionClaimScript, []string{ss.ks.sessionKey(userID)}, sessionID, ss.shard, HashToken(token)).Slice()
	if err != nil {
		return Session{}, false, redisFailure("sessions: claim", err)
	}
	prev, ok = parseSession(userID, r)
	ss.unindex(ctx, userID, prev, ok)
	return prev, ok, nil
}

// Resume continues the user's session on this shard with token, which is
// spent at once (a second Resume with it fails); next is the fresh token
// the welcome carries. It returns the session as it was before (its shard
// holds the replay ring; Connected says whether a connection there must be
// closed). ok is false for an unknown, spent or expired token or another
// user's: the caller starts a new session (Claim).
func (ss *Sessions) Resume(ctx context.Context, userID, token, next string) (prev Session, ok bool, err error) {
	if err := ss.index(ctx, userID); err != nil {
		return Session{}, false, err
	}
	r, err := runGuarded(ctx, ss.rdb, sessionResumeScript, []string{ss.ks.sessionKey(userID)}, HashToken(token), ss.shard, HashToken(next)).Slice()
	if errors.Is(err, redis.Nil) {
		return Session{}, false, nil
	}
	if err != nil {
		return Session{}, false, redisFailure("sessions: resume", err)
	}
	prev, ok = parseSession(userID, r)
	ss.unindex(ctx, userID, prev, ok)
	return prev, ok, nil
}

// Detach records that the session's connection on this shard dropped: it
// waits for a resume for the grace, then Redis drops it. lastSeq is the
// session's last numbered event. false: the session is no longer this
// shard's (replaced, or resumed elsewhere); nothing changed.
func (ss *Sessions) Detach(ctx context.Context, userID, sessionID string, lastSeq uint64) (bool, error) {
	n, err := runGuarded(ctx, ss.rdb, sessionDetachScript, []string{ss.ks.sessionKey(userID)}, sessionID, ss.shard, lastSeq, ss.grace.Milliseconds()).Int()
	if err != nil {
		return false, redisFailure("sessions: detach", err)
	}
	if n == 1 {
		_ = ss.rdb.SRem(ctx, ss.ks.shardSessions(ss.shard), userID).Err() // the TTL ends it now
	}
	return n == 1, nil
}

// Attach marks the session connected on this shard again (no TTL): after
// a Redis outage, or when this shard learns it had been declared dead
// (Registry.Refresh's rejoined), for each of its live connections. false:
// the session is no longer this shard's; the caller closes the connection
// with 4009.
func (ss *Sessions) Attach(ctx context.Context, userID, sessionID string) (bool, error) {
	if err := ss.index(ctx, userID); err != nil {
		return false, err
	}
	n, err := runGuarded(ctx, ss.rdb, sessionAttachScript, []string{ss.ks.sessionKey(userID)}, sessionID, ss.shard).Int()
	if err != nil {
		return false, redisFailure("sessions: attach", err)
	}
	return n == 1, nil
}

// Get returns the user's session; ok false when there is none.
func (ss *Sessions) Get(ctx context.Context, userID string) (Session, bool, error) {
	m, err := ss.rdb.HGetAll(ctx, ss.ks.sessionKey(userID)).Result()
	if err != nil {
		return Session{}, false, redisFailure("sessions: get", err)
	}
	s, ok := sessionFromMap(userID, m)
	return s, ok, nil
}

// Expire ends the session for good if it is still this shard's: its grace
// ran out here, or the user left. false: it moved on or is gone.
func (ss *Sessions) Expire(ctx context.Context, userID, sessionID string) (bool, error) {
	n, err := runGuarded(ctx, ss.rdb, sessionExpireScript, []string{ss.ks.sessionKey(userID)}, sessionID, ss.shard).Int()
	if err != nil {
		return false, redisFailure("sessions: expire", err)
	}
	_ = ss.rdb.SRem(ctx, ss.ks.shardSessions(ss.shard), userID).Err()
	return n == 1, nil
}

// Orphan starts the resume grace of every session still connected on
// deadShard (Registry reported it dead): its players can resume on any
// shard for the whole grace from now. It returns how many it detached.
// The work is bounded by the dead shard's sessions, in batches of 500.
func (ss *Sessions) Orphan(ctx context.Context, deadShard string) (int, error) {
	set := ss.ks.shardSessions(deadShard)
	n := 0
	var cursor uint64
	for {
		users, next, err := ss.rdb.SScan(ctx, set, cursor, "", 500).Result()
		if err != nil {
			return n, redisFailure("sessions: orphan", err)
		}
		calls := make([]scriptCall, len(users))
		for i, u := range users {
			calls[i] = scriptCall{keys: []string{ss.ks.sessionKey(u)}, args: []any{deadShard, ss.grace.Milliseconds()}}
		}
		for _, c := range runPipelinedGuarded(ctx, ss.rdb, sessionOrphanScript, calls) {
			v, err := c.Int()
			if err != nil {
				return n, redisFailure("sessions: orphan", err)
			}
			if v == 1 {
				n++
			}
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	return n, redisFailure("sessions: orphan", ss.rdb.Del(ctx, set).Err())
}

// index adds userID to this shard's set before its session is connected
// here, so that a crash between the two leaves a stale member, never a
// connected session Orphan cannot find.
func (ss *Sessions) index(ctx context.Context, userID string) error {
	return redisFailure("sessions: index", ss.rdb.SAdd(ctx, ss.ks.shardSessions(ss.shard), userID).Err())
}

// unindex removes userID from the set of the shard its session left.
func (ss *Sessions) unindex(ctx context.Context, userID string, prev Session, ok bool) {
	if ok && prev.Shard != ss.shard && prev.Shard != "" {
		_ = ss.rdb.SRem(ctx, ss.ks.shardSessions(prev.Shard), userID).Err()
	}
}

// parseSession reads a script's HGETALL reply (field, value, ...).
func parseSession(userID string, r []any) (Session, bool) {
	m := make(map[string]string, len(r)/2)
	for i := 0; i+1 < len(r); i += 2 {
		k, _ := r[i].(string)
		v, _ := r[i+1].(string)
		m[k] = v
	}
	return sessionFromMap(userID, m)
}

func sessionFromMap(userID string, m map[string]string) (Session, bool) {
	if m["id"] == "" {
		return Session{}, false
	}
	seq, _ := strconv.ParseUint(m["seq"], 10, 64)
	created, _ := strconv.ParseInt(m["created"], 10, 64)
	return Session{ID: m["id"], UserID: userID, Shard: m["shard"], TokenHash: m["tok"],
		Connected: m["conn"] == "1", LastSeq: seq, Created: created}, true
}
