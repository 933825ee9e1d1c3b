package lobby_test

import (
	"testing"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/lobby/lobbytest"
)

func TestMemoryStoreConformance(t *testing.T) {
	lobbytest.Run(t, func(t *testing.T, sink lobby.Sink) lobby.Store {
		return lobby.NewMemoryStore(sink, lobby.MemoryOptions{})
	})
}
