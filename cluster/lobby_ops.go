package cluster

import (
	"context"
	"errors"
	"slices"

	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

// The lobby.Store methods. Each finds the lobby, runs the lobby.Doc rules
// (the same code as the memory store) and commits; see lobby_commit.go.

// inLobby reports whether the user is a member of some lobby (hint, then
// the lobby's document).
func (s *LobbyStore) inLobby(ctx context.Context, userID string) (bool, error) {
	d, err := s.memberOf(ctx, userID)
	return d != nil, err
}

// setHint records the user's lobby. It is written before the commit that
// adds the user: if the commit fails, a hint naming a lobby the user is not
// in reads as "no lobby".
func (s *LobbyStore) setHint(ctx context.Context, userID, lobbyID string) error {
	return redisFailure("hint", s.rdb.Set(ctx, s.ks.userLobby(userID), lobbyID, 0).Err())
}

// Create implements lobby.Store.
func (s *LobbyStore) Create(ctx context.Context, a lobby.Actor, p protocol.CreateLobby) (protocol.LobbyView, error) {
	a, err := lobby.CheckActor(a)
	if err != nil {
		return protocol.LobbyView{}, err
	}
	if p, err = lobby.CheckCreate(p); err != nil {
		return protocol.LobbyView{}, err
	}
	unlock, err := s.lockUser(ctx, a.UserID)
	if err != nil {
		return protocol.LobbyView{}, err
	}
	defer unlock()
	if in, err := s.inLobby(ctx, a.UserID); err != nil || in {
		return protocol.LobbyView{}, cmpErr(err, lobby.ErrAlreadyInLobby)
	}
	d := lobby.NewDoc(lobby.NewID(), s.nowMS(), a, s.shard, p, s.opts.PasswordPepper)
	if err := s.newLobbyIdentity(ctx, d); err != nil {
		return protocol.LobbyView{}, err
	}
	v := d.View(true)
	if err := s.publish(ctx, d); err != nil {
		return protocol.LobbyView{}, err
	}
	return v, nil
}

// cmpErr is err when set, else the refusal.
func cmpErr(err, refusal error) error {
	if err != nil {
		return err
	}
	return refusal
}

// Join implements lobby.Store, with the checks of lobby.Doc.CheckJoin.
func (s *LobbyStore) Join(ctx context.Context, a lobby.Actor, p protocol.JoinLobby) (protocol.LobbyView, error) {
	a, err := lobby.CheckActor(a)
	if err != nil {
		return protocol.LobbyView{}, err
	}
	byID := p.Code == ""
	if byID && p.LobbyID == "" {
		return protocol.LobbyView{}, protocol.NewError(protocol.CodeBadRequest, "lobby_id or code is required")
	}
	id := p.LobbyID
	if !byID {
		code, ok := lobby.NormalizeCode(p.Code)
		if !ok {
			return protocol.LobbyView{}, lobby.ErrNotFound
		}
		got, err := s.rdb.Get(ctx, s.ks.lobbyCode(code)).Result()
		if errors.Is(err, redis.Nil) || (err == nil && p.LobbyID != "" && got != p.LobbyID) {
			return protocol.LobbyView{}, lobby.ErrNotFound
		}
		if err != nil {
			return protocol.LobbyView{}, redisFailure("code", err)
		}
		id = got
	}
	unlock, err := s.lockUser(ctx, a.UserID)
	if err != nil {
		return protocol.LobbyView{}, err
	}
	defer unlock()
	checked, inLobby, hinted := false, false, false
	var v protocol.LobbyView
	err = s.mutate(ctx, id, func(d *lobby.Doc, c *collector) (bool, error) {
		if !checked { // the user's lock is held: nobody else adds them meanwhile
			var err error
			if inLobby, err = s.inLobby(ctx, a.UserID); err != nil {
				return false, err
			}
			checked = true
		}
		if err := d.CheckJoin(byID, inLobby, p.Password, s.opts.PasswordPepper); err != nil {
			return false, err
		}
		if !hinted {
			if err := s.setHint(ctx, a.UserID, d.ID); err != nil {
				return false, err
			}
			hinted = true
		}
		d.Join(c, a, s.nowMS(), s.shard)
		v = d.View(true)
		return true, nil
	})
	return v, err
}

// Leave implements lobby.Store.
func (s *LobbyStore) Leave(ctx context.Context, userID, reason string) error {
	if reason != protocol.ReasonLeft && reason != protocol.ReasonDisconnected {
		return protocol.NewError(protocol.CodeBadRequest, `reason must be "left" or "disconnected"`)
	}
	err := s.mutateMember(ctx, userID, func(d *lobby.Doc, c *collector) (bool, error) {
		d.Remove(c, userID, reason, "")
		return true, nil
	})
	return err
}

// LeaveIfOn is Leave for a player of a dead shard whose resume grace ran
// out (the chores of a dead shard, gateway): it leaves only if its member
// is still recorded on shard. A player who came back on another shard
// meanwhile (a resume, or a new login, which moves the member) stays.
func (s *LobbyStore) LeaveIfOn(ctx context.Context, userID, shard, reason string) error {
	err := s.mutateMember(ctx, userID, func(d *lobby.Doc, c *collector) (bool, error) {
		if d.Member(userID).Shard != shard {
			return false, nil
		}
		d.Remove(c, userID, reason, "")
		return true, nil
	})
	if errors.Is(err, lobby.ErrNotInLobby) {
		return nil
	}
	return err
}

// DisconnectIfOn shows a player of a dead shard disconnected
// (lobby.member_updated to the others), as a dropped connection would, if
// its member is still recorded on shard: one who resumed elsewhere in the
// meantime stays connected.
func (s *LobbyStore) DisconnectIfOn(ctx context.Context, userID, shard string) error {
	err := s.mutateMember(ctx, userID, func(d *lobby.Doc, c *collector) (bool, error) {
		if d.Member(userID).Shard != shard {
			return false, nil
		}
		return d.SetConnected(c, userID, false, shard), nil
	})
	if errors.Is(err, lobby.ErrNotInLobby) {
		return nil
	}
	return err
}

// Update implements lobby.Store.
func (s *LobbyStore) Update(ctx context.Context, userID string, p protocol.UpdateLobby) (protocol.LobbyView, error) {
	p, err := lobby.CheckUpdate(p)
	if err != nil {
		return protocol.LobbyView{}, err
	}
	return memberOp(ctx, s, userID, func(d *lobby.Doc, c *collector) (protocol.LobbyView, bool, error) {
		v, changed, _, err := d.Update(c, userID, p, s.opts.PasswordPepper)
		return v, changed, err
	})
}

// SetMember implements lobby.Store.
func (s *LobbyStore) SetMember(ctx context.Context, userID string, p protocol.SetMember) (protocol.Member, error) {
	p, err := lobby.CheckSetMember(p)
	if err != nil {
		return protocol.Member{}, err
	}
	return memberOp(ctx, s, userID, func(d *lobby.Doc, c *collector) (protocol.Member, bool, error) {
		return d.SetMember(c, userID, p)
	})
}

// memberOp is mutateMember for rules that compute a result.
func memberOp[T any](ctx context.Context, s *LobbyStore, userID string, op func(d *lobby.Doc, c *collector) (T, bool, error)) (T, error) {
	var out T
	err := s.mutateMember(ctx, userID, func(d *lobby.Doc, c *collector) (bool, error) {
		var changed bool
		var err error
		out, changed, err = op(d, c)
		return changed, err
	})
	return out, err
}

// SetConnected implements lobby.Store. A connect also records this shard
// as the member's (a player resuming on another shard).
func (s *LobbyStore) SetConnected(ctx context.Context, userID string, connected bool) error {
	err := s.mutateMember(ctx, userID, func(d *lobby.Doc, c *collector) (bool, error) {
		return d.SetConnected(c, userID, connected, s.shard), nil
	})
	if errors.Is(err, lobby.ErrNotInLobby) {
		return nil // not in a lobby: nothing to show
	}
	return err
}

// Kick implements lobby.Store.
func (s *LobbyStore) Kick(ctx context.Context, hostID, targetID string) error {
	err := s.mutateMember(ctx, hostID, func(d *lobby.Doc, c *collector) (bool, error) {
		return true, d.Kick(c, hostID, targetID)
	})
	return err
}

// TransferHost implements lobby.Store.
func (s *LobbyStore) TransferHost(ctx context.Context, hostID, targetID string) error {
	err := s.mutateMember(ctx, hostID, func(d *lobby.Doc, c *collector) (bool, error) {
		return true, d.TransferHost(c, hostID, targetID)
	})
	return err
}

// Chat implements lobby.Store: one commit of the event, no document change.
func (s *LobbyStore) Chat(ctx context.Context, userID, text string) error {
	if err := lobby.CheckChat(text); err != nil {
		return err
	}
	// A member of a lobby this shard follows: the chat is computed on the
	// follower's document under its lock (a chat changes no document, so
	// there is nothing to copy) and committed as a split lobby's send is,
	// sharing a commit with the lobby's other sends and chats in flight.
	for range sendTries {
		fl := s.f.localLobby(userID)
		if fl == nil {
			break
		}
		fl.mu.Lock()
		d := s.f.docLocked(fl)
		if d == nil || d.Member(userID) == nil {
			fl.mu.Unlock()
			break
		}
		c := &collector{doc: d}
		d.Chat(c, userID, text, s.nowMS())
		version := fl.version
		fl.mu.Unlock()
		ok, err := s.commitSend(ctx, fl, d, version, c)
		if err != nil || ok {
			return err
		}
		s.f.resync(ctx, fl)
	}
	return s.mutateMember(ctx, userID, func(d *lobby.Doc, c *collector) (bool, error) {
		d.Chat(c, userID, text, s.nowMS())
		return false, nil
	})
}

// Start implements lobby.Store.
func (s *LobbyStore) Start(ctx context.Context, hostID string) (string, error) {
	matchID := lobby.NewID()
	err := s.mutateMember(ctx, hostID, func(d *lobby.Doc, c *collector) (bool, error) {
		return true, d.Start(c, hostID, matchID)
	})
	if err != nil {
		return "", err
	}
	return matchID, nil
}

// Close implements lobby.Store.
func (s *LobbyStore) Close(ctx context.Context, lobbyID string) error {
	err := s.mutate(ctx, lobbyID, func(d *lobby.Doc, c *collector) (bool, error) {
		d.Close(c)
		return true, nil
	})
	return err
}

// CreateMatch implements lobby.Store. Every member's lock is held
// throughout (taken in id order, so two matches cannot deadlock), so none
// can join another lobby between leaving theirs and entering the match.
func (s *LobbyStore) CreateMatch(ctx context.Context, p lobby.MatchParams) (protocol.LobbyView, error) {
	p, err := lobby.CheckMatch(p)
	if err != nil {
		return protocol.LobbyView{}, err
	}
	ids := make([]string, len(p.Members))
	for i, a := range p.Members {
		ids[i] = a.UserID
	}
	slices.Sort(ids)
	for _, u := range ids {
		unlock, err := s.lockUser(ctx, u)
		if err != nil {
			return protocol.LobbyView{}, err
		}
		defer unlock()
	}
	shards := make([]string, len(p.Members))
	for i, a := range p.Members {
		if err := s.Leave(ctx, a.UserID, protocol.ReasonLeft); err != nil && !errors.Is(err, lobby.ErrNotInLobby) {
			return protocol.LobbyView{}, err
		}
		shards[i] = s.shard
		if s.opts.ShardOf != nil {
			if shards[i], err = s.opts.ShardOf(ctx, a.UserID); err != nil {
				return protocol.LobbyView{}, err
			}
		}
	}
	d := lobby.NewMatchDoc(lobby.NewID(), s.nowMS(), p, shards)
	if err := s.newLobbyIdentity(ctx, d); err != nil {
		return protocol.LobbyView{}, err
	}
	v := d.View(true)
	// Not publish: an error must mean "no match lobby" (the matcher puts
	// the tickets back), or wrap matchmaking.ErrMatchUnknown. A commit
	// whose reply was lost is settled (settleCreate); a lobby committed is
	// a match made, whatever its filing in the index does.
	if err := s.commitNew(ctx, d); err != nil {
		return protocol.LobbyView{}, err
	}
	if err := s.rdb.ZAdd(ctx, s.ks.lobbiesCreated(), redis.Z{Score: float64(d.Seq), Member: d.ID}).Err(); err != nil {
		// The lobby is private (never listed); the index is for the
		// admin's listing of lobbies, which misses it.
		s.opts.Logger.Warn("cluster: filing a match lobby in the creation index", "lobby", d.ID, "err", err)
	}
	return v, nil
}

// Get implements lobby.Store.
func (s *LobbyStore) Get(ctx context.Context, lobbyID string) (protocol.LobbyView, error) {
	l, err := s.read(ctx, lobbyID, "")
	if err != nil {
		return protocol.LobbyView{}, err
	}
	if l.doc == nil || !l.doc.Public() {
		return protocol.LobbyView{}, lobby.ErrNotFound
	}
	return l.doc.View(false), nil
}

// LobbyOf implements lobby.Store. For a user whose lobby this shard
// follows it is this shard's copy, versioned like the events delivered
// here (the welcome snapshot must fit the stream, docs/architecture.md);
// otherwise it is read from Redis, with the version of the document's last
// event.
func (s *LobbyStore) LobbyOf(ctx context.Context, userID string) (protocol.LobbyView, bool, error) {
	if v, ok := s.f.localView(userID); ok {
		return v, true, nil
	}
	d, err := s.memberOf(ctx, userID)
	if err != nil || d == nil {
		return protocol.LobbyView{}, false, err
	}
	return d.View(true), true, nil
}
