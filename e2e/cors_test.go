package e2e

import (
	"net/http"
	"testing"

	"github.com/lobbyd/lobbyd/config"
)

// CORS on /v1/* follows allowed_origins (docs/protocol.md §4).
func TestCORSFollowsAllowedOrigins(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.AllowedOrigins = []string{"https://game.example"} })
	for origin, allowed := range map[string]bool{"https://game.example": true, "https://evil.example": false} {
		req, _ := http.NewRequest("OPTIONS", "http://"+s.addr+"/v1/lobbies", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "GET")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := resp.Header.Get("Access-Control-Allow-Origin")
		if allowed && got != origin || !allowed && got != "" {
			t.Fatalf("origin %s: Access-Control-Allow-Origin %q", origin, got)
		}
	}
	// With no allowed_origins, any Origin may read the API.
	open := startServer(t, nil)
	req, _ := http.NewRequest("GET", "http://"+open.addr+"/v1/lobbies", nil)
	req.Header.Set("Origin", "https://anywhere.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got == "" {
		t.Fatal("no Access-Control-Allow-Origin with an empty allow list")
	}
}
