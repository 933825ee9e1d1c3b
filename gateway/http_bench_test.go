package gateway

import (
	"context"
	"fmt"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

// BenchmarkListLobbiesHTTP serves GET /v1/lobbies from a store of 10,000
// public lobbies through the Fiber handler (no network): routing, the
// indexed listing and JSON encoding of a page of 20.
func BenchmarkListLobbiesHTTP(b *testing.B) {
	for _, q := range []string{"/v1/lobbies", "/v1/lobbies?mode=ctf&region=eu", "/v1/lobbies?attr.map=dust&has_space=true"} {
		b.Run(q, func(b *testing.B) {
			g, store := testGateway(b, 16, 1<<16)
			g.app = g.newApp()
			ctx := context.Background()
			modes, regions, maps := []string{"ctf", "tdm", "ffa"}, []string{"eu", "us", "asia"}, []string{"dust", "nuke", "inferno"}
			for i := 0; i < 10000; i++ {
				_, err := store.Create(ctx, lobby.Actor{UserID: fmt.Sprint("u", i)}, protocol.CreateLobby{
					Name: fmt.Sprint("lobby ", i), MaxPlayers: 8, Visibility: "public",
					Mode: modes[i%3], Region: regions[(i/3)%3], Attrs: protocol.Attrs{"map": maps[(i/9)%3]},
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			h := g.app.Handler()
			var rc fasthttp.RequestCtx
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
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
