package gateway

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/lobbyd/lobbyd/cluster"
	"github.com/lobbyd/lobbyd/internal/redistest"
	"github.com/lobbyd/lobbyd/protocol"
)

// BenchmarkListLobbiesHTTPCluster is BenchmarkListLobbiesHTTP on a shard of
// a cluster: 10,000 public lobbies written by two shards into the listing,
// served by this shard's replica (cluster.ListedStore) through the Fiber
// handler. The target: at least half of the single shard's req/s.
func BenchmarkListLobbiesHTTPCluster(b *testing.B) {
	rdb, prefix := redistest.Client(b)
	ks := cluster.NewKeyspace(prefix)
	ctx := context.Background()
	var shards [2]*cluster.Listing
	for i := range shards {
		l, err := cluster.NewListing(rdb, ks, cluster.ListingOptions{Block: 100 * time.Millisecond})
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Start(ctx); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { l.Close() })
		shards[i] = l
	}
	store, err := cluster.NewLobbyStore(ctx, rdb, ks, "a", nil, cluster.LobbyOptions{OnPublicChange: shards[0].OnPublicChange})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Stop() })
	// The lobbies of BenchmarkListLobbiesHTTP, written as the two shards'
	// lobby stores would (8 writers, half through each shard).
	modes, regions, maps := []string{"ctf", "tdm", "ffa"}, []string{"eu", "us", "asia"}, []string{"dust", "nuke", "inferno"}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		last uint64
	)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < 10000; i += 8 {
				v := protocol.LobbyView{ID: fmt.Sprintf("%032x", i), Name: fmt.Sprint("lobby ", i), Host: fmt.Sprint("u", i),
					Mode: modes[i%3], Region: regions[(i/3)%3], Visibility: "public", State: protocol.StateOpen, MaxPlayers: 8,
					Attrs: protocol.Attrs{"map": maps[(i/9)%3]}, CreatedAt: 1_700_000_000_000,
					Members: []protocol.Member{{UserID: fmt.Sprint("u", i), Name: fmt.Sprint("u", i), Connected: true, IsHost: true, JoinedAt: 1_700_000_000_000}}}
				n, err := shards[i%2].Write(ctx, v.ID, 1, uint64(i+1), &v)
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				last = max(last, n)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	actx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := shards[0].Await(actx, last); err != nil || shards[0].Len() != 10000 {
		b.Fatalf("replica at %d of %d, %d lobbies: %v", shards[0].Position(), last, shards[0].Len(), err)
	}
	for _, q := range []string{"/v1/lobbies", "/v1/lobbies?mode=ctf&region=eu", "/v1/lobbies?attr.map=dust&has_space=true"} {
		b.Run(q, func(b *testing.B) {
			g, _ := testGateway(b, 16, 1<<16)
			g.lobbies = cluster.ListedStore{LobbyStore: store, Listing: shards[0]}
			g.app = g.newApp()
			h := g.app.Handler()
			var rc fasthttp.RequestCtx
			b.ReportAllocs()
			for b.Loop() {
				rc.Request.Reset()
				rc.Response.Reset()
				rc.Request.SetRequestURI(q)
				rc.Request.Header.SetMethod("GET")
				h(&rc)
				if rc.Response.StatusCode() != 200 {
					b.Fatalf("%d %s", rc.Response.StatusCode(), rc.Response.Body())
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}
