package cluster

import (
	"bytes"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/lobbyd/lobbyd/protocol"
)

// reflectiveWireEvent is wireEvent without its codec (a defined type has
// the struct and its tags, not its methods): what msgpack's reflection
// writes and reads.
type reflectiveWireEvent wireEvent

func wireSamples() []wireEvent {
	return []wireEvent{
		{Name: protocol.EvData, To: []string{"b0", "b1"}, Shards: []string{"b", "b"}, From: "a0", Data: []byte{1, 2, 3}},
		{Name: protocol.EvChat, To: []string{"a0"}, Shards: []string{"a"}, From: "a0", Text: "hi", TS: 1764460000000},
		{Name: protocol.EvMemberJoined, To: []string{"a0", "b0"}, Shards: []string{"a", "b"},
			Member: &protocol.Member{UserID: "c0", Name: "c", Ready: true, Connected: true}},
		{Name: protocol.EvLobbyUpdated, To: []string{"a0"}, Shards: []string{"a"}, Lobby: &protocol.LobbyView{ID: "L", Name: "n", MaxPlayers: 8}},
		{Name: protocol.EvMemberLeft, To: []string{"a0"}, Shards: []string{"a"}, UserID: "b0", Reason: "kicked", MatchID: "m1"},
		{Name: "x"}, // nil lists
	}
}

// TestWireEventCodecMatchesReflection: the written-out codec and msgpack's
// reflection write the same bytes and read each other's, so logs written
// before the codec (or by a shard without it) read back unchanged.
func TestWireEventCodecMatchesReflection(t *testing.T) {
	for _, w := range wireSamples() {
		mine, err := msgpack.Marshal(&w)
		if err != nil {
			t.Fatal(err)
		}
		r := reflectiveWireEvent(w)
		theirs, err := msgpack.Marshal(&r)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(mine, theirs) {
			t.Errorf("%s: codec wrote %x, reflection %x", w.Name, mine, theirs)
		}
		var back wireEvent
		if err := msgpack.Unmarshal(theirs, &back); err != nil {
			t.Fatalf("%s: reading reflection's bytes: %v", w.Name, err)
		}
		if again, _ := msgpack.Marshal(&back); !bytes.Equal(again, mine) {
			t.Errorf("%s: read back %+v, want %+v", w.Name, back, w)
		}
		var r2 reflectiveWireEvent
		err = msgpack.Unmarshal(mine, &r2)
		if again, _ := msgpack.Marshal(&r2); err != nil || !bytes.Equal(again, mine) {
			t.Errorf("%s: reflection reads the codec's bytes as %+v (%v)", w.Name, r2, err)
		}
	}
}

// FuzzWireEventDecode: hostile bytes on a shard channel or in a log never
// panic the decoder, and what it accepts encodes and reads back the same.
func FuzzWireEventDecode(f *testing.F) {
	for _, w := range wireSamples() {
		b, _ := msgpack.Marshal(&w)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var w wireEvent
		if msgpack.Unmarshal(b, &w) != nil {
			return
		}
		again, err := msgpack.Marshal(&w)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", w, err)
		}
		var back wireEvent
		err = msgpack.Unmarshal(again, &back)
		if third, _ := msgpack.Marshal(&back); err != nil || !bytes.Equal(third, again) {
			t.Fatalf("round trip of %+v gave %+v (%v)", w, back, err)
		}
	})
}
