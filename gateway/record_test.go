package gateway

import (
	"fmt"
	"slices"
	"testing"

	"github.com/lobbyd/lobbyd/cluster"
	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

// A lobby event delivered with a record (cluster.RecordingSink) is numbered
// at once but written only when its record is in (Release); an event
// numbered after it (same-shard relay, matchmaking) waits behind it, so
// the stream stays in order; the record names the session, its seq for
// each event and its arrival.
func TestRecordedFramesWaitForTheirRecord(t *testing.T) {
	g, _ := testGateway(t, 16, 1<<20)
	w := &recordingWriter{}
	s := attachFake(g, "u", w)
	sink := lobbySink{g}
	d := &cluster.Delivery{Lobby: "L"}
	sink.DeliverRecorded(&lobby.Event{LobbyID: "L", Version: 7 << 32, Name: protocol.EvChat, To: []string{"u"}, Text: "one"}, d)
	chatTo(g, "two", "u") // not in a log: no record, but behind "one"
	if n := len(w.decoded(t)); n != 1 {
		t.Fatalf("%d messages before the record is in, want the welcome alone", n)
	}
	sink.Positions(d, []string{"u", "absent"})
	if len(d.Sessions) != 1 {
		t.Fatalf("record %+v", d.Sessions)
	}
	p := d.Sessions[0]
	if p.ID != s.id || p.After != 2 || len(p.Events) != 2 || p.Events[0] != 7 || p.Events[1] != 1 || p.Arrived != 0 || p.ArrivedIn {
		t.Fatalf("record of u: %+v (session %s)", p, s.id)
	}
	sink.Release(d)
	got := w.decoded(t)
	if len(got) != 3 {
		t.Fatalf("after the record: %v", got)
	}
	for i, text := range []string{"one", "two"} {
		m := got[i+1]
		if seq, _ := asUint(m["seq"]); seq != uint64(i+1) || m["d"].(map[string]any)["text"] != text {
			t.Fatalf("#%d: %v, want seq %d %q", i+1, m, i+1, text)
		}
	}
	// Nothing waits now: the session lets go of what held the frames
	// (docs/architecture.md, "Memory per idle player").
	s.mu.Lock()
	kept := s.side != nil && s.side.wait != nil
	s.mu.Unlock()
	if kept {
		t.Fatal("the session keeps its waiting state with nothing waiting")
	}
	chatTo(g, "three", "u") // nothing waits: written at once
	if got := w.decoded(t); len(got) != 4 {
		t.Fatalf("after three: %d messages", len(got))
	}
	// The next recorded event waits again, and goes at its release.
	d = &cluster.Delivery{Lobby: "L"}
	sink.DeliverRecorded(&lobby.Event{LobbyID: "L", Version: 8 << 32, Name: protocol.EvChat, To: []string{"u"}, Text: "four"}, d)
	if got := w.decoded(t); len(got) != 4 {
		t.Fatalf("four written before its record: %d messages", len(got))
	}
	sink.Positions(d, nil)
	sink.Release(d)
	got = w.decoded(t)
	if len(got) != 5 {
		t.Fatalf("after four's record: %d messages", len(got))
	}
	if seq, _ := asUint(got[4]["seq"]); seq != 4 || got[4]["d"].(map[string]any)["text"] != "four" {
		t.Fatalf("four: %v", got[4])
	}
}

// Derived positions (docs/cluster.md, "Delivery records"): an entry of a
// split lobby arms its session; once that entry is in Redis the session
// is pure and the lobby's events need no entry: they are written at once.
// An event no log holds breaks it first: its frame, and every one after,
// waits for the session's own entry, which says the positions no longer
// derive; the next entry of the lobby arms it again.
func TestDerivedPositions(t *testing.T) {
	g, _ := testGateway(t, 64, 1<<20)
	var breaks []*cluster.Delivery
	g.hub.records = true
	g.hub.recordBreak = func(d *cluster.Delivery) bool { breaks = append(breaks, d); return true }
	w := &recordingWriter{}
	s := attachFake(g, "u", w)
	sink := lobbySink{g}
	texts := func() []string {
		var out []string
		for _, m := range w.decoded(t)[1:] { // after the welcome
			seq, _ := asUint(m["seq"])
			out = append(out, fmt.Sprint(seq, " ", m["d"].(map[string]any)["text"]))
		}
		return out
	}
	deliver := func(off uint64, text string) *cluster.Delivery {
		d := &cluster.Delivery{Lobby: "L", Split: true, Last: off}
		sink.DeliverRecorded(&lobby.Event{LobbyID: "L", Version: off << 32, Name: protocol.EvChat, To: []string{"u"}, Text: text}, d)
		sink.Positions(d, []string{"u"})
		return d
	}
	d1 := deliver(7, "one")
	if p := d1.Sessions[0]; !p.Derive || p.After != 1 {
		t.Fatalf("first entry %+v: want it to derive", p)
	}
	d2 := deliver(8, "two") // not pure yet: an entry, and it waits
	sink.Release(d1)
	sink.Release(d2)
	d3 := deliver(9, "three") // pure: no entry, written at once
	if len(d3.Sessions) != 0 {
		t.Fatalf("a pure session got an entry: %+v", d3.Sessions)
	}
	if got := texts(); !slices.Equal(got, []string{"1 one", "2 two", "3 three"}) {
		t.Fatalf("written %v", got)
	}
	chatTo(g, "four", "u") // no log holds it: a break, and four waits for it
	chatTo(g, "five", "u") // behind four
	if len(breaks) != 1 {
		t.Fatalf("%d breaks", len(breaks))
	}
	b := breaks[0]
	if p := b.Sessions[0]; b.Lobby != "L" || b.Last != 9 || p.Derive || p.After != 4 || !slices.Equal(p.Held, []uint64{4}) || p.ID != s.id {
		t.Fatalf("break %+v %+v", b, p)
	}
	d6 := deliver(10, "six") // no longer pure: an entry again, arming it anew
	if len(d6.Sessions) != 1 || !d6.Sessions[0].Derive {
		t.Fatalf("entry after the break: %+v", d6.Sessions)
	}
	if got := texts(); len(got) != 3 {
		t.Fatalf("written before the break's entry is in: %v", got)
	}
	sink.Release(b)
	sink.Release(d6)
	if got := texts(); !slices.Equal(got, []string{"1 one", "2 two", "3 three", "4 four", "5 five", "6 six"}) {
		t.Fatalf("written %v", got)
	}
	d7 := deliver(11, "seven")
	if len(d7.Sessions) != 0 {
		t.Fatalf("pure again after the entry that armed it: %+v", d7.Sessions)
	}
	// An entry released after a break and a new arming does not make the
	// session pure: the break between them is not in Redis yet.
	chatTo(g, "eight", "u")
	d9 := deliver(12, "nine")
	sink.Release(d1) // stale: from the first arming
	s.mu.Lock()
	pure := s.pure
	s.mu.Unlock()
	if pure || len(d9.Sessions) != 1 {
		t.Fatalf("pure %v after a stale release; entry %+v", pure, d9.Sessions)
	}
}

// A session armed on a shard that keeps no breaks (no recorder) numbers
// what would break it without waiting and without failing.
func TestBreakWithoutRecorder(t *testing.T) {
	g, _ := testGateway(t, 16, 1<<20)
	w := &recordingWriter{}
	s := attachFake(g, "u", w)
	s.mu.Lock()
	s.armed, s.lobbyID = true, "L"
	s.mu.Unlock()
	chatTo(g, "one", "u")
	if got := w.decoded(t); len(got) != 2 {
		t.Fatalf("%d messages, want the welcome and one", len(got))
	}
	s.mu.Lock()
	armed := s.armed
	s.mu.Unlock()
	if armed {
		t.Fatal("still armed after a break")
	}
}
