package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

// FuzzListLobbiesQuery sends GET /v1/lobbies with any query string (and
// cursor) through the Fiber handler. Whatever the bytes, the answer is 200
// with a well-formed page (at most limit lobbies, every one public, a
// next_cursor that is null or decodes) or 400 bad_request: never a panic,
// never a 500.
func FuzzListLobbiesQuery(f *testing.F) {
	for _, q := range []string{
		"", "limit=1", "limit=100", "limit=0", "limit=101", "limit=-1", "limit=1e2", "limit=99999999999999999999",
		"mode=ctf&region=eu", "state=open", "state=in_game", "state=lost", "has_space=true", "has_space=1",
		"attr.map=dust", "attr.=x", "attr.rank=3", "attr.ratio=1.5", "attr.map=dust&attr.map=nuke",
		"cursor=" + lobby.EncodeCursor(5), "cursor=AAAAAAAAAAA", "cursor=__________8", "cursor=%00", "cursor=" + lobby.EncodeCursor(1<<63),
		"mode=%ff%fe", "region=" + strings.Repeat("r", 70), "limit=2&cursor=" + lobby.EncodeCursor(30) + "&mode=ctf",
		"%zz", "a=b=c&&&", "attr.%ff=1",
	} {
		f.Add(q)
	}
	g, store := testGateway(f, 16, 1<<16)
	g.app = g.newApp()
	ctx := context.Background()
	for i := range 40 {
		vis := protocol.VisibilityPublic
		if i%7 == 0 {
			vis = protocol.VisibilityPrivate
		}
		_, err := store.Create(ctx, lobby.Actor{UserID: fmt.Sprint("u", i)}, protocol.CreateLobby{
			Name: fmt.Sprint("lobby ", i), MaxPlayers: 2 + i%3, Visibility: vis,
			Mode: []string{"ctf", "tdm"}[i%2], Region: []string{"eu", "us", "asia"}[i%3],
			Attrs: protocol.Attrs{"map": []string{"dust", "nuke"}[i%2], "rank": int64(i % 5), "ratio": 1.5},
		})
		if err != nil {
			f.Fatal(err)
		}
	}
	h := g.app.Handler()
	var rc fasthttp.RequestCtx

	f.Fuzz(func(t *testing.T, q string) {
		// Only what can arrive in a request line: no controls, spaces or
		// fragment (anything else is escaped by clients, %00 included).
		for i := 0; i < len(q); i++ {
			if c := q[i]; c <= ' ' || c == 0x7f || c == '#' {
				return
			}
		}
		rc.Request.Reset()
		rc.Response.Reset()
		rc.Request.Header.SetMethod("GET")
		rc.Request.SetRequestURI("/v1/lobbies?" + q)
		h(&rc)
		body := rc.Response.Body()
		switch st := rc.Response.StatusCode(); st {
		case 200:
			var page struct {
				Lobbies    []protocol.LobbyView `json:"lobbies"`
				NextCursor *string              `json:"next_cursor"`
			}
			if err := json.Unmarshal(body, &page); err != nil {
				t.Fatalf("%q: 200 with a body that is not a page: %v: %s", q, err, body)
			}
			if len(page.Lobbies) > lobby.MaxListLimit {
				t.Fatalf("%q: %d lobbies", q, len(page.Lobbies))
			}
			for _, l := range page.Lobbies {
				if l.Visibility != protocol.VisibilityPublic || l.Code != "" {
					t.Fatalf("%q: listed %+v", q, l)
				}
			}
			if page.NextCursor != nil {
				if _, err := lobby.DecodeCursor(*page.NextCursor); err != nil {
					t.Fatalf("%q: next_cursor %q does not decode", q, *page.NextCursor)
				}
			}
		case 400:
			var e struct {
				Error struct{ Code string } `json:"error"`
			}
			if json.Unmarshal(body, &e) != nil || e.Error.Code != string(protocol.CodeBadRequest) {
				t.Fatalf("%q: 400 with body %s", q, body)
			}
		default:
			t.Fatalf("%q: HTTP %d %s", q, st, body)
		}
	})
}
