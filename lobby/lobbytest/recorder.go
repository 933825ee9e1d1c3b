package lobbytest

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

// Rec is a recorded event: a deep copy of a lobby.Event, safe to keep, plus
// the per-lobby position the Recorder gave it.
type Rec struct {
	lobby.Event
	N int // 0, 1, 2, ... per lobby, in delivery order
}

// Recorder is a lobby.Sink that keeps copies of every event and checks the
// Sink contract on the way: no two deliveries for one lobby overlap, every
// event has recipients, none twice, and each lobby's events have
// increasing versions.
type Recorder struct {
	inflight sync.Map // lobby id → *atomic.Int32

	mu       sync.Mutex
	events   []Rec
	perLobby map[string]int
	version  map[string]uint64 // lobby id → Version of its last event
	problems []string
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder {
	return &Recorder{perLobby: make(map[string]int), version: make(map[string]uint64)}
}

// Deliver implements lobby.Sink.
func (r *Recorder) Deliver(ev *lobby.Event) {
	c, _ := r.inflight.LoadOrStore(ev.LobbyID, new(atomic.Int32))
	n := c.(*atomic.Int32)
	overlap := n.Add(1) != 1
	defer n.Add(-1)

	cp := *ev
	cp.To = slices.Clone(ev.To)
	cp.Data = slices.Clone(ev.Data)
	if ev.Member != nil {
		m := *ev.Member
		cp.Member = &m
	}
	if ev.Lobby != nil {
		v := *ev.Lobby
		v.Members = slices.Clone(v.Members)
		cp.Lobby = &v
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if overlap {
		r.problems = append(r.problems, "overlapping deliveries for lobby "+ev.LobbyID)
	}
	if len(ev.To) == 0 {
		r.problems = append(r.problems, ev.Name+" without recipients")
	}
	sorted := slices.Clone(ev.To)
	slices.Sort(sorted)
	if len(slices.Compact(sorted)) != len(ev.To) {
		r.problems = append(r.problems, ev.Name+" with a recipient twice")
	}
	if ev.Version <= r.version[ev.LobbyID] {
		r.problems = append(r.problems, fmt.Sprintf("%s of lobby %s has version %d after %d", ev.Name, ev.LobbyID, ev.Version, r.version[ev.LobbyID]))
	}
	r.version[ev.LobbyID] = ev.Version
	r.events = append(r.events, Rec{Event: cp, N: r.perLobby[ev.LobbyID]})
	r.perLobby[ev.LobbyID]++
}

// Take returns the events recorded since the last Take, and forgets them.
func (r *Recorder) Take() []Rec {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

// All returns every event recorded since the last Take, keeping them.
func (r *Recorder) All() []Rec {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// Problems lists the contract violations seen so far.
func (r *Recorder) Problems() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.problems)
}

// memberOf is a test helper: the member entry of user in v.
func memberOf(v protocol.LobbyView, user string) (protocol.Member, bool) {
	for _, m := range v.Members {
		if m.UserID == user {
			return m, true
		}
	}
	return protocol.Member{}, false
}
