package lobbytest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

// testConcurrency has many goroutines join, leave, send, chat and set_member
// on the same few lobbies, then checks the invariants: no lobby over its
// max, every user in at most one lobby, and each lobby's events form one
// order that agrees with its membership (replaying member_joined and
// member_left in delivery order, every chat reaches exactly the members and
// every data event only members, never the sender). The Recorder also fails
// the test if two deliveries of one lobby overlap.
func testConcurrency(h *harness) {
	const (
		nLobbies = 6
		nUsers   = 40
		maxP     = 5
		rounds   = 150
	)
	codes := make([]string, nLobbies)
	hosts := make([]string, nLobbies)
	for i := range nLobbies {
		hosts[i] = fmt.Sprintf("host%d", i)
		p := public(fmt.Sprintf("L%d", i))
		p.MaxPlayers = maxP
		codes[i] = h.create(hosts[i], p).Code
	}
	allowed := []protocol.Code{"", protocol.CodeAlreadyInLobby, protocol.CodeLobbyFull, protocol.CodeNotInLobby}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []string
	act := func(user string, seed uint64, isHost bool) {
		defer wg.Done()
		r := rand.New(rand.NewPCG(seed, 7))
		for range rounds {
			var err error
			op := r.IntN(6)
			if isHost && (op == 0 || op == 1) {
				op = 2 // hosts stay, so the lobbies live throughout
			}
			switch op {
			case 0:
				_, err = h.s.Join(h.ctx, actor(user), protocol.JoinLobby{Code: codes[r.IntN(nLobbies)]})
			case 1:
				err = h.s.Leave(h.ctx, user, protocol.ReasonLeft)
			case 2:
				err = h.s.Send(h.ctx, user, []byte{byte(op)}, nil)
			case 3:
				err = h.s.Chat(h.ctx, user, "hi")
			case 4:
				_, err = h.s.SetMember(h.ctx, user, protocol.SetMember{Ready: ptr(r.IntN(2) == 0)})
			case 5:
				err = h.s.Send(h.ctx, user, []byte{1}, [][]byte{[]byte(fmt.Sprintf("u%d", r.IntN(nUsers)))})
			}
			if c := codeOf(err); !slices.Contains(allowed, c) {
				mu.Lock()
				bad = append(bad, fmt.Sprintf("%s op %d: %v", user, op, err))
				mu.Unlock()
			}
		}
	}
	h.rec.Take()
	for i := range nUsers {
		wg.Add(1)
		go act(fmt.Sprintf("u%d", i), uint64(i), false)
	}
	for i, host := range hosts {
		wg.Add(1)
		go act(host, uint64(1000+i), true)
	}
	wg.Wait()
	for _, b := range bad {
		h.t.Error(b)
	}

	// Final state.
	where := map[string]string{} // user → lobby id
	total := 0
	for _, host := range hosts {
		v := h.lobbyOf(host)
		if len(v.Members) > v.MaxPlayers {
			h.t.Errorf("lobby %s has %d members, max %d", v.Name, len(v.Members), v.MaxPlayers)
		}
		for _, m := range v.Members {
			if prev, dup := where[m.UserID]; dup {
				h.t.Errorf("%s is in %s and %s", m.UserID, prev, v.ID)
			}
			where[m.UserID] = v.ID
			total++
		}
	}
	for i := range nUsers {
		u := fmt.Sprintf("u%d", i)
		v, ok, err := h.s.LobbyOf(h.ctx, u)
		if err != nil || ok != (where[u] != "") || (ok && v.ID != where[u]) {
			h.t.Errorf("LobbyOf(%s) = %s/%v/%v, members lists say %q", u, v.ID, ok, err, where[u])
		}
	}
	if st := h.s.Stats(); st.Members != total || st.Lobbies != nLobbies {
		h.t.Errorf("stats %+v, counted %d members in %d lobbies", st, total, nLobbies)
	}

	// Replay each lobby's events in delivery order.
	members := map[string]map[string]bool{} // lobby → members
	for _, host := range hosts {
		members[h.lobbyOf(host).ID] = map[string]bool{host: true}
	}
	next := map[string]int{}
	for _, e := range h.rec.Take() {
		if e.N < next[e.LobbyID] {
			h.t.Fatalf("lobby %s: event %d recorded after %d", e.LobbyID, e.N, next[e.LobbyID])
		}
		next[e.LobbyID] = e.N + 1
		set := members[e.LobbyID]
		for _, to := range e.To {
			if !set[to] {
				h.t.Errorf("lobby %s: %s to non-member %s", e.LobbyID, e.Name, to)
			}
		}
		switch e.Name {
		case protocol.EvMemberJoined:
			if len(e.To) != len(set) {
				h.t.Errorf("member_joined to %d of %d members", len(e.To), len(set))
			}
			set[e.Member.UserID] = true
		case protocol.EvMemberLeft:
			delete(set, e.UserID)
			if len(e.To) != len(set) {
				h.t.Errorf("member_left to %d of %d members", len(e.To), len(set))
			}
		case protocol.EvChat:
			if len(e.To) != len(set) {
				h.t.Errorf("chat to %d of %d members", len(e.To), len(set))
			}
		case protocol.EvData:
			if !set[e.From] || slices.Contains(e.To, e.From) {
				h.t.Errorf("data from %s (member %v) to %v", e.From, set[e.From], e.To)
			}
		}
	}
	for id, set := range members {
		var v protocol.LobbyView
		for _, host := range hosts {
			if hv := h.lobbyOf(host); hv.ID == id {
				v = hv
			}
		}
		if len(v.Members) != len(set) {
			h.t.Errorf("lobby %s: replay has %d members, store %d", id, len(set), len(v.Members))
		}
	}
}

var _ lobby.Sink = (*Recorder)(nil)
