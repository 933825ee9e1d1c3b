package e2e

import (
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/lobbyd/lobbyd/config"
)

// Hostile players: regressions of issue 10 (transport and memory half).
// Each test here failed on the code the attack run found.

// rawWS upgrades without reading anything afterwards: a client that
// ignores every frame, close frames included. It returns the HTTP status.
func (s *server) rawWS(t *testing.T, userID string) (*websocket.Conn, int) {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(s.wsURL("token="+url.QueryEscape(s.token(userID, "", time.Hour))), nil)
	if err != nil {
		if resp == nil {
			t.Fatalf("dial %s: %v", userID, err)
		}
		return nil, resp.StatusCode
	}
	t.Cleanup(func() { ws.Close() })
	return ws, 101
}

// The connection limit used to be a check of the count, which a
// connection joined only once it reached its loop: 200 simultaneous
// handshakes against max_connections 50 made 78 upgrades. A slot is now
// taken atomically before the upgrade.
func TestConnectionLimitIsExactUnderAStorm(t *testing.T) {
	const limit, storm = 50, 200
	s := startServer(t, func(c *config.Config) { c.MaxConnections = limit })
	tokens := make([]string, storm)
	for i := range tokens {
		tokens[i] = url.QueryEscape(s.token(fmt.Sprintf("storm-%d", i), "", time.Hour))
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		status = map[int]int{}
	)
	start := make(chan struct{})
	for i := range storm {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ws, resp, err := websocket.DefaultDialer.Dial(s.wsURL("token="+tokens[i]), nil)
			code := 101
			if err != nil {
				code = -1
				if resp != nil {
					code = resp.StatusCode
				}
			} else {
				t.Cleanup(func() { ws.Close() }) // held open until the test ends
			}
			mu.Lock()
			status[code]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	if status[101] != limit || status[503] != storm-limit {
		t.Fatalf("%d handshakes against max_connections %d: %v (status: count)", storm, limit, status)
	}
}

// A connection replaced by a newer login (4009) whose client ignores the
// close used to count toward max_connections until CloseTimeout (5 s):
// one token re-handshaking in a loop held every slot, and other players
// got 503. A closing connection gives its slot back at once.
func TestReplacedConnectionsDoNotLockPlayersOut(t *testing.T) {
	const limit = 5
	s := startServer(t, func(c *config.Config) {
		c.MaxConnections = limit
		// The looper re-handshakes faster than handshake_limit.per_user
		// allows; this test is about the slots, not that limit.
		c.HandshakeLimit.PerUser.PerSecond = 0
	})
	for i := range 4 * limit {
		if _, st := s.rawWS(t, "looper"); st != 101 {
			t.Fatalf("looper's handshake %d: HTTP %d", i+1, st)
		}
	}
	for i := range limit - 1 {
		if _, st := s.rawWS(t, fmt.Sprintf("player-%d", i)); st != 101 {
			t.Fatalf("player %d after the looper: HTTP %d", i, st)
		}
	}
	// Now every slot is taken by a live connection: the limit still holds.
	if _, st := s.rawWS(t, "one-too-many"); st != 503 {
		t.Fatalf("over the limit: HTTP %d, want 503", st)
	}
}
