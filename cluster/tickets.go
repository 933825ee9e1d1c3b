package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/lobbyd/lobbyd/matchmaking"
	"github.com/lobbyd/lobbyd/protocol"
)

// Keys of the ticket store (docs/cluster.md, "Matchmaking"). Every key of a
// queue carries the tag {q:NAME}, so Add, Remove, Claim and Stats are one
// script each on one slot; the hints live in the slot of their ticket or
// user.

// queueTickets is the hash ticket id → zset member of a queue's tickets.
func (k Keyspace) queueTickets(queue string) string { return k.tag("q", queue, ":t") }

// queueWaiting is the sorted set of a queue's tickets: score CreatedAt,
// member = 16 hex digits of add order + 4 hex digits of player count +
// the msgpack ticket, so equal scores sort in add order and one ZRANGE
// returns whole tickets.
func (k Keyspace) queueWaiting(queue string) string { return k.tag("q", queue, ":w") }

// queueCounts is the hash {seq: add order, players: players queued}.
func (k Keyspace) queueCounts(queue string) string { return k.tag("q", queue, ":n") }

// queueLog is the stream of a queue's changes (field a: an added member,
// r: a removed ticket id), trimmed to about queueLogLen entries: each
// shard's mirror of the queue reads only what changed since its last pass.
func (k Keyspace) queueLog(queue string) string { return k.tag("q", queue, ":log") }

// queueLogLen is the approximate length the change stream is trimmed to;
// a mirror more changes behind reloads the whole queue.
const queueLogLen = 4096

// queueKeys are the KEYS of the add and take scripts.
func (s *TicketStore) queueKeys(queue string) []string {
	return []string{s.ks.queueTickets(queue), s.ks.queueWaiting(queue), s.ks.queueCounts(queue),
		s.ks.queueLog(queue), s.ks.queueEpoch(queue), s.ks.queueLease(queue)}
}

// queueClaim is where a take keeps the tickets it took, for claimTTL: the
// proof that it ran, should its reply be lost (settleTake).
func (k Keyspace) queueClaim(queue, token string) string { return k.tag("q", queue, ":claim:"+token) }

// claimTTL is how long a take's claim key (or a settle's tombstone) is
// kept: longer than a settle tries (settleFor) and than a take can still
// run after it was sent (its guarded deadline: the request's bound or the
// shard's liveness, seconds).
const claimTTL = 30 * time.Second

// ticketHint names the queue of ticket id ("<claim ms>:<queue>:<id>").
func (k Keyspace) ticketHint(id string) string { return k.tag("t", id, "") }

// userTicket names the ticket a user is on ("<claim ms>:<queue>:<id>").
func (k Keyspace) userTicket(userID string) string { return k.tag("u", userID, ":ticket") }

// Hint timing. A hint is written when an Add claims its ticket id or a
// member, before the ticket is queued (the hint and the queue are in
// different slots, so no script can do both). A hint naming a ticket that
// is not queued is therefore either an Add in flight or stale (its ticket
// was removed, or its Add failed halfway). It is taken over only when older
// than hintWindow, and an Add queues its ticket only while its oldest claim
// is younger than hintWindow-hintSkew (checked by the queue script against
// Redis's clock): so a takeover never overlaps an Add that can still
// succeed, as long as the clocks of the Redis nodes differ by less than
// hintSkew.
const (
	hintWindow = 10 * time.Second
	hintSkew   = 2 * time.Second
)

// maxTicketMembers bounds a ticket's members: the count is 4 hex digits of
// the zset member.
const maxTicketMembers = 0xffff

// ErrLeaseLost is Claim's refusal when the store is fenced and this shard
// does not hold the queue's matcher lease with the current epoch: a
// matcher cut off from its lease can never claim tickets.
var ErrLeaseLost = errors.New("cluster: matcher lease not held (stale epoch); claim refused")

// TicketStore is the matchmaking.TicketStore of a cluster: every shard's
// Service queues into the same Redis queues. Safe for concurrent use.
//
// Layout and costs: docs/cluster.md, "Matchmaking". A user is on at most one
// queued ticket across all queues, also against Adds on other shards (the
// per-user hint is claimed before the ticket is queued).
type TicketStore struct {
	rdb   redis.UniversalClient
	ks    Keyspace
	fence func(queue string) (fence string, ok bool)

	mu      sync.Mutex              // guards mirrors (the map; each mirror has its own lock)
	mirrors map[string]*queueMirror // per queue, made by its first Waiting
}

