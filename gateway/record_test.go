package gateway

import (
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
