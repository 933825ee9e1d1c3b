package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

// rules is one operation's rules, run on a freshly read document: it
// changes d, emits the events to c and reports whether d changed (false
// with events: only events, e.g. chat). A refusal is returned as is.
type rules func(d *lobby.Doc, c *collector) (changed bool, err error)

// mutate runs fn on lobby id and commits the result with a version check;
// when another shard changed the lobby in between, it reads again and
// re-runs fn (optimistic concurrency), at most s.opts.MaxRetries times. The
// first try runs on a copy of this shard's document when it follows the
// lobby (no read: one round trip in all), later ones on the document read
// from Redis. A refusal on the copy is checked again on the document read
// from Redis (the copy may not have the latest change of another shard,
// e.g. the member a host kicks who joined there a moment ago), so every
// refusal is decided on the lobby as stored. An absent lobby:
// lobby.ErrNotFound. fn computes whatever the caller returns: after the
// commit the document belongs to the follower.
func (s *LobbyStore) mutate(ctx context.Context, id string, fn rules) error {
	fromCopy := false
	for try := range s.opts.MaxRetries {
		if try > 0 && !fromCopy && !backoff(ctx, try) {
			return ctx.Err()
		}
		var l loaded
		var ok bool
		if try == 0 {
			l.doc, l.version, ok = s.f.copyOf(id)
		}
		fromCopy = ok
		if !ok {
			var err error
			if l, err = s.read(ctx, id, ""); err != nil {
				return err
			}
		}
		if l.doc == nil {
			return lobby.ErrNotFound
		}
		d := l.doc
		c := &collector{doc: d}
		wasPublic := d.Public()
		changed, err := fn(d, c)
		if err != nil {
			if fromCopy {
				continue // refused on this shard's copy: decide on the stored lobby
			}
			return err
		}
		if !changed && len(c.events) == 0 {
			return nil
		}
		ok, err = s.commit(ctx, d, l.version, changed, c, wasPublic)
		if err != nil || ok {
			return err
		}
	}
	return redisFailure("lobby "+id, ErrContended)
}

