package e2e

import (
	"testing"
	"time"
)

// The barrier of traffic.check (allDelivered) waits for what the checks
// after it require. With tr.crash, a request refused while Redis died may
// have taken effect and been delivered (docs/protocol.md §5a): such a chat
// is one more event at every member, not a chat answered ok. A barrier
// that counted events took it for the last acked chat, still on its way
// to some member, and let the checks run early: "chat answered ok, never
// delivered", though it arrived a few ms later (seen under CPU load in
// TestRedisRestartedWithData). No server, no Redis: the clients' inboxes
// are filled by hand.
func TestTrafficBarrierWaitsForEachText(t *testing.T) {
	chat := func(seq uint64, text string) msg {
		return msg{"ev": "lobby.chat", "seq": seq, "d": map[string]any{"from": "x", "text": text}}
	}
	data := func(seq uint64, from, text string) msg {
		return msg{"ev": "lobby.data", "seq": seq, "d": map[string]any{"from": from, "data": []byte(text)}}
	}
	now := time.Now()
	newTraffic := func() *traffic {
		return &traffic{
			split: []*client{{user: "s0"}, {user: "s1"}},
			crash: true,
			acked: map[string]time.Time{"c0-1": now, "c1-1": now},
			// c0-2: refused while Redis died, yet in effect.
			refused:     map[string]time.Duration{"c0-2": time.Second},
			refusedSent: map[string]time.Time{"c0-2": now},
		}
	}

	// c1-1, answered ok, has reached s0 but not yet s1; s1 has the
	// refused c0-2 in its place: as many chats, not the same ones.
	tr := newTraffic()
	tr.split[0].inbox = []msg{chat(1, "c0-1"), chat(2, "c0-2"), chat(3, "c1-1")}
	tr.split[1].inbox = []msg{chat(1, "c0-1"), chat(2, "c0-2")}
	if tr.allDelivered() {
		t.Error("barrier passed with c1-1 (answered ok) not yet at s1")
	}
	tr.split[1].inbox = append(tr.split[1].inbox, chat(3, "c1-1"))
	if !tr.allDelivered() {
		t.Error("barrier not passed with every chat at every member")
	}

	// The refused c0-2 took effect: it reaches every member, and the
	// order check compares the members' chats, so the barrier waits for
	// it too once any member has it.
	tr = newTraffic()
	tr.split[0].inbox = []msg{chat(1, "c0-1"), chat(2, "c0-2"), chat(3, "c1-1")}
	tr.split[1].inbox = []msg{chat(1, "c0-1"), chat(2, "c1-1")}
	if tr.allDelivered() {
		t.Error("barrier passed with c0-2 (refused, in effect) at s0 only")
	}

	// A send goes to every member but its sender (d1-3 is s1's).
	tr = newTraffic()
	tr.acked["d1-3"] = now
	tr.split[0].inbox = []msg{chat(1, "c0-1"), chat(2, "c1-1")}
	tr.split[1].inbox = []msg{chat(1, "c0-1"), chat(2, "c1-1")}
	if tr.allDelivered() {
		t.Error("barrier passed with d1-3 (answered ok) not yet at s0")
	}
	tr.split[0].inbox = append(tr.split[0].inbox, data(3, "s1", "d1-3"))
	if !tr.allDelivered() {
		t.Error("barrier not passed with d1-3 at s0 (s1 sent it)")
	}
}
