package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// sessionKey is the hash of a user's session: id, shard, tok (SHA-256 of
// the resume token, hex; never the token), ptok (the same of the token
// the last resume spent, until the client confirms tok), conn ("1"/"0"), seq (last seq
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
	// Orphaned: its shard died (Orphan); nobody holds its replay ring.
	Orphaned bool
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
	// token is the session's current one, or the one its last resume spent
	// (ptok) while the client has not confirmed the current one
	// (sessionConfirmScript): spend it (next tok; ptok the token given),
	// move the session to shard, connected, no TTL; return the fields
	// before.
	// A session orphaned by a dead shard (field dl, its deadline in Redis
	// ms, set by sessionOrphanScript) resumes only before that deadline:
	// its key outlives the deadline so that the shard doing the dead
	// shard's chores still finds it (Sessions.ExpireOrphan).
	sessionResumeScript = newGuardedScript(`
local tok = redis.call('HMGET', KEYS[1], 'tok', 'ptok')
if ARGV[1] == '' or (tok[1] ~= ARGV[1] and tok[2] ~= ARGV[1]) then return false end
local dl = redis.call('HGET', KEYS[1], 'dl')
if dl then
  local t = redis.call('TIME')
  if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) >= tonumber(dl) then return false end
end
local old = redis.call('HGETALL', KEYS[1])
redis.call('HSET', KEYS[1], 'tok', ARGV[3], 'ptok', ARGV[1], 'shard', ARGV[2], 'conn', '1')
redis.call('HDEL', KEYS[1], 'dl', 'oc')
redis.call('PERSIST', KEYS[1])
return old`)

	// sessionConfirmScript: KEYS session; ARGV tok. The client has the
	// session's current token tok: the one spent before it is no longer
	// honoured. Nothing when tok is no longer current (another resume
	// spent it meanwhile, and its own confirmation is owed).
	sessionConfirmScript = newGuardedScript(`
if redis.call('HGET', KEYS[1], 'tok') == ARGV[1] then redis.call('HDEL', KEYS[1], 'ptok') end
return 1`)

	// sessionDetachScript: KEYS session; ARGV id, shard, seq, grace ms.
	// Only the shard that holds the session may detach it.
	sessionDetachScript = newGuardedScript(`
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'shard') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'conn', '0', 'seq', ARGV[3])
redis.call('HDEL', KEYS[1], 'dl', 'oc')
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`)

	// sessionAttachScript: KEYS session; ARGV id, shard.
	sessionAttachScript = newGuardedScript(`
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'shard') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'conn', '1')
redis.call('HDEL', KEYS[1], 'dl', 'oc')
redis.call('PERSIST', KEYS[1])
return 1`)

	// sessionExpireScript: KEYS session; ARGV id, shard. 1: ended, or
	// already gone (its key's TTL, the same grace, ran out a moment before
	// the shard's timer); 0: another session, or this one moved to another
	// shard.
	sessionExpireScript = newGuardedScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 1 end
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'shard') ~= ARGV[2] then return 0 end
return redis.call('DEL', KEYS[1])`)

	// sessionOrphanScript: KEYS session; ARGV dead shard, grace ms, slack
	// ms. A session still on the dead shard gets a deadline (field dl,
	// Redis ms): a connected one the whole grace from now, a detached one
	// what was left of its grace. Its key lives slack longer, for the
	// shard that expires it (ExpireOrphan). Returns {1 connected / 2
	// detached, deadline, session id}, or {0} for a session that moved
	// on. Run again on an orphan (the chores retried), it answers the same.
	// No session at all: {3, now, ''}: the key's TTL (the grace) ran out
	// and the shard did not end the session before it stopped or died
	// (its timer had not fired yet), so its chores are due now.
	sessionOrphanScript = newGuardedScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('EXISTS', KEYS[1]) == 0 then return {3, now, ''} end
if redis.call('HGET', KEYS[1], 'shard') ~= ARGV[1] then return {0} end
local id = redis.call('HGET', KEYS[1], 'id')
local dl = redis.call('HGET', KEYS[1], 'dl')
if dl then return {tonumber(redis.call('HGET', KEYS[1], 'oc')), tonumber(dl), id} end
local state, left = 2, redis.call('PTTL', KEYS[1])
if redis.call('HGET', KEYS[1], 'conn') == '1' or left < 0 then
  state, left = 1, tonumber(ARGV[2])
end
redis.call('HSET', KEYS[1], 'conn', '0', 'dl', string.format('%.0f', now + left), 'oc', state)
redis.call('PEXPIRE', KEYS[1], left + tonumber(ARGV[3]))
return {state, now + left, id}`)

	// sessionExpireOrphanScript: KEYS session; ARGV id, dead shard. Ends
	// an orphaned session whose deadline passed, if it is still that
	// session, still on the dead shard (nobody resumed it): 1. No session
	// at all: 2, ended by an earlier claim whose chores failed after it
	// (or its key outlived the slack), so they are done again. Another
	// session, or this one resumed: 0.
	sessionExpireOrphanScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 2 end
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'shard') ~= ARGV[2]
  or redis.call('HGET', KEYS[1], 'conn') ~= '0' or not redis.call('HGET', KEYS[1], 'dl') then return 0 end
