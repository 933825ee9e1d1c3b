package client

import (
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/lobbyd/lobbyd/protocol"
)

// Frames come from lobbyd's own encoders (package protocol), so the scanner
// is checked against what the server really sends.
func TestParseMM(t *testing.T) {
	must := func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	lv := protocol.LobbyView{ID: "L1", Name: "duel match", State: protocol.StateInGame, Visibility: protocol.VisibilityPrivate,
		Members: []protocol.Member{{UserID: "guest-a"}, {UserID: "guest-b"}}, Attrs: protocol.Attrs{"k": "v"}}
	matched := must(protocol.AppendEvent(nil, protocol.EvMatched, protocol.MatchedEv{TicketID: "T1", MatchID: "M1", Queue: "duel",
		Lobby: lv, Teams: [][]string{{"guest-a"}, {"guest-b"}}}))
	protocol.SetEventSeq(matched, 7)
	// The same event with "d" before "ev": key order is not part of the contract.
	reordered := must(msgpack.Marshal(map[string]any{"d": map[string]any{"teams": [][]string{{"x", "y"}, {"z", "w"}}, "match_id": "M2", "ticket_id": "T2"},
		"seq": 3, "ev": "mm.matched"}))
	enqOK := must(protocol.AppendReplyValue(nil, 4<<2|uint32(OpEnqueue), protocol.TicketReply{Ticket: protocol.Ticket{ID: "T9", Queue: "duel",
		Members: []string{"guest-a"}, Skill: 1500, State: protocol.TicketQueued}}))
	leaveOK := protocol.AppendReplyOK(nil, 5<<2|uint32(OpLeave))
	refused := protocol.AppendReplyErr(nil, 6<<2|uint32(OpEnqueue), protocol.CodeAlreadyQueued, "already queued")
	cancelled := must(protocol.AppendEvent(nil, protocol.EvTicketCancelled, protocol.TicketCancelledEv{TicketID: "T3", Reason: protocol.ReasonTimeout}))
	queued := must(protocol.AppendEvent(nil, protocol.EvQueued, protocol.QueuedEv{Ticket: protocol.Ticket{ID: "T9"}}))
	left := must(protocol.AppendEvent(nil, protocol.EvMemberLeft, protocol.MemberLeftEv{UserID: "guest-b", Reason: protocol.ReasonLeft}))

	tooMany := make([][]string, 2)
	for i := range MaxMatchUsers {
		tooMany[i%2] = append(tooMany[i%2], "u")
	}
	tooMany[0] = append(tooMany[0], "one too many")
	huge := must(msgpack.Marshal(map[string]any{"ev": "mm.matched", "seq": 1, "d": map[string]any{"teams": tooMany}}))

	tests := []struct {
		name  string
		in    []byte
		check func(f *MMFrame) bool
	}{
		{"matched", matched, func(f *MMFrame) bool {
			return f.Kind == MMMatched && string(f.TicketID) == "T1" && string(f.MatchID) == "M1" && f.Teams == 2 &&
				len(f.Users) == 2 && string(f.Users[0]) == "guest-a" && string(f.Users[1]) == "guest-b"
		}},
		{"matched, keys reordered, teams of 2", reordered, func(f *MMFrame) bool {
			return f.Kind == MMMatched && string(f.MatchID) == "M2" && f.Teams == 2 && len(f.Users) == 4 && string(f.Users[3]) == "w"
		}},
		{"enqueue reply", enqOK, func(f *MMFrame) bool {
			return f.Kind == MMReply && f.OK && f.Op == OpEnqueue && f.RID == 4<<2|1 && string(f.TicketID) == "T9"
		}},
		{"leave reply", leaveOK, func(f *MMFrame) bool { return f.Kind == MMReply && f.OK && f.Op == OpLeave && f.TicketID == nil }},
		{"refusal", refused, func(f *MMFrame) bool {
			return f.Kind == MMReply && !f.OK && f.Op == OpEnqueue && string(f.Code) == "already_queued"
		}},
		{"cancelled", cancelled, func(f *MMFrame) bool {
			return f.Kind == MMCancelled && string(f.TicketID) == "T3" && string(f.Reason) == "timeout"
		}},
		{"queued", queued, func(f *MMFrame) bool { return f.Kind == MMQueued }},
		{"other event", left, func(f *MMFrame) bool { return f.Kind == MMOther }},
		{"more users than a match holds", huge, func(f *MMFrame) bool { return f.Kind == MMBad }},
		{"truncated", matched[:len(matched)-3], func(f *MMFrame) bool { return f.Kind == MMBad }},
		{"not a map", []byte{0x93, 1, 2, 3}, func(f *MMFrame) bool { return f.Kind == MMBad }},
		{"empty", nil, func(f *MMFrame) bool { return f.Kind == MMBad }},
	}
	var f MMFrame // reused, as the reader does
	for _, tc := range tests {
		ParseMM(tc.in, &f)
		if !tc.check(&f) {
			t.Errorf("%s: got %+v", tc.name, f)
		}
	}
	// Every prefix of a real frame is rejected or read, never a panic.
	for i := range matched {
		ParseMM(matched[:i], &f)
	}
}

func TestParseMMAllocs(t *testing.T) {
	ev, err := protocol.AppendEvent(nil, protocol.EvMatched, protocol.MatchedEv{TicketID: "T1", MatchID: "M1", Queue: "duel",
		Teams: [][]string{{"a"}, {"b"}}})
	if err != nil {
		t.Fatal(err)
	}
	var f MMFrame
	ParseMM(ev, &f) // grows f.Users once
	if n := testing.AllocsPerRun(100, func() { ParseMM(ev, &f) }); n != 0 {
		t.Fatalf("ParseMM allocates %v times per frame", n)
	}
}

func BenchmarkParseMM(b *testing.B) {
	lv := protocol.LobbyView{ID: "L1", Name: "duel match", State: protocol.StateInGame,
		Members: []protocol.Member{{UserID: "guest-aaaaaaaa", Name: "p1"}, {UserID: "guest-bbbbbbbb", Name: "p2"}}}
	ev, err := protocol.AppendEvent(nil, protocol.EvMatched, protocol.MatchedEv{TicketID: "T1", MatchID: "M1", Queue: "duel",
		Lobby: lv, Teams: [][]string{{"guest-aaaaaaaa"}, {"guest-bbbbbbbb"}}})
	if err != nil {
		b.Fatal(err)
	}
	var f MMFrame
	b.ReportAllocs()
	b.SetBytes(int64(len(ev)))
	for b.Loop() {
		ParseMM(ev, &f)
	}
}
