package lobby

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/lobbyd/lobbyd/protocol"
)

// A lobby whose view cannot be written as JSON (data the validators would
// refuse, planted here behind their back) is left out of the listing and
// logged once; the page is still answered. It used to fail the whole page.
func TestListJSONSkipsUnencodableLobby(t *testing.T) {
	var logs bytes.Buffer
	s := NewMemoryStore(nil, MemoryOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx := context.Background()
	create := func(user, name string) protocol.LobbyView {
		v, err := s.Create(ctx, Actor{UserID: user}, protocol.CreateLobby{Name: name, MaxPlayers: 4, Visibility: protocol.VisibilityPublic})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	create("a", "first")
	bad := create("b", "broken")
	create("c", "last")
	l := s.lobbies[bad.ID]
	l.mu.Lock()
	l.Data = protocol.RawMap{0x81, 0xa1, 'x', 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1} // {"x": NaN}
	l.viewJSON = nil
	l.mu.Unlock()

	for range 3 {
		b, err := s.AppendListJSON(ctx, nil, ListQuery{})
		if err != nil {
			t.Fatalf("page failed: %v", err)
		}
		var page struct {
			Lobbies []protocol.LobbyView `json:"lobbies"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatalf("page is not JSON: %v: %s", err, b)
		}
		if len(page.Lobbies) != 2 || page.Lobbies[0].Name != "last" || page.Lobbies[1].Name != "first" {
			t.Fatalf("page %+v", page.Lobbies)
		}
	}
	if n := strings.Count(logs.String(), "left out of listings"); n != 1 {
		t.Fatalf("logged %d times, want once:\n%s", n, logs.String())
	}
}