return redis.call('DEL', KEYS[1])`)

	// orphansDueScript: KEYS orphans; ARGV max, retry ms. Claims up to max
	// orphans whose deadline passed: each is pushed retry ms into the
	// future (so one caller gets it; a caller that dies leaves it to be
	// claimed again) and returned.
	orphansDueScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now), 'LIMIT', 0, tonumber(ARGV[1]))
for _, m in ipairs(due) do
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), m)
end
return due`)
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

// Resume continues the user's session on this shard with token; next is
// the fresh token the welcome carries. token is spent: a later Resume
// with it fails once the client has confirmed it has next (Confirm), or
// once another resume spent next. It returns the session as it was before (its shard
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

// Confirm records that the client has the resume token given to its
// last resume (Resume's next): the token that resume spent, which Resume
// honours until then, is no longer honoured. It guards against a cut
// between a resume and its welcome's arrival, which would otherwise leave
// the client with a spent token only.
func (ss *Sessions) Confirm(ctx context.Context, userID, token string) error {
	err := runGuarded(ctx, ss.rdb, sessionConfirmScript, []string{ss.ks.sessionKey(userID)}, HashToken(token)).Err()
	if err != nil {
		return redisFailure("sessions: confirm", err)
	}
	return nil
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
	// The user stays in this shard's index while the grace runs: should
	// this shard die meanwhile, the shard doing its chores ends the
	// session (Orphan). Expire, or a resume elsewhere, takes it out.
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
// ran out here, or the user left. Also true when its key is gone: the
// key's TTL is the same grace, and under load it can run out a moment
// before the shard's timer, whose caller must still do the end of the
// grace (the lobby's leave; it was skipped, and the member stayed for
// good). false: it moved on (resumed or replaced elsewhere).
func (ss *Sessions) Expire(ctx context.Context, userID, sessionID string) (bool, error) {
	n, err := runGuarded(ctx, ss.rdb, sessionExpireScript, []string{ss.ks.sessionKey(userID)}, sessionID, ss.shard).Int()
	if err != nil {
		return false, redisFailure("sessions: expire", err)
	}
	_ = ss.rdb.SRem(ctx, ss.ks.shardSessions(ss.shard), userID).Err()
	return n == 1, nil
}

// Orphaned is a session of a dead shard that Orphan gave a deadline.
type Orphaned struct {
	UserID    string
	SessionID string
	Shard     string // the dead shard
	Deadline  int64  // Redis ms: the session resumes only before it
	// WasConnected: the session was connected when its shard died (its
	// member still shows connected: the caller shows it disconnected).
	WasConnected bool
	// Ended: the user had no session left (its key's TTL, the grace, ran
	// out before the shard ended it); SessionID is "" and the deadline is
	// now, so its chores run at the next claim.
	Ended bool
}

// Orphan timings. orphanSlack is how long an orphaned session's key
// outlives its deadline, so that the shard doing the chores finds it
// (ExpireOrphan) even after all shards were away for a while;
// orphanRetry is how long a claimed orphan waits before another shard may
// claim it again (its claimer died, or its attempt failed, before
// finishing): longer than an attempt may take (ExpireOrphan and the
// leave, bounded by 3 × the 2 s request bound), so two shards do not work
// on one orphan at once, and short, so that a player whose first removal
// failed on a loaded Redis still leaves within seconds of its grace (it
// was a minute). Ending an orphan twice is harmless (ExpireOrphan answers
// the same, the conditional leave finds nothing to do).
const (
	orphanSlack = 10 * time.Minute
	orphanRetry = 10 * time.Second
)

// orphans is the sorted set of orphaned sessions waiting for their
// deadline: member encodeOrphan, score the deadline (Redis ms). Every
// shard claims the due ones (DueOrphans), so a dead shard's disconnected
// players leave their lobbies even if the shard that orphaned them dies
// too.
func (k Keyspace) orphans() string { return k.tag("orph", "", "") }

// encodeOrphan is "<session id> <len(shard)>:<shard><user>": ids of any
// bytes, no separator to escape.
func encodeOrphan(o Orphaned) string {
	return o.SessionID + " " + strconv.Itoa(len(o.Shard)) + ":" + o.Shard + o.UserID
}

func decodeOrphan(m string) (Orphaned, bool) {
	sid, rest, ok := strings.Cut(m, " ")
	n, rest, ok2 := strings.Cut(rest, ":")
	l, err := strconv.Atoi(n)
	if !ok || !ok2 || err != nil || l < 0 || l > len(rest) {
		return Orphaned{}, false
	}
	return Orphaned{SessionID: sid, Shard: rest[:l], UserID: rest[l:]}, true
}

// Orphan takes over the sessions of deadShard (Registry reported it
// dead): each gets a deadline, the whole grace from now for one that was
// connected there (docs/protocol.md §5a), what was left of its grace for
// one already waiting; its players can resume on any shard until then.
// A user of the shard's set whose session key is gone is an orphan due at
// once (Ended): its grace ran out in Redis a moment before the shard's
// timer would have ended it, and the shard stopped or died in between;
// without this its member stayed in its lobby for good. Its chores are
// conditional (the leave removes only a member still on deadShard), so a
// user of the set whose session had ended cleanly costs a leave that
// finds nothing.
// Each is recorded in the orphans set, whose due entries some live shard
// ends (DueOrphans, ExpireOrphan). It returns the orphans. The work is
// bounded by the dead shard's sessions, in batches of 500; run again after
// a failure, it redoes nothing that was done.
func (ss *Sessions) Orphan(ctx context.Context, deadShard string) ([]Orphaned, error) {
	set := ss.ks.shardSessions(deadShard)
	var out []Orphaned
	var cursor uint64
	for {
		users, next, err := ss.rdb.SScan(ctx, set, cursor, "", 500).Result()
		if err != nil {
			return out, redisFailure("sessions: orphan", err)
		}
		calls := make([]scriptCall, len(users))
		for i, u := range users {
			calls[i] = scriptCall{keys: []string{ss.ks.sessionKey(u)},
				args: []any{deadShard, ss.grace.Milliseconds(), orphanSlack.Milliseconds()}}
		}
		zs := make([]redis.Z, 0, len(users))
		for i, c := range runPipelinedGuarded(ctx, ss.rdb, sessionOrphanScript, calls) {
			r, err := c.Slice()
			if err != nil {
				return out, redisFailure("sessions: orphan", err)
			}
			if len(r) != 3 {
				continue // moved on
			}
			state, _ := r[0].(int64)
			deadline, _ := r[1].(int64)
			sid, _ := r[2].(string)
			o := Orphaned{UserID: users[i], SessionID: sid, Shard: deadShard, Deadline: deadline,
				WasConnected: state == 1, Ended: state == 3}
			out = append(out, o)
			zs = append(zs, redis.Z{Score: float64(deadline), Member: encodeOrphan(o)})
		}
		if len(zs) > 0 {
			if err := ss.rdb.ZAdd(ctx, ss.ks.orphans(), zs...).Err(); err != nil {
				return out, redisFailure("sessions: orphan", err)
			}
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	return out, redisFailure("sessions: orphan", ss.rdb.Del(ctx, set).Err())
}

// DueOrphans claims up to max orphaned sessions whose deadline has passed.
// Each is given to one caller; one its caller does not finish (OrphanDone)
// is given again after a minute.
func (ss *Sessions) DueOrphans(ctx context.Context, max int) ([]Orphaned, error) {
	ms, err := orphansDueScript.Run(ctx, ss.rdb, []string{ss.ks.orphans()}, max, orphanRetry.Milliseconds()).StringSlice()
	if err != nil {
		return nil, redisFailure("sessions: due orphans", err)
	}
	out := make([]Orphaned, 0, len(ms))
	for _, m := range ms {
		if o, ok := decodeOrphan(m); ok {
			out = append(out, o)
		} else {
			_ = ss.rdb.ZRem(ctx, ss.ks.orphans(), m).Err() // not ours: never due again
		}
	}
	return out, nil
}

// ExpireOrphan ends a due orphan's session if nobody resumed it (it is
// still that session, on the dead shard): true, and the caller does what
// the end of a grace does (leave the lobby, cancel the tickets, reason
// disconnected). Also true when the user has no session at all: an
// earlier claim ended it and failed before its chores were done, which
// are conditional (LobbyStore.LeaveIfOn removes only a member still on the
// dead shard) and so safe to redo. false: it was resumed or replaced
// elsewhere.
func (ss *Sessions) ExpireOrphan(ctx context.Context, o Orphaned) (bool, error) {
	n, err := sessionExpireOrphanScript.Run(ctx, ss.rdb, []string{ss.ks.sessionKey(o.UserID)}, o.SessionID, o.Shard).Int()
	if err != nil {
		return false, redisFailure("sessions: expire orphan", err)
	}
	return n != 0, nil
}

// OrphanEnded hands the chores of a session this shard ended (its grace
// ran out: Expire) to the orphans' machinery when this shard could not do
// them itself: its lobby's leave was refused by a loaded Redis, or the
// shard is stopping. The session is recorded as an orphan due at once;
// whichever shard claims it (this one included) finds no session
// (ExpireOrphan answers ended) and removes the member if it is still
// recorded on this shard. Without it, the member stayed in its lobby for
// good: its session was gone, so no shard would ever orphan it.
func (ss *Sessions) OrphanEnded(ctx context.Context, userID, sessionID string) error {
	o := Orphaned{UserID: userID, SessionID: sessionID, Shard: ss.shard}
	// Score 0: a deadline long past, due at the next claim.
	return redisFailure("sessions: orphan ended", ss.rdb.ZAdd(ctx, ss.ks.orphans(), redis.Z{Score: 0, Member: encodeOrphan(o)}).Err())
}

// EndOrphan ends a due orphan (DueOrphans): when ExpireOrphan ends its
// session, chores does what the end of a grace does, and only once they
// succeed is the orphan forgotten (OrphanDone). A failure leaves it
// claimed: another claim orphanRetry later finds the session already
// ended and runs chores again, so a leave refused by a loaded Redis does
// not leave the player in its lobby for good. ended: chores ran and
// succeeded.
func (ss *Sessions) EndOrphan(ctx context.Context, o Orphaned, chores func(context.Context) error) (ended bool, err error) {
	if ended, err = ss.ExpireOrphan(ctx, o); err != nil {
		return false, err
	}
	if ended {
		if err := chores(ctx); err != nil {
			return false, err
		}
	}
	return ended, ss.OrphanDone(ctx, o)
}

// OrphanDone forgets a due orphan once its chores are done.
func (ss *Sessions) OrphanDone(ctx context.Context, o Orphaned) error {
	return redisFailure("sessions: orphan done", ss.rdb.ZRem(ctx, ss.ks.orphans(), encodeOrphan(o)).Err())
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
		Connected: m["conn"] == "1", LastSeq: seq, Created: created, Orphaned: m["dl"] != ""}, true
}