// TicketOptions configure a TicketStore.
type TicketOptions struct {
	// Fence, when set, gives the matcher lease this shard holds on a queue
	// (Leases.Fence: "<epoch>:<token>"). Claim refuses with ErrLeaseLost
	// when it reports none, and the claim script refuses unless the lease
	// key still holds exactly that value and the epoch is the queue's
	// current one: a matcher whose lease expired, was taken over, or was
	// lost with Redis's data (epochs start again) cannot claim. Nil: Claim
	// is unfenced (tests, a single shard).
	Fence func(queue string) (fence string, ok bool)
}

// NewTicketStore returns the ticket store of keyspace ks on rdb.
func NewTicketStore(rdb redis.UniversalClient, ks Keyspace, opts TicketOptions) *TicketStore {
	return &TicketStore{rdb: rdb, ks: ks, fence: opts.Fence, mirrors: make(map[string]*queueMirror)}
}

var _ matchmaking.TicketStore = (*TicketStore)(nil)

// wireTicket is a Ticket as stored (msgpack, short keys).
type wireTicket struct {
	ID        string   `msgpack:"i"`
	Queue     string   `msgpack:"q"`
	Members   []string `msgpack:"m"`
	Names     []string `msgpack:"n,omitempty"`
	Skill     float64  `msgpack:"s"`
	Region    string   `msgpack:"r,omitempty"`
	CreatedAt int64    `msgpack:"c"`
}

// memberHeader is the length of a zset member's prefix: 16 hex digits of
// add order (written by the script) and 4 of player count.
const memberHeader = 20

func decodeMember(m string) (matchmaking.Ticket, error) {
	if len(m) < memberHeader {
		return matchmaking.Ticket{}, fmt.Errorf("cluster: ticket entry of %d bytes", len(m))
	}
	var w wireTicket
	if err := msgpack.Unmarshal([]byte(m[memberHeader:]), &w); err != nil {
		return matchmaking.Ticket{}, fmt.Errorf("cluster: decoding a ticket: %w", err)
	}
	return matchmaking.Ticket{ID: w.ID, Queue: w.Queue, Members: w.Members, Names: w.Names,
		Skill: w.Skill, Region: w.Region, CreatedAt: w.CreatedAt}, nil
}

// hintOwner is the "<queue>:<id>" part of a hint value: who holds it.
func hintOwner(queue, id string) string { return queue + ":" + id }

// parseHint splits "<claim ms>:<queue>:<id>" (queue names hold no ':').
func parseHint(v string) (claimMs int64, queue, id string, ok bool) {
	ms, rest, ok1 := strings.Cut(v, ":")
	queue, id, ok2 := strings.Cut(rest, ":")
	n, err := strconv.ParseInt(ms, 10, 64)
	return n, queue, id, ok1 && ok2 && err == nil
}

// Scripts of the ticket store. Times are Redis's (TIME), in unix ms.
var (
	// hintClaimScript sets KEYS[1] to "<now>:ARGV[1]" if it is free:
	// {1, now}, else {0, now, current value}.
	hintClaimScript = newGuardedScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], string.format('%.0f', now) .. ':' .. ARGV[1])
  return {1, now}
end
return {0, now, v}`)

	// hintTakeoverScript replaces KEYS[1] when it still holds ARGV[1]
	// (a stale hint): returns the claim time, or nil when it changed.
	hintTakeoverScript = newGuardedScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('SET', KEYS[1], string.format('%.0f', now) .. ':' .. ARGV[2])
return now`)

	// hintReleaseScript deletes KEYS[1] when its owner part is ARGV[1].
	hintReleaseScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then
  local i = string.find(v, ':', 1, true)
  if i and string.sub(v, i + 1) == ARGV[1] then
    redis.call('DEL', KEYS[1])
    return 1
  end
