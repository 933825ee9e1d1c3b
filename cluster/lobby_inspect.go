package cluster

import (
	"context"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/lobby"
)

// The operator's view (lobby.Inspector): every lobby of the cluster,
// private ones too, read from Redis on each request, so any shard answers
// for all of them. Each member's shard is the one the document records
// (set when the member was added, moved when the member resumed on
// another shard); the version is the document's commit version.

var _ lobby.Inspector = (*LobbyStore)(nil)

// Inspect implements lobby.Inspector: one read script.
func (s *LobbyStore) Inspect(ctx context.Context, lobbyID string) (lobby.AdminLobby, error) {
	l, err := s.read(ctx, lobbyID, "")
	if err != nil {
		return lobby.AdminLobby{}, err
	}
	if l.doc == nil {
		return lobby.AdminLobby{}, lobby.ErrNotFound
	}
	a := l.doc.Inspect()
	a.Version = l.version
	return a, nil
}

// InspectList implements lobby.Inspector: the walk of the store's own List
// (the creation index, newest first, listBatch documents per round trip,
// at most listScan per request) with the operator's filters, which take
// private lobbies too. A user filter reads that user's lobby alone.
func (s *LobbyStore) InspectList(ctx context.Context, q lobby.AdminQuery) (lobby.AdminPage, error) {
	q, before, err := lobby.CheckAdminQuery(q)
	if err != nil {
		return lobby.AdminPage{}, err
	}
	page := lobby.AdminPage{Lobbies: []lobby.AdminLobby{}}
	if q.User != "" {
		id, err := s.lobbyIDOf(ctx, q.User)
		if err != nil || id == "" {
			return page, err
		}
		l, err := s.read(ctx, id, "")
		if err != nil {
			return lobby.AdminPage{}, err
		}
		if l.doc != nil && l.doc.Seq < before && l.doc.MatchesAdmin(&q) {
			a := l.doc.Inspect()
			a.Version = l.version
			page.Lobbies = append(page.Lobbies, a)
		}
		return page, nil
	}
	max := "(" + strconv.FormatUint(before, 10)
	var last uint64
	for scanned := 0; scanned < listScan; {
		zs, err := s.rdb.ZRevRangeByScoreWithScores(ctx, s.ks.lobbiesCreated(), &redis.ZRangeBy{
			Max: max, Min: "-inf", Count: listBatch,
		}).Result()
		if err != nil {
			return lobby.AdminPage{}, redisFailure("inspect", err)
		}
		if len(zs) == 0 {
			return page, nil
		}
		docs, versions, err := s.readDocVersions(ctx, zs)
		if err != nil {
			return lobby.AdminPage{}, err
		}
		for i, d := range docs {
			seq := uint64(zs[i].Score)
			scanned++
			if d != nil && d.MatchesAdmin(&q) {
				if len(page.Lobbies) == q.Limit {
					page.NextCursor = lobby.EncodeCursor(last)
					return page, nil
				}
				a := d.Inspect()
				a.Version = versions[i]
				page.Lobbies = append(page.Lobbies, a)
				last = seq
			}
			max = "(" + strconv.FormatUint(seq, 10)
		}
	}
	page.NextCursor = lobby.EncodeCursor(parseScore(max))
	return page, nil
}

// readDocVersions reads the documents of a batch and their versions in one
// pipeline (nil: gone).
func (s *LobbyStore) readDocVersions(ctx context.Context, zs []redis.Z) ([]*lobby.Doc, []uint64, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(zs))
	for i, z := range zs {
		cmds[i] = pipe.HMGet(ctx, s.ks.lobbyDoc(z.Member.(string)), "v", "d")
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, nil, redisFailure("inspect", err)
	}
	docs := make([]*lobby.Doc, len(zs))
	versions := make([]uint64, len(zs))
	for i, c := range cmds {
		vals, err := c.Result()
		if err != nil || len(vals) != 2 {
			continue
		}
		d, ok := vals[1].(string)
		if !ok {
			continue // deleted since the index was read
		}
		if v, ok := vals[0].(string); ok {
			versions[i], _ = strconv.ParseUint(v, 10, 64)
		}
		if docs[i], err = lobby.DecodeDoc([]byte(d)); err != nil {
			s.opts.Logger.Error("cluster: undecodable lobby document", "lobby", zs[i].Member, "err", err)
		}
	}
	return docs, versions, nil
}
