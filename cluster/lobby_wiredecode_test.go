package cluster

import (
	"reflect"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/lobbyd/lobbyd/protocol"
)

// TestWireEventStringDecoder: decodeWireEventString reads every event the
// Decoder reads, the same (its own fields and those it leaves to the
// Decoder), and returns exactly what follows the event.
func TestWireEventStringDecoder(t *testing.T) {
	long := strings.Repeat("x", 300)
	samples := append(wireSamples(),
		wireEvent{Name: protocol.EvData, To: []string{strings.Repeat("u", 40), "b1"}, Shards: []string{long, "b"},
			From: strings.Repeat("f", 31), Data: []byte(long)},
		wireEvent{Name: protocol.EvChat, To: []string{"a0"}, Shards: []string{"a"}, From: "a0",
			Text: strings.Repeat("t", 70000), TS: -5},
		wireEvent{Name: protocol.EvChat, TS: 1 << 40},
		wireEvent{Name: protocol.EvChat, TS: -1 << 40},
		wireEvent{Name: protocol.EvChat, TS: 200},
		wireEvent{Name: protocol.EvChat, TS: -100},
		wireEvent{Name: protocol.EvChat, TS: 40000},
		wireEvent{Name: protocol.EvChat, TS: -40000},
	)
	for i, w := range samples {
		enc, err := msgpack.Marshal(&w)
		if err != nil {
			t.Fatal(err)
		}
		// Followed by another event, as in a message of several.
		const tail = "\x81\xa1n\xa1z"
		got, rest, err := decodeWireEventString(string(enc) + tail)
		if err != nil {
			t.Fatalf("sample %d: %v", i, err)
		}
		if rest != tail {
			t.Fatalf("sample %d: rest %q, want %q", i, rest, tail)
		}
		var want wireEvent
		if err := msgpack.Unmarshal(enc, &want); err != nil {
			t.Fatal(err)
		}
		if len(got.Data) == 0 && len(want.Data) == 0 {
			got.Data, want.Data = nil, nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("sample %d: read %+v, want %+v", i, got, want)
		}
	}
	// A key this reader does not know (a newer shard's) goes to the
	// Decoder, which skips it.
	type newer struct {
		Name string `msgpack:"n"`
		New  []int  `msgpack:"zz"`
		From string `msgpack:"f"`
	}
	enc, _ := msgpack.Marshal(&newer{Name: "x", New: []int{1, 2}, From: "a"})
	got, rest, err := decodeWireEventString(string(enc))
	if err != nil || rest != "" || got.Name != "x" || got.From != "a" {
		t.Fatalf("newer event read as %+v, rest %q, %v", got, rest, err)
	}
	for _, bad := range []string{"", "\x82\xa1n", "\x81\xa1n\xd9\x05ab", "\x81\xa2to\x93\xa1a"} {
		if _, _, err := decodeWireEventString(bad); err == nil {
			t.Fatalf("%q: no error", bad)
		}
	}
}

// BenchmarkParseMessage is a shard's read of one published relay message
// of a lobby of 8 (7 recipients, 4 on the reading shard): the string reader
// against the Decoder it replaced.
func BenchmarkParseMessage(b *testing.B) {
	w := wireEvent{Name: protocol.EvData, From: "0123456789abcdef0123",
		Data: make([]byte, 64)}
	for i := range 7 {
		w.To = append(w.To, "u123456789abcdef012"+string(rune('0'+i)))
		w.Shards = append(w.Shards, []string{"shard-a", "shard-b"}[i%2])
	}
	enc, err := msgpack.Marshal(&w)
	if err != nil {
		b.Fatal(err)
	}
	payload := "0123456789abcdef 1234 1 1 0 " + string(enc)
	b.Run("string", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parseMessage(payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decoder", func(b *testing.B) {
		b.ReportAllocs()
		p := string(enc)
		for b.Loop() {
			wc := wireCoders.Get().(*wireCoder)
			wc.src.Reset(p)
			wc.dec.Reset(&wc.src)
			events := make([]wireEvent, 1)
			if err := events[0].DecodeMsgpack(wc.dec); err != nil {
				b.Fatal(err)
			}
			wireCoders.Put(wc)
		}
	})
}