end
return 0`)

	// queueAddScript queues a ticket. KEYS: queueKeys.
	// ARGV: id, count+ticket, CreatedAt, deadline (ms), players.
	// -1: past the deadline (claims too old); 0: id present; 1: queued.
	queueAddScript = newGuardedScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now >= tonumber(ARGV[4]) then return -1 end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
local seq = redis.call('HINCRBY', KEYS[3], 'seq', 1)
local m = string.format('%016x', seq) .. ARGV[2]
redis.call('HSET', KEYS[1], ARGV[1], m)
redis.call('ZADD', KEYS[2], ARGV[3], m)
redis.call('HINCRBY', KEYS[3], 'players', ARGV[5])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[6], '*', 'a', m)
return 1`)

	// queueTakeScript removes tickets ARGV[3..] all at once if every one is
	// queued and none is listed twice; returns their members, or 0 when
	// any is gone, or -1 when fenced (ARGV[1] = the lease value, "" =
	// unfenced) and the lease no longer holds it or its epoch is not the
	// current one. ARGV[2]: queueLogLen.
	// KEYS: queueKeys.
	queueTakeScript = newGuardedScript(`
if ARGV[1] ~= '' then
  if redis.call('GET', KEYS[6]) ~= ARGV[1] then return -1 end
  local e = redis.call('GET', KEYS[5])
  if not e or string.sub(ARGV[1], 1, #e + 1) ~= e .. ':' then return -1 end
end
if redis.call('EXISTS', KEYS[7]) == 1 then return 0 end
local ms, seen = {}, {}
for i = 4, #ARGV do
  if seen[ARGV[i]] then return 0 end
  seen[ARGV[i]] = true
  local m = redis.call('HGET', KEYS[1], ARGV[i])
  if not m then return 0 end
  ms[#ms + 1] = m
end
local p = 0
for i = 4, #ARGV do
  local m = ms[i - 3]
  redis.call('HDEL', KEYS[1], ARGV[i])
  redis.call('ZREM', KEYS[2], m)
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[2], '*', 'r', ARGV[i])
  p = p + tonumber(string.sub(m, 17, 20), 16)
end
if redis.call('ZCARD', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[3])
else
  redis.call('HINCRBY', KEYS[3], 'players', -p)
end
redis.call('RPUSH', KEYS[7], unpack(ms))
redis.call('PEXPIRE', KEYS[7], ARGV[3])
return ms`)

	// settleTakeScript settles a take whose reply was lost (KEYS[1]: its
	// claim key): the members it took when it ran; 0 when it did not,
	// and then a tombstone in the claim key's place, so that the take,
	// should it still reach Redis, takes nothing (for ARGV[1] ms).
	settleTakeScript = redis.NewScript(`
local t = redis.call('TYPE', KEYS[1])['ok']
if t == 'list' then return redis.call('LRANGE', KEYS[1], 0, -1) end
if t == 'none' then redis.call('SET', KEYS[1], 'x', 'PX', ARGV[1]) end
return 0`)

	// queueStatsScript: {tickets, players, oldest score as a string}.
	// KEYS: waiting, counts.
	queueStatsScript = redis.NewScript(`
local c = redis.call('ZCARD', KEYS[1])
if c == 0 then return {0, 0, '0'} end
local o = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {c, tonumber(redis.call('HGET', KEYS[2], 'players')) or 0, o[2]}`)
)

