package gateway

import (
	"sync"
	"time"
)

// placer keeps the members of a lobby on one netcode loop, the lobby's
// home. A member's lobby.send is read by its loop, which delivers to the
// other members there and writes to them at the end of the same turn;
// with the members spread over the loops, a delivery to another loop had
// to wake that loop (docs/architecture.md, "A lobby's members share a
// loop"). A lobby gets its home the first time it is asked for: the loop
// that is home to the fewest lobbies. A member's connection is moved there
// on its create or join, on resume, and whenever an event of the lobby is
// delivered to it (each event carries its lobby's home: eventBuf.home), so
// members of match lobbies and players who joined elsewhere follow too.
// Connections of players in no lobby stay where netcode put them.
//
// It keeps nothing per player (a Session and an eventBuf stay in their size
// classes): a home is forgotten when its lobby has had no event since the
// last sweep (sweeps are homeSweep apart, so after one to two of them),
// and given again, perhaps elsewhere, on its next one. A home's members
// stay where they are meanwhile: their next event moves them if need be.
type placer struct {
	mu sync.Mutex
	// Guarded by mu.
	homes   map[string]*home // by lobby id
	lobbies []int            // homes on each loop
	calls   uint32           // homeOf calls since the last look at the clock
	epoch   uint32           // sweeps so far
	swept   time.Time
}

// home is one lobby's loop and the sweep epoch it was last asked for in.
type home struct {
	loop int
	used uint32
}

// homeSweep is how long a home outlives its lobby's last event.
const homeSweep = time.Minute

// newPlacer returns a placer over loops loops; nil (no placing) for one.
func newPlacer(loops int) *placer {
	if loops < 2 {
		return nil
	}
	return &placer{homes: make(map[string]*home), lobbies: make([]int, loops), swept: time.Now()}
}

// homeOf returns the loop of lobbyID, giving the lobby one if it has none.
func (p *placer) homeOf(lobbyID string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.calls++; p.calls&1023 == 0 && time.Since(p.swept) > homeSweep {
		p.sweepLocked()
	}
	hm := p.homes[lobbyID]
	if hm == nil {
		least := 0
		for k, n := range p.lobbies {
			if n < p.lobbies[least] {
				least = k
			}
		}
		hm = &home{loop: least}
		p.homes[lobbyID] = hm
		p.lobbies[least]++
	}
	hm.used = p.epoch
	return hm.loop
}

// sweepLocked forgets the homes not asked for since the last sweep.
func (p *placer) sweepLocked() {
	for id, hm := range p.homes {
		if hm.used != p.epoch {
			delete(p.homes, id)
			p.lobbies[hm.loop]--
		}
	}
	p.epoch++
	p.swept = time.Now()
}

// mover is what placing needs of a connection; *netcode.Conn has it.
type mover interface{ MoveTo(loop int) }

// moveTo asks for conn (nil while disconnected, or a test's fake) to be
// served by loop k. MoveTo returns at once when it is there already.
func moveTo(conn writer, k int) {
	if m, ok := conn.(mover); ok {
		m.MoveTo(k)
	}
}

// moveToLobbyLocked moves s's connection to lobbyID's loop ("": nothing).
// Caller holds s.mu.
func (h *hub) moveToLobbyLocked(s *Session, lobbyID string) {
	if h.place != nil && lobbyID != "" {
		moveTo(s.conn, h.place.homeOf(lobbyID))
	}
}

// placeIn moves s's connection to lobbyID's loop after its create or join.
func (h *hub) placeIn(s *Session, lobbyID string) {
	if h.place == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h.moveToLobbyLocked(s, lobbyID)
}
