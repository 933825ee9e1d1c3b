package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// A path that exists answers a method it does not have with 405 and the
// methods it has (RFC 9110 §15.5.6), not 404.
func TestWrongMethodIs405WithAllow(t *testing.T) {
	s := startServer(t, nil)
	for _, tc := range []struct{ method, path, allow string }{
		{"POST", "/v1/lobbies", "GET, HEAD"},
		{"PUT", "/v1/lobbies/0123456789abcdef0123456789abcdef", "GET, HEAD"},
		{"GET", "/v1/auth/guest", "POST"},
		{"GET", "/v1/tickets/t1", "DELETE"},
		{"GET", "/admin/drain", "POST"},
		{"DELETE", "/healthz", "GET, HEAD"},
	} {
		var body struct{ Error struct{ Code string } }
		st, h := s.httpDo(tc.method, tc.path, "", nil, &body)
		if st != http.StatusMethodNotAllowed || body.Error.Code != "bad_request" {
			t.Errorf("%s %s: %d %q, want 405 bad_request", tc.method, tc.path, st, body.Error.Code)
		}
		if got := strings.Join(h.Values("Allow"), ", "); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
	}
	var body struct{ Error struct{ Code string } }
	if st, h := s.httpDo("GET", "/v1/nothing-here", "", nil, &body); st != 404 || body.Error.Code != "not_found" || h.Get("Allow") != "" {
		t.Errorf("unknown path: %d %q Allow %q", st, body.Error.Code, h.Get("Allow"))
	}
}

// Every 401 names the scheme it wants (RFC 9110 §11.6.1, RFC 6750 §3).
func TestUnauthorizedCarriesWWWAuthenticate(t *testing.T) {
	s := startServer(t, nil)
	for _, tc := range []struct{ method, path, bearer string }{
		{"GET", "/ws", ""},
		{"GET", "/ws?token=not-a-jwt", ""},
		{"POST", "/v1/queues/duel/tickets", ""},
		{"DELETE", "/v1/tickets/t1", "bad"},
		{"GET", "/metrics", ""},
		{"GET", "/admin/shards", "wrong-operator-token"},
		{"POST", "/admin/drain", ""},
	} {
		st, h := s.httpDo(tc.method, tc.path, tc.bearer, nil, nil)
		if st != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s %s: %d WWW-Authenticate %q", tc.method, tc.path, st, h.Get("WWW-Authenticate"))
		}
	}
}

// A CORS preflight lists only the methods the API has, and may be cached.
func TestCORSPreflightListsRealMethods(t *testing.T) {
	s := startServer(t, nil)
	req, _ := http.NewRequest("OPTIONS", "http://"+s.addr+"/v1/queues/duel/tickets", nil)
	req.Header.Set("Origin", "https://game.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Access-Control-Allow-Methods"); got != "GET,HEAD,POST,DELETE" {
		t.Errorf("Access-Control-Allow-Methods %q", got)
	}
	if got := resp.Header.Get("Access-Control-Max-Age"); got != "3600" {
		t.Errorf("Access-Control-Max-Age %q", got)
	}
}

// /healthz says which build runs.
func TestHealthzHasVersion(t *testing.T) {
	s := startServer(t, nil)
	var h struct {
		OK      bool
		Version string
		Go      string
	}
	if st, _ := s.httpDo("GET", "/healthz", "", nil, &h); st != 200 || !h.OK || h.Version == "" || h.Go == "" {
		t.Fatalf("healthz %d %+v", st, h)
	}
}