// Add implements matchmaking.TicketStore: claim the hints of the ticket id
// and of every member (one pipeline of set-if-absent scripts; all of them
// released again on a refusal), then queue the ticket with one script.
func (s *TicketStore) Add(ctx context.Context, t matchmaking.Ticket) error {
	if err := matchmaking.CheckNewTicket(&t); err != nil {
		return err
	}
	if len(t.Members) > maxTicketMembers {
		return protocol.NewError(protocol.CodeBadRequest, "too many members on a ticket")
	}
	blob, err := msgpack.Marshal(&wireTicket{ID: t.ID, Queue: t.Queue, Members: t.Members, Names: t.Names,
		Skill: t.Skill, Region: t.Region, CreatedAt: t.CreatedAt})
	if err != nil {
		return fmt.Errorf("cluster: encoding a ticket: %w", err)
	}
	owner := hintOwner(t.Queue, t.ID)
	keys := make([]string, 0, 1+len(t.Members)) // keys[0]: the ticket id's hint
	keys = append(keys, s.ks.ticketHint(t.ID))
	for _, u := range t.Members {
		keys = append(keys, s.ks.userTicket(u))
	}
	calls := make([]scriptCall, len(keys))
	for i, k := range keys {
		calls[i] = scriptCall{keys: []string{k}, args: []any{owner}}
	}
	cmds := runPipelinedGuarded(ctx, s.rdb, hintClaimScript, calls)
	claimed := make([]string, 0, len(keys))
	release := func() { s.releaseHints(ctx, owner, claimed) }
	var oldest int64
	var failure error
	for i, c := range cmds {
		at, err := int64(0), c.Err()
		if err == nil {
			at, err = s.settleHint(ctx, keys[i], owner, c.Val())
		}
		if err == nil {
			claimed = append(claimed, keys[i])
			if oldest == 0 || at < oldest {
				oldest = at
			}
			continue
		}
		if failure == nil { // the first refusal decides: the ticket id's before a member's
			switch {
			case !errors.Is(err, errHintHeld):
				failure = redisFailure("tickets: claim hint", err)
			case i == 0:
				failure = protocol.NewError(protocol.CodeBadRequest, "ticket id in use")
			default:
				failure = matchmaking.ErrAlreadyQueued
			}
		}
	}
	if failure != nil {
		release()
		return failure
	}
	deadline := oldest + (hintWindow - hintSkew).Milliseconds()
	q := t.Queue
	r, err := runGuarded(ctx, s.rdb, queueAddScript, s.queueKeys(q),
		t.ID, fmt.Sprintf("%04x", len(t.Members))+string(blob), t.CreatedAt, deadline, len(t.Members), queueLogLen).Int()
	switch {
	case mayHaveRun(err):
		// The script may have run: an EOF or a timeout after it was
		// written says nothing of what Redis did (Redis killed after
		// running it, its reply lost). The request is answered
		// unavailable and may be in effect (docs/protocol.md §5a). The
		// hints stay: released, they would leave a queued ticket that no
		// hint names, and the player's next mm.enqueue would queue a
		// second ticket — one player on two tickets, matched twice. Kept,
		// they name this ticket whether or not it is queued; if it is not,
		// they are stale, and taken over after hintWindow, when this Add
		// can no longer queue it (the script's deadline). Until then the
		// player is told already_queued.
		return redisFailure("tickets: add", err)
	case err != nil: // refused as late by Redis or before sending: no effect
		release()
		return redisFailure("tickets: add", err)
	case r == -1:
		release()
		return protocol.NewError(protocol.CodeUnavailable, "ticket store too slow; try again")
	case r == 0:
		release()
		return protocol.NewError(protocol.CodeBadRequest, "ticket id in use")
	}
	return nil
}

// errHintHeld: the hint names a queued ticket, or an Add still in flight.
var errHintHeld = errors.New("hint held")

// settleHint reads hintClaimScript's reply for key and returns the claim
// time (Redis ms). A hint held by another is taken over only when stale
// (see hintWindow); errHintHeld otherwise.
func (s *TicketStore) settleHint(ctx context.Context, key, owner string, reply any) (int64, error) {
	for try := 0; ; try++ {
		r, _ := reply.([]any)
		if len(r) < 2 {
			return 0, fmt.Errorf("cluster: hint claim answered %v", reply)
		}
		now, _ := r[1].(int64)
		if r[0] == int64(1) {
			return now, nil
		}
		if len(r) < 3 || try == 3 { // a takeover lost to another three times: let the caller retry
			return 0, errHintHeld
		}
		cur, _ := r[2].(string)
		at, queue, id, ok := parseHint(cur)
		if ok && now-at < hintWindow.Milliseconds() {
			return 0, errHintHeld // young: queued, or an Add in flight
		}
		if ok {
			queued, err := s.rdb.HExists(ctx, s.ks.queueTickets(queue), id).Result()
			if err != nil {
				return 0, err
			}
			if queued {
				return 0, errHintHeld
			}
		}
		at, err := runGuarded(ctx, s.rdb, hintTakeoverScript, []string{key}, cur, owner).Int64()
		if err == nil {
			return at, nil
		}
		if !errors.Is(err, redis.Nil) {
			return 0, err
		}
		if reply, err = runGuarded(ctx, s.rdb, hintClaimScript, []string{key}, owner).Result(); err != nil {
			return 0, err
		}
	}
}

// releaseHints deletes the hints in keys that owner holds. It runs also
// when ctx is done (an Add refused on a cancelled request must not leave
// its claims), bounded by its own timeout; a hint it fails to delete is
// stale and taken over later.
func (s *TicketStore) releaseHints(ctx context.Context, owner string, keys []string) {
	calls := make([]scriptCall, len(keys))
	for i, k := range keys {
		calls[i] = scriptCall{keys: []string{k}, args: []any{owner}}
	}
	s.release(ctx, calls)
}

