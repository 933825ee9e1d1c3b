package cluster

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/internal/redistest"
	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/lobby/lobbytest"
)

// replicaListed is a LobbyStore whose listings come from a Listing fed by
// the store's OnPublicChange, as a shard is wired: List and AppendListJSON
// first wait until the replica has applied the store's last change, so
// the conformance suite, which lists right after each change, sees it.
type replicaListed struct {
	*LobbyStore
	listing *Listing
	last    *atomic.Uint64
}

func (r replicaListed) List(ctx context.Context, q lobby.ListQuery) (lobby.ListPage, error) {
	if err := r.listing.Await(ctx, r.last.Load()); err != nil {
		return lobby.ListPage{}, err
	}
	return r.listing.List(ctx, q)
}

func (r replicaListed) AppendListJSON(ctx context.Context, dst []byte, q lobby.ListQuery) ([]byte, error) {
	if err := r.listing.Await(ctx, r.last.Load()); err != nil {
		return dst, err
	}
	return r.listing.AppendListJSON(ctx, dst, q)
}

func newReplicaListed(t *testing.T, client redis.UniversalClient, prefix string, sink lobby.Sink) lobby.Store {
	l := startListing(t, client, NewKeyspace(prefix), ListingOptions{})
	last := new(atomic.Uint64)
	s := newTestStore(t, client, prefix, "a", sink, LobbyOptions{
		OnPublicChange: func(ctx context.Context, ch PublicChange) {
			n, err := l.Write(ctx, ch.LobbyID, ch.Version, ch.Seq, ch.View)
			if err != nil {
				t.Errorf("listing write: %v", err)
			}
			for cur := last.Load(); n > cur && !last.CompareAndSwap(cur, n); cur = last.Load() {
			}
		},
	})
	return replicaListed{s, l, last}
}

// The lobby conformance suite, unchanged, with every listing answered by
// the replica: its filters, order, cursors, paging guarantees and JSON
// pages are the MemoryStore's.
func TestListingConformance(t *testing.T) {
	lobbytest.Run(t, func(t *testing.T, sink lobby.Sink) lobby.Store {
		c, prefix := redistest.Client(t)
		return newReplicaListed(t, c, prefix, sink)
	})
}

// The same on a three-master Redis Cluster.
func TestListingConformanceCluster(t *testing.T) {
	lobbytest.Run(t, func(t *testing.T, sink lobby.Sink) lobby.Store {
		c, prefix := redistest.Cluster(t)
		return newReplicaListed(t, c, prefix, sink)
	})
}