// backoff waits a random time that grows with the number of tries (up to
// 8 ms), so that shards racing for one lobby spread out; false when ctx
// ended first.
func backoff(ctx context.Context, try int) bool {
	d := time.Duration(rand.Int64N(int64(min(try, 8)) * int64(time.Millisecond)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// commit runs the commit script for d at version: the new document when
// changed (deleted when it has no member left; "=" otherwise, events
// only), the events of c. It reports false when the version moved. After a
// commit it files what lives outside the lobby's slot (code, creation
// index), calls the public-change hook and delivers the events here.
func (s *LobbyStore) commit(ctx context.Context, d *lobby.Doc, version uint64, changed bool, c *collector, wasPublic bool) (bool, error) {
	if c.err != nil {
		return false, fmt.Errorf("cluster: encoding a lobby event: %w", c.err)
	}
	deleted := changed && len(d.Members) == 0
	doc := "="
	var raw []byte
	if deleted {
		doc = ""
	} else if changed {
		var err error
		if raw, err = lobby.AppendDoc(nil, d); err != nil {
			return false, fmt.Errorf("cluster: encoding lobby %s: %w", d.ID, err)
		}
		doc = string(raw)
	}
	lk := s.f.keysOf(d.ID, !changed)
	args := make([]any, 0, 8+len(c.encoded)) // runGuarded appends the deadline
	if changed {
		args = append(args, version, doc, s.shardArg, s.channelArg, lk.id, shardsOf(d), len(c.encoded))
	} else {
		// Events only: the script ignores the shards (ARGV[6]).
		args = append(args, version, eventsOnlyArg, s.shardArg, s.channelArg, lk.id, noShardsArg, len(c.encoded))
	}
	for _, e := range c.encoded {
		args = append(args, e)
	}
	res, err := s.commits.run(ctx, lk.keys, args...).Int64Slice()
	if err != nil {
		return false, redisFailure("commit", err)
	}
	if len(res) < 2 || res[0] != 1 {
		return false, nil
	}
	m := &message{lobbyID: d.ID, first: uint64(res[1]), version: uint64(res[2]), events: c.events, deleted: deleted}
	if deleted {
		// Outside the lobby's slot, so not in the script: a crash here
		// leaves a code naming a lobby that is gone, which joins answer
		// not_found and Create never reuses.
		pipe := s.rdb.Pipeline()
		pipe.Del(ctx, s.ks.lobbyCode(d.Code))
		pipe.ZRem(ctx, s.ks.lobbiesCreated(), d.ID)
		if _, err := pipe.Exec(ctx); err != nil {
			s.opts.Logger.Warn("cluster: unfiling a deleted lobby", "lobby", d.ID, "err", err)
		}
	}
	if s.opts.OnPublicChange != nil && changed && (wasPublic || (!deleted && d.Public())) {
		ch := PublicChange{LobbyID: d.ID, Version: m.version, Seq: d.Seq}
		if !deleted && d.Public() {
			v := d.View(false)
			ch.View = &v
		}
		s.opts.OnPublicChange(ctx, ch)
	}
	if changed && !deleted {
		s.f.applyOwn(ctx, m, d)
	} else {
		s.f.applyOwn(ctx, m, nil)
	}
	return true, nil
}

// The commit script's arguments of an events-only commit, boxed once.
var (
	eventsOnlyArg any = "="
	noShardsArg   any = ""
)

// shardsOf lists the shards with a member in d, space-separated.
func shardsOf(d *lobby.Doc) string {
	var shards []string
	for _, m := range d.Members {
		if !slices.Contains(shards, m.Shard) {
			shards = append(shards, m.Shard)
		}
	}
	return strings.Join(shards, " ")
}

// lobbyIDOf names the lobby the user is in, "" for none known: this
// shard's followed lobbies first, else the user's hint in Redis. The
// caller checks the document (a hint may be stale).
func (s *LobbyStore) lobbyIDOf(ctx context.Context, userID string) (string, error) {
	if fl := s.f.localLobby(userID); fl != nil {
		return fl.id, nil
	}
	id, err := s.rdb.Get(ctx, s.ks.userLobby(userID)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return id, redisFailure("user", err)
}

// mutateMember runs fn on the lobby userID is a member of; none:
// lobby.ErrNotInLobby.
func (s *LobbyStore) mutateMember(ctx context.Context, userID string, fn rules) error {
	id, err := s.lobbyIDOf(ctx, userID)
	if err != nil {
		return err
	}
	if id == "" {
		return lobby.ErrNotInLobby
	}
	err = s.mutate(ctx, id, func(d *lobby.Doc, c *collector) (bool, error) {
		if d.Member(userID) == nil {
			return false, lobby.ErrNotInLobby
		}
		return fn(d, c)
	})
	if errors.Is(err, lobby.ErrNotFound) {
		return lobby.ErrNotInLobby
	}
	return err
}

// memberOf reads the lobby the user is in: nil when none.
func (s *LobbyStore) memberOf(ctx context.Context, userID string) (*lobby.Doc, error) {
	id, err := s.lobbyIDOf(ctx, userID)
	if err != nil || id == "" {
		return nil, err
	}
	l, err := s.read(ctx, id, "")
	if err != nil || l.doc == nil || l.doc.Member(userID) == nil {
		return nil, err
	}
	return l.doc, nil
}

// newLobbyIdentity gives a new lobby its creation sequence and a code
// unique cluster-wide ({c:CODE} SET NX, retried on collision), and points
// the members' hints at it (before the commit, see setHint): one pipeline
// unless the first code collides.
func (s *LobbyStore) newLobbyIdentity(ctx context.Context, d *lobby.Doc) error {
	pipe := s.rdb.Pipeline()
	seq := pipe.Incr(ctx, s.ks.lobbySeq())
	c := s.opts.NewCode()
	free := pipe.SetNX(ctx, s.ks.lobbyCode(c), d.ID, 0)
	for _, m := range d.Members {
		pipe.Set(ctx, s.ks.userLobby(m.UserID), d.ID, 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return redisFailure("create", err)
	}
	d.Seq = uint64(seq.Val())
	for try := 1; !free.Val(); try++ {
		if try == maxCodeTries {
			return protocol.NewError(protocol.CodeInternal, "no free lobby code")
		}
		c = s.opts.NewCode()
		if free = s.rdb.SetNX(ctx, s.ks.lobbyCode(c), d.ID, 0); free.Err() != nil {
			return redisFailure("code", free.Err())
		}
	}
	d.Code = c
	return nil
}

// maxCodeTries bounds the search for a free code (as in the memory store).
const maxCodeTries = 64

// publish commits a new lobby d (version 0: it must not exist yet) whose
// members' hints already name it, and files it in the creation index.
//
// A commit whose reply was lost (Redis died after running it, or before)
// is settled as CreateMatch's is (settleCreate): a lobby that was made is
// the player's, answered ok with its join code kept; one that was not is
// fenced, its code let go. When Redis cannot tell within settleFor, the
// answer is unavailable and the code stays (the lobby may exist: the
// player's next welcome shows it).
func (s *LobbyStore) publish(ctx context.Context, d *lobby.Doc) error {
	if err := s.commitNew(ctx, d); err != nil {
		return redisFailure("create", err)
	}
	return redisFailure("index", s.rdb.ZAdd(ctx, s.ks.lobbiesCreated(), redis.Z{Score: float64(d.Seq), Member: d.ID}).Err())
}

// commitNew commits the new lobby d, settling a commit whose reply was
// lost (settleCreate). nil: the lobby exists. An error wrapping
// matchmaking.ErrMatchUnknown: Redis could not tell, and the lobby's code
// stays (the lobby may exist). Any other error: no lobby, now or later,
// and its code is let go.
func (s *LobbyStore) commitNew(ctx context.Context, d *lobby.Doc) error {
	ok, err := s.commit(ctx, d, 0, true, &collector{doc: d}, false)
	if mayHaveRun(err) {
		switch made, serr := s.settleCreate(ctx, d, err); {
		case serr != nil:
			return serr
		case made:
			ok, err = true, nil
		} // else not made, and never will be: err stands
	}
	if err == nil && !ok {
		err = fmt.Errorf("cluster: lobby id %s taken", d.ID)
	}
	if err != nil {
		s.rdb.Del(context.WithoutCancel(ctx), s.ks.lobbyCode(d.Code))
	}
	return err
}
