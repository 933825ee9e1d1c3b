package cluster

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/internal/redistest"
	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/lobby/lobbytest"
	"github.com/lobbyd/lobbyd/protocol"
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

// Two shards, each a LobbyStore with its own Listing wired as app wires
// them (ListedStore): lobbies made, joined, changed and closed on either
// shard are listed on both exactly as the store's own Redis walk lists
// them, within the bound.
func TestListedStoreTwoShards(t *testing.T) {
	forEachRedis(t, func(t *testing.T, rdb redis.UniversalClient, ks Keyspace) {
		prefix := ks.Prefix
		ctx := context.Background()
		shard := func(id string) ListedStore {
			l := startListing(t, rdb, ks, ListingOptions{})
			s := newTestStore(t, rdb, prefix, id, nil, LobbyOptions{OnPublicChange: l.OnPublicChange})
			return ListedStore{s, l}
		}
		a, b := shard("a"), shard("b")
		shards := []ListedStore{a, b}
		var ids []string
		for i := range 12 {
			vis := protocol.VisibilityPublic
			if i%5 == 4 {
				vis = protocol.VisibilityPrivate
			}
			v, err := shards[i%2].Create(ctx, lobby.Actor{UserID: fmt.Sprint("host", i)}, protocol.CreateLobby{
				Name: fmt.Sprint("L", i), MaxPlayers: 2 + i%2, Visibility: vis,
				Mode: []string{"ctf", "dm"}[i%2], Attrs: protocol.Attrs{"map": fmt.Sprint("m", i%3)},
			})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, v.ID)
		}
		for _, i := range []int{1, 5, 8, 10} { // joined from the other shard: some full now
			if _, err := shards[(i+1)%2].Join(ctx, lobby.Actor{UserID: fmt.Sprint("guest", i)}, protocol.JoinLobby{LobbyID: ids[i]}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := a.Start(ctx, "host2"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Update(ctx, "host3", protocol.UpdateLobby{Visibility: ptr(protocol.VisibilityPrivate)}); err != nil {
			t.Fatal(err)
		}
		if err := a.Close(ctx, ids[7]); err != nil {
			t.Fatal(err)
		}
		queries := []lobby.ListQuery{{}, {Limit: 3}, {Mode: "ctf"}, {HasSpace: true}, {State: protocol.StateInGame},
			{Attrs: map[string]string{"map": "m1"}}}
		var want, got []string
		waitFor(t, 5*time.Second, "both replicas list what the store lists", func() bool {
			want, got = want[:0], got[:0]
			for _, q := range queries {
				for _, s := range shards {
					w, err := s.LobbyStore.List(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					want = append(want, mustJSON(t, w))
					g, err := s.List(ctx, q)
					if err != nil {
						return false // not loaded yet
					}
					got = append(got, mustJSON(t, g))
				}
			}
			return slices.Equal(got, want)
		})
		page, err := b.List(ctx, lobby.ListQuery{Limit: 100})
		if err != nil || len(page.Lobbies) != 8 { // 12 - 2 private - 1 made private - 1 closed
			t.Fatalf("b lists %d lobbies, %v", len(page.Lobbies), err)
		}
	})
}

func ptr[T any](v T) *T { return &v }
