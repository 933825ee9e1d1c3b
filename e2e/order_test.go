package e2e

import (
	"testing"

	"github.com/lobbyd/lobbyd/config"
)

// Members of one lobby, sending at once from different connections (and so
// from different epoll loops), must all see the lobby's events in one order,
// each with gap-free seqs (docs/protocol.md §2).
func TestConcurrentSendersOneOrder(t *testing.T) {
	chatOneOrder(t, []*server{startServer(t, func(c *config.Config) { c.RateLimit.PerSecond = 10000; c.RateLimit.Burst = 10000 })})
}