func (s *TicketStore) release(ctx context.Context, calls []scriptCall) {
	if len(calls) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	runPipelined(ctx, s.rdb, hintReleaseScript, calls)
}

// releaseTickets deletes the hints of tickets that left their queue, in one
// pipeline.
func (s *TicketStore) releaseTickets(ctx context.Context, ts ...matchmaking.Ticket) {
	var calls []scriptCall
	for i := range ts {
		owner := []any{hintOwner(ts[i].Queue, ts[i].ID)}
		calls = append(calls, scriptCall{keys: []string{s.ks.ticketHint(ts[i].ID)}, args: owner})
		for _, u := range ts[i].Members {
			calls = append(calls, scriptCall{keys: []string{s.ks.userTicket(u)}, args: owner})
		}
	}
	s.release(ctx, calls)
}

// lookup follows a hint to the ticket it names; not_found when there is no
// hint or its ticket is not queued.
func (s *TicketStore) lookup(ctx context.Context, hintKey string) (matchmaking.Ticket, error) {
	v, err := s.rdb.Get(ctx, hintKey).Result()
	if errors.Is(err, redis.Nil) {
		return matchmaking.Ticket{}, matchmaking.ErrTicketNotFound
	}
	if err != nil {
		return matchmaking.Ticket{}, redisFailure("tickets: get", err)
	}
	_, queue, id, ok := parseHint(v)
	if !ok {
		return matchmaking.Ticket{}, matchmaking.ErrTicketNotFound
	}
	m, err := s.rdb.HGet(ctx, s.ks.queueTickets(queue), id).Result()
	if errors.Is(err, redis.Nil) {
		return matchmaking.Ticket{}, matchmaking.ErrTicketNotFound
	}
	if err != nil {
		return matchmaking.Ticket{}, redisFailure("tickets: get", err)
	}
	return decodeMember(m)
}

// Get implements matchmaking.TicketStore.
func (s *TicketStore) Get(ctx context.Context, id string) (matchmaking.Ticket, error) {
	t, err := s.lookup(ctx, s.ks.ticketHint(id))
	if err == nil && t.ID != id {
		return matchmaking.Ticket{}, matchmaking.ErrTicketNotFound
	}
	return t, err
}

// ByUser implements matchmaking.TicketStore.
func (s *TicketStore) ByUser(ctx context.Context, userID string) (matchmaking.Ticket, error) {
	return s.lookup(ctx, s.ks.userTicket(userID))
}

// Remove implements matchmaking.TicketStore.
func (s *TicketStore) Remove(ctx context.Context, id string) (matchmaking.Ticket, error) {
	queue, err := s.queueOf(ctx, id)
	if err != nil {
		return matchmaking.Ticket{}, err
	}
	ms, err := s.take(ctx, queue, "", []string{id})
	if err != nil {
		return matchmaking.Ticket{}, err
	}
	if ms == nil {
		return matchmaking.Ticket{}, matchmaking.ErrTicketNotFound
	}
	t, err := decodeMember(ms[0])
	if err != nil {
		return matchmaking.Ticket{}, err
	}
	s.releaseTickets(ctx, t)
	return t, nil
}

// queueOf reads the queue of ticket id from its hint.
func (s *TicketStore) queueOf(ctx context.Context, id string) (string, error) {
	v, err := s.rdb.Get(ctx, s.ks.ticketHint(id)).Result()
	if errors.Is(err, redis.Nil) {
		return "", matchmaking.ErrTicketNotFound
	}
	if err != nil {
		return "", redisFailure("tickets: queue of", err)
	}
	_, queue, hid, ok := parseHint(v)
	if !ok || hid != id {
		return "", matchmaking.ErrTicketNotFound
	}
	return queue, nil
}

