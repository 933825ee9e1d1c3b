package e2e

import (
	"fmt"
	"sync"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/lobbyd/lobbyd/config"
)

// Members of one lobby, sending at once from different connections (and so
// from different epoll loops), must all see the lobby's events in one order,
// each with gap-free seqs (docs/protocol.md §2).
func TestConcurrentSendersOneOrder(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.RateLimit.PerSecond = 10000; c.RateLimit.Burst = 10000 })
	const members, perMember = 6, 40
	var cs []*client
	var id any
	for i := 0; i < members; i++ {
		c := s.dial(fmt.Sprint("o", i))
		cs = append(cs, c)
		if i == 0 {
			id = lobbyOf(c.ok("lobby.create", map[string]any{"name": "order", "max_players": members, "visibility": "public"}))["id"]
		} else {
			c.ok("lobby.join", map[string]any{"lobby_id": id})
		}
	}
	for _, c := range cs {
		c.drainEvents()
	}
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < perMember; k++ {
				b, _ := msgpack.Marshal(map[string]any{"op": "lobby.chat", "d": map[string]any{"text": fmt.Sprintf("%d-%d", i, k)}})
				if err := c.ws.WriteMessage(2, b); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	var order []string
	for i, c := range cs {
		var got []string
		var last uint64
		for len(got) < members*perMember {
			ev := c.nextEvent("lobby.chat")
			if seq := toUint(ev["seq"]); last != 0 && seq != last+1 {
				t.Fatalf("%s: seq %d after %d", c.user, seq, last)
			} else {
				last = seq
			}
			got = append(got, str(ev.d()["text"]))
		}
		if i == 0 {
			order = got
			continue
		}
		for k := range got {
			if got[k] != order[k] {
				t.Fatalf("%s saw %q at %d, %s saw %q", c.user, got[k], k, cs[0].user, order[k])
			}
		}
	}
}
