package cluster

import (
	"context"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

// The store's own listing: it walks every live lobby, newest first, from
// the creation index ({idx}:created) and reads each document. It is
// correct (the same filters, order and cursors as the memory store, via
// lobby.Doc.Matches) but costs Redis reads per request; the listing
// replica (docs/cluster.md, "Listing") answers GET /v1/lobbies on every
// shard instead, from an index in memory and at most one read of views.

// listBatch is how many lobbies one round trip reads; listScan bounds the
// lobbies one request walks (a page cut short there still has a cursor).
const (
	listBatch = 100
	listScan  = 5000
)

// List implements lobby.Store.
func (s *LobbyStore) List(ctx context.Context, q lobby.ListQuery) (lobby.ListPage, error) {
	q, before, err := lobby.CheckListQuery(q)
	if err != nil {
		return lobby.ListPage{}, err
	}
	page := lobby.ListPage{Lobbies: []protocol.LobbyView{}}
	max := "(" + strconv.FormatUint(before, 10)
	var last uint64 // sequence of the last lobby on the page
	for scanned := 0; scanned < listScan; {
		zs, err := s.rdb.ZRevRangeByScoreWithScores(ctx, s.ks.lobbiesCreated(), &redis.ZRangeBy{
			Max: max, Min: "-inf", Count: listBatch,
		}).Result()
		if err != nil {
			return lobby.ListPage{}, redisFailure("list", err)
		}
		if len(zs) == 0 {
			return page, nil
		}
		docs, err := s.readDocs(ctx, zs)
		if err != nil {
			return lobby.ListPage{}, err
		}
		for i, d := range docs {
			seq := uint64(zs[i].Score)
			scanned++
			if d != nil && d.Matches(&q) {
				if len(page.Lobbies) == q.Limit {
					page.NextCursor = lobby.EncodeCursor(last)
					return page, nil
				}
				page.Lobbies = append(page.Lobbies, d.View(false))
				last = seq
			}
			max = "(" + strconv.FormatUint(seq, 10)
		}
	}
	// Walked as far as one request may: the next page goes on from here.
	page.NextCursor = lobby.EncodeCursor(parseScore(max))
	return page, nil
}

func parseScore(max string) uint64 {
	n, _ := strconv.ParseUint(max[1:], 10, 64)
	return n
}

// readDocs reads the documents of a batch in one pipeline (nil: gone).
func (s *LobbyStore) readDocs(ctx context.Context, zs []redis.Z) ([]*lobby.Doc, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(zs))
	for i, z := range zs {
		cmds[i] = pipe.HGet(ctx, s.ks.lobbyDoc(z.Member.(string)), "d")
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, redisFailure("list", err)
	}
	docs := make([]*lobby.Doc, len(zs))
	for i, c := range cmds {
		b, err := c.Bytes()
		if err != nil {
			continue
		}
		if docs[i], err = lobby.DecodeDoc(b); err != nil {
			s.opts.Logger.Error("cluster: undecodable lobby document", "lobby", zs[i].Member, "err", err)
		}
	}
	return docs, nil
}
