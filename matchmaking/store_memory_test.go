package matchmaking_test

import (
	"testing"

	mm "github.com/lobbyd/lobbyd/matchmaking"
	"github.com/lobbyd/lobbyd/matchmaking/matchtest"
)

func TestMemoryStoreConformance(t *testing.T) {
	matchtest.RunTicketStore(t, func(t *testing.T) mm.TicketStore { return mm.NewMemoryStore() })
}
