package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/matchmaking"
)

// A match lobby's creation whose reply was lost (an EOF or a timeout after
// the commit was written: Redis may have run it before it died) must not
// leave the matcher guessing. Guessing "not created" put the tickets back
// in the queue while their players sat in the lobby: matched twice, which
// docs/protocol.md §5a's "in effect once" does not cover. Guessing
// "created" would tell players of a match that does not exist. So the
// store settles it: one script on the lobby's slot reports the lobby if
// it exists, and otherwise leaves a tombstone in its place, so that the
// lost commit, should it still reach Redis, finds the version moved and
// does nothing. Either answer is then final.

var (
	// settleCreateScript: KEYS[1] the lobby's doc. {1, version, offset}
	// when the lobby exists; {0} when it does not (a tombstone now holds
	// its place: version -1, no document, for settleTombstoneTTL).
	settleCreateScript = newGuardedScript(`
local h = redis.call('HMGET', KEYS[1], 'v', 'o', 'x')
if h[3] then return {0} end
if h[1] then return {1, tonumber(h[1]), tonumber(h[2] or '0')} end
redis.call('HSET', KEYS[1], 'v', '-1', 'x', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return {0}`)
)

const (
	// settleFor bounds how long a match lobby's creation is settled
	// (Redis restarting: tens of ms to a few seconds).
	settleFor = 5 * time.Second
	// settleTombstoneTTL keeps the tombstone far longer than a commit can
	// still run: a guarded commit's deadline is at most the shard's
	// liveness ahead (seconds).
	settleTombstoneTTL = 10 * time.Minute
)

// settleCreate is called when the commit creating the new lobby d failed
// with cause and may have run. It reports whether the lobby exists (true:
// the commit ran), tried again every 20 ms, then twice as long each time,
// within settleFor. An error wraps matchmaking.ErrMatchUnknown: Redis
// could not tell.
func (s *LobbyStore) settleCreate(ctx context.Context, d *lobby.Doc, cause error) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, settleFor)
	defer cancel()
	key := s.ks.lobbyDoc(d.ID)
	var res []int64
	err := RetryUntil(ctx, func() (bool, error) {
		var err error
		res, err = runGuarded(ctx, s.rdb, settleCreateScript, []string{key}, settleTombstoneTTL.Milliseconds()).Int64Slice()
		if err == nil && len(res) == 0 {
			err = fmt.Errorf("cluster: settle script answered %v", res)
		}
		return err != nil, err
	})
	switch {
	case err != nil:
		return false, fmt.Errorf("%w: %w (settling it: %w)", matchmaking.ErrMatchUnknown, cause, err)
	case res[0] == 0:
		return false, nil
	case len(res) == 3 && res[1] == 1 && res[2] == 0:
		// Nothing happened to it since: what the commit's reply would
		// have said (version 1, no event).
		s.f.applyOwn(ctx, &message{lobbyID: d.ID, first: 1, version: 1}, d)
	}
	return true, nil
}

// mayHaveRun reports whether a failed command may still have taken effect:
// anything but a guarded script's refusal (ErrLate, LATE from Redis),
// which did nothing.
func mayHaveRun(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) { // redisFailure wraps
		if isLate(e) {
			return false
		}
	}
	return err != nil
}
