package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/internal/redistest"
	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

// benchLobbies is the gateway's BenchmarkListLobbiesHTTP population:
// 10,000 public lobbies in 3 modes, 3 regions and 3 maps.
const benchLobbies = 10_000

func benchCreate(i int) protocol.CreateLobby {
	modes, regions, maps := []string{"ctf", "tdm", "ffa"}, []string{"eu", "us", "asia"}, []string{"dust", "nuke", "inferno"}
	return protocol.CreateLobby{
		Name: fmt.Sprint("lobby ", i), MaxPlayers: 8, Visibility: protocol.VisibilityPublic,
		Mode: modes[i%3], Region: regions[(i/3)%3], Attrs: protocol.Attrs{"map": maps[(i/9)%3]},
	}
}

// fillListing writes benchLobbies lobbies, half through each of two
// shards' Listings, as the lobby store's hook would, and returns the
// last log position.
func fillListing(b *testing.B, rdb redis.UniversalClient, ks Keyspace, shards ...*Listing) uint64 {
	b.Helper()
	ctx := context.Background()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		last uint64
		ferr error
	)
	const workers = 8
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < benchLobbies; i += workers {
				p := benchCreate(i)
				v := protocol.LobbyView{ID: fmt.Sprintf("%032x", i), Name: p.Name, Host: fmt.Sprint("u", i),
					Mode: p.Mode, Region: p.Region, Visibility: p.Visibility, State: protocol.StateOpen,
					MaxPlayers: p.MaxPlayers, Attrs: p.Attrs, CreatedAt: 1_700_000_000_000 + int64(i),
					Members: []protocol.Member{{UserID: fmt.Sprint("u", i), Connected: true, IsHost: true, JoinedAt: 1_700_000_000_000 + int64(i)}}}
				n, err := shards[i%len(shards)].Write(ctx, v.ID, 1, uint64(i+1), &v)
				mu.Lock()
				last = max(last, n)
				if err != nil && ferr == nil {
					ferr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ferr != nil {
		b.Fatal(ferr)
	}
	return last
}

var benchQueries = []struct {
	name string
	q    lobby.ListQuery
}{
	{"all", lobby.ListQuery{Limit: 20}},
	{"mode+region", lobby.ListQuery{Limit: 20, Mode: "ctf", Region: "eu"}},
	{"attr+has_space", lobby.ListQuery{Limit: 20, Attrs: map[string]string{"map": "dust"}, HasSpace: true}},
}

// BenchmarkReplicaListJSON is a page of 20 of GET /v1/lobbies from a
// shard's replica holding 10,000 lobbies written by two shards, next to
// the same page from a single shard's MemoryStore (today's figure): the
// replica must not be slower than half of it. "replica" pages come from
// its view cache after the first; "uncached" is a replica without one,
// whose every page reads its 20 views with one HMGET.
func BenchmarkReplicaListJSON(b *testing.B) {
	rdb, prefix := redistest.Client(b)
	ks := NewKeyspace(prefix)
	a := startListing(b, rdb, ks, ListingOptions{})
	other := startListing(b, rdb, ks, ListingOptions{})
	uncached := startListing(b, rdb, ks, ListingOptions{ViewCacheBytes: -1})
	last := fillListing(b, rdb, ks, a, other)
	await(b, last, time.Minute, a, other, uncached)
	if a.Len() != benchLobbies {
		b.Fatalf("replica holds %d lobbies", a.Len())
	}
	ctx := context.Background()
	mem := lobby.NewMemoryStore(nil, lobby.MemoryOptions{})
	for i := range benchLobbies {
		if _, err := mem.Create(ctx, lobby.Actor{UserID: fmt.Sprint("u", i)}, benchCreate(i)); err != nil {
			b.Fatal(err)
		}
	}
	for _, store := range []struct {
		name string
		jl   lobby.JSONLister
	}{{"replica", a}, {"uncached", uncached}, {"memory", mem}} {
		for _, c := range benchQueries {
			b.Run(store.name+"/"+c.name, func(b *testing.B) {
				buf := make([]byte, 0, 16<<10)
				b.ReportAllocs()
				for b.Loop() {
					out, err := store.jl.AppendListJSON(ctx, buf[:0], c.q)
					if err != nil || len(out) < 100 {
						b.Fatal(err, string(out))
					}
					buf = out
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
			})
		}
	}
}

// BenchmarkReplicaCatchUp is how fast a replica applies the log (entries
// per second, from Redis into its index) and loads the hash (lobbies per
// second, a rebuild), with 10,000 lobbies.
func BenchmarkReplicaCatchUp(b *testing.B) {
	rdb, prefix := redistest.Client(b)
	ks := NewKeyspace(prefix)
	w, err := NewListing(rdb, ks, ListingOptions{})
	if err != nil {
		b.Fatal(err)
	}
	last := fillListing(b, rdb, ks, w)
	ctx := context.Background()
	b.Run("log", func(b *testing.B) {
		r, _ := NewListing(rdb, ks, ListingOptions{Logger: slog.New(slog.DiscardHandler)})
		for b.Loop() {
			idx, gen, pos := lobby.NewIndex(), "", uint64(0)
			for pos < last {
				if _, err := r.read(ctx, idx, &gen, &pos, -1); err != nil {
					b.Fatal(err)
				}
			}
			if idx.Len() != benchLobbies {
				b.Fatalf("%d lobbies", idx.Len())
			}
		}
		b.ReportMetric(float64(uint64(b.N)*last)/b.Elapsed().Seconds(), "entries/s")
	})
	b.Run("hash", func(b *testing.B) {
		r, _ := NewListing(rdb, ks, ListingOptions{Logger: slog.New(slog.DiscardHandler)})
		for b.Loop() {
			if err := r.rebuild(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*benchLobbies)/b.Elapsed().Seconds(), "lobbies/s")
	})
}

// BenchmarkListingPropagation is the time from a Write on one shard until
// another shard's replica has applied it: the listing's staleness.
func BenchmarkListingPropagation(b *testing.B) {
	rdb, prefix := redistest.Client(b)
	ks := NewKeyspace(prefix)
	a := startListing(b, rdb, ks, ListingOptions{})
	other := startListing(b, rdb, ks, ListingOptions{})
	ctx := context.Background()
	v := protocol.LobbyView{ID: "p", Name: "p", Visibility: protocol.VisibilityPublic, State: protocol.StateOpen, MaxPlayers: 8}
	var version uint64
	for b.Loop() {
		version++
		n, err := a.Write(ctx, v.ID, version, 1, &v)
		if err != nil {
			b.Fatal(err)
		}
		if err := other.Await(ctx, n); err != nil {
			b.Fatal(err)
		}
	}
}
