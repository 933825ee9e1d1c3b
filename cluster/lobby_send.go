package cluster

import (
	"context"

	"github.com/lobbyd/lobbyd/lobby"
)

// sendTries bounds the re-runs of a cross-shard lobby.send whose lobby
// changed between this shard's copy and the commit.
const sendTries = 4

// Send implements lobby.Store, the hot path.
//
// In a lobby whose members all sit on this shard (per the follower's copy
// of the document) it delivers at once, under the lobby's follower lock,
// with no Redis command and no allocation: the data is ephemeral, and no
// other shard has a member to miss it. In a split lobby it is one commit
// (events only, with the version of this shard's copy: a lobby changed
// meanwhile makes it read the lobby and recompute the recipients), whatever
// the number of recipients; each shard delivers to its own, and sends of
// one lobby that meet on this shard share a commit (commitSend).
func (s *LobbyStore) Send(ctx context.Context, userID string, data []byte, to [][]byte) error {
	for range sendTries {
		if s.SendLocal(userID, data, to) {
			return nil
		}
		fl := s.f.localLobby(userID)
		if fl == nil {
			return s.sendSlow(ctx, userID, data, to)
		}
		fl.mu.Lock()
		d := s.f.docLocked(fl)
		if d == nil || d.Member(userID) == nil {
			fl.mu.Unlock()
			return s.sendSlow(ctx, userID, data, to)
		}
		if fl.allLocal { // became all-local since SendLocal looked
			fl.mu.Unlock()
			continue
		}
		c := &collector{doc: d}
		d.Send(c, userID, data, to)
		version := fl.version
		fl.mu.Unlock()
		if len(c.events) == 0 {
			return nil
		}
		ok, err := s.commitSend(ctx, fl, d, version, c)
		if err != nil || ok {
			return err
		}
		s.f.resync(ctx, fl)
	}
	return redisFailure("send", ErrContended)
}

// SendLocal is Send's fast path alone, for a caller that must not wait on
// Redis (an epoll loop): when the sender's lobby has every member on this
// shard it delivers and reports true; otherwise it does nothing and reports
// false, and the caller runs Send where waiting is allowed. No Redis
// command, no allocation.
func (s *LobbyStore) SendLocal(userID string, data []byte, to [][]byte) bool {
	fl := s.f.localLobby(userID)
	if fl == nil {
		return false
	}
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if !fl.allLocal {
		return false
	}
	d := s.f.docLocked(fl)
	if d == nil || d.Member(userID) == nil {
		return false
	}
	d.Send(s.sink, userID, data, to)
	return true
}

// sendSlow is Send for a user this shard does not follow a lobby for (a
// match made by another shard, a member recorded on another shard): read,
// then one commit.
func (s *LobbyStore) sendSlow(ctx context.Context, userID string, data []byte, to [][]byte) error {
	err := s.mutateMember(ctx, userID, func(d *lobby.Doc, c *collector) (bool, error) {
		d.Send(c, userID, data, to)
		return false, nil
	})
	if err != nil {
		return err
	}
	// Follow the lobby from now on, so the next send takes the fast path.
	if id, err := s.lobbyIDOf(ctx, userID); err == nil && id != "" {
		s.f.follow(ctx, id)
	}
	return nil
}