// take runs queueTakeScript: the members removed, nil when a ticket was
// gone, ErrLeaseLost when the fence refused.
func (s *TicketStore) take(ctx context.Context, queue, fence string, ids []string) ([]string, error) {
	var tok [8]byte
	_, _ = rand.Read(tok[:])
	claimKey := s.ks.queueClaim(queue, hex.EncodeToString(tok[:]))
	args := make([]any, 0, 3+len(ids))
	args = append(args, fence, queueLogLen, claimTTL.Milliseconds())
	for _, id := range ids {
		args = append(args, id)
	}
	r, err := runGuarded(ctx, s.rdb, queueTakeScript, append(s.queueKeys(queue), claimKey), args...).Result()
	if mayHaveRun(err) {
		r, err = s.settleTake(ctx, claimKey, err)
	}
	if err != nil {
		return nil, redisFailure("tickets: take", err)
	}
	switch r := r.(type) {
	case int64:
		if r == -1 {
			return nil, ErrLeaseLost
		}
		return nil, nil
	case []any:
		ms := make([]string, len(r))
		for i := range r {
			ms[i], _ = r[i].(string)
		}
		return ms, nil
	}
	return nil, fmt.Errorf("cluster: take script answered %T", r)
}

// settleTake settles a take whose reply was lost (cause): it may have run
// before Redis died, and then its tickets are out of the queue. Guessing
// "not taken" would leave them nowhere, their players neither matched nor
// told (they would wait for an event that never comes); guessing "taken"
// would match tickets that may still be queued. The take keeps what it
// took under its claim key for claimTTL, so one script tells: the members
// if it ran; otherwise it leaves a tombstone there that makes the take,
// should it still reach Redis, take nothing. Tried every 20 ms, then twice
// as long each time, within settleFor; cause, wrapped, when Redis could
// not tell.
func (s *TicketStore) settleTake(ctx context.Context, claimKey string, cause error) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, settleFor)
	defer cancel()
	var r any
	err := RetryUntil(ctx, func() (bool, error) {
		var err error
		r, err = settleTakeScript.Run(ctx, s.rdb, []string{claimKey}, claimTTL.Milliseconds()).Result()
		return err != nil, err
	})
	if err != nil {
		return nil, fmt.Errorf("%w (settling it: %w)", cause, err)
	}
	return r, nil
}

// Claim implements matchmaking.TicketStore. All ids must be of one queue
// (a match is); with a Fence, only the holder of that queue's matcher lease
// with the current epoch can claim (ErrLeaseLost otherwise).
func (s *TicketStore) Claim(ctx context.Context, ids []string) (bool, error) {
	if len(ids) == 0 {
		return true, nil
	}
	queue, err := s.queueOfAll(ctx, ids)
	if err != nil || queue == "" {
		return false, err
	}
	fence := ""
	if s.fence != nil {
		f, ok := s.fence(queue)
		if !ok || f == "" {
			return false, ErrLeaseLost
		}
		fence = f
	}
	ms, err := s.take(ctx, queue, fence, ids)
	if err != nil || ms == nil {
		return false, err
	}
	ts := make([]matchmaking.Ticket, 0, len(ms))
	for _, m := range ms {
		if t, err := decodeMember(m); err == nil {
			ts = append(ts, t)
		}
	}
	s.releaseTickets(ctx, ts...)
	return true, nil
}

// queueOfAll returns the one queue of every ticket in ids, or "" when a
// ticket is gone or they are in different queues. The matcher claims what
// its last Waiting returned, so the cache answers without Redis then.
func (s *TicketStore) queueOfAll(ctx context.Context, ids []string) (string, error) {
	if q := s.cachedQueue(ids); q != "" {
		return q, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.Get(ctx, s.ks.ticketHint(id))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return "", redisFailure("tickets: claim", err)
	}
	queue := ""
	for i, c := range cmds {
		_, q, id, ok := parseHint(c.Val())
		if !ok || id != ids[i] || (queue != "" && q != queue) {
			return "", nil
		}
		queue = q
	}
	return queue, nil
}

// Stats implements matchmaking.TicketStore.
func (s *TicketStore) Stats(ctx context.Context, queue string) (matchmaking.StoreStats, error) {
	r, err := queueStatsScript.Run(ctx, s.rdb, []string{s.ks.queueWaiting(queue), s.ks.queueCounts(queue)}).Slice()
	if err != nil {
		return matchmaking.StoreStats{}, redisFailure("tickets: stats", err)
	}
	if len(r) != 3 {
		return matchmaking.StoreStats{}, fmt.Errorf("cluster: stats script answered %d values", len(r))
	}
	n, _ := r[0].(int64)
	p, _ := r[1].(int64)
	oldest, _ := r[2].(string)
	o, _ := strconv.ParseFloat(oldest, 64)
	return matchmaking.StoreStats{Tickets: int(n), Players: int(p), OldestCreatedAt: int64(o)}, nil
}
