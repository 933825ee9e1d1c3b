package protocol

import (
	"bytes"
	"strconv"
	"testing"
)

func BenchmarkDecodeRequestPing(b *testing.B) {
	frame := kv(b, "op", "ping", "rid", 12345, "d", map[string]any{})
	var r Request
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if err := DecodeRequest(frame, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeRequestSend(b *testing.B) {
	payload := bytes.Repeat([]byte{0x42}, 64)
	for _, bc := range []struct {
		name string
		to   []string
	}{
		{"to=0", nil},
		{"to=3", []string{"user-0001", "user-0002", "user-0003"}},
	} {
		d := map[string]any{"data": payload}
		if bc.to != nil {
			d["to"] = bc.to
		}
		frame := kv(b, "op", "lobby.send", "rid", 77, "d", d)
		b.Run(bc.name, func(b *testing.B) {
			var (
				r Request
				s SendReq
			)
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				if err := DecodeRequest(frame, &r); err != nil {
					b.Fatal(err)
				}
				if err := DecodeSend(r.D, &s); err != nil {
					b.Fatal(err)
				}
			}
			if len(s.To) != len(bc.to) {
				b.Fatalf("To = %q", s.To)
			}
		})
	}
}

func BenchmarkDecodeRequestHugeClaim(b *testing.B) {
	frame := []byte{0xdf, 0x02, 0xfa, 0xf0, 0x80}
	var r Request
	b.ReportAllocs()
	for b.Loop() {
		if DecodeRequest(frame, &r) == nil {
			b.Fatal("accepted")
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	frame := kv(b, "op", "lobby.create", "rid", 2, "d", map[string]any{"name": "r", "max_players": 4,
		"visibility": "public", "attrs": map[string]any{"m": "ctf", "n": 2.5}, "data": map[string]any{"x": []any{1, nil, true}}})
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if err := validate(frame, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBodyCreate(b *testing.B) {
	d := kv(b, "name", "room", "max_players", 8, "visibility", "public", "attrs", map[string]any{"map": "dust"})
	b.ReportAllocs()
	for b.Loop() {
		var c CreateLobby
		if err := DecodeBody(d, &c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendDataEvent(b *testing.B) {
	payload := bytes.Repeat([]byte{0x42}, 64)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendDataEvent(buf[:0], "user-0001", payload)
		SetEventSeq(buf, 42)
	}
}

func BenchmarkAppendPong(b *testing.B) {
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendPong(buf[:0], 12345, 1700000000123)
	}
}

func BenchmarkAppendEventChat(b *testing.B) {
	buf := make([]byte, 0, 256)
	ev := ChatEv{From: "user-0001", Text: "good luck, have fun", Ts: 1700000000123}
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendEvent(buf[:0], EvChat, ev); err != nil {
			b.Fatal(err)
		}
	}
}

// bomb is a lobby.create body of size bytes whose last key (named key)
// holds a map with as many small entries as fit: 13,358 in 64 KiB (the
// attack run had 11,617), 3,139 in 16 KiB. key "attrs" is an attrs bomb;
// any other key is a map the library would walk and ignore.
func bomb(tb testing.TB, size int, key string) []byte {
	head := kv(tb, "name", "room", "max_players", 8, "visibility", "public")
	head = head[1:] // drop the 3-entry fixmap header: entries are re-counted below
	var entries []byte
	n := 0
	for i := 0; len(head)+len(entries)+16 < size-64; i++ {
		k := strconv.FormatInt(int64(i), 36)
		entries = append(entries, 0xa0|byte(len(k)))
		entries = append(entries, k...)
		entries = append(entries, 0x01)
		n++
	}
	last := append(append([]byte{0xa0 | byte(len(key))}, key...), 0xde, byte(n>>8), byte(n))
	return append(append(append([]byte{0x84}, head...), last...), entries...)
}

// unknownKeys is a body map of size bytes with nothing but small unknown
// keys, which the library would look up one by one.
func unknownKeys(size int) []byte {
	var entries []byte
	n := 0
	for i := 0; len(entries)+16 < size-64; i++ {
		k := "u" + strconv.FormatInt(int64(i), 36)
		entries = append(entries, 0xa0|byte(len(k)))
		entries = append(entries, k...)
		entries = append(entries, 0x01)
		n++
	}
	return append([]byte{0xde, byte(n >> 8), byte(n)}, entries...)
}

// The refusal of a body bomb, as the loop goroutine pays it (issue 10:
// 3.3 ms and 0.7 MB for 11,617 attrs keys in 64 KiB).
func BenchmarkDecodeBodyBomb(b *testing.B) {
	for _, bc := range []struct {
		name string
		d    []byte
	}{
		{"attrs/64KiB", bomb(b, 64<<10, "attrs")},
		{"attrs/16KiB", bomb(b, 16<<10, "attrs")},
		{"unknownKeys/64KiB", unknownKeys(64 << 10)},
		{"unknownKeys/16KiB", unknownKeys(16 << 10)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.d)))
			for b.Loop() {
				var p CreateLobby
				if DecodeBody(bc.d, &p) == nil {
					b.Fatal("accepted")
				}
			}
		})
	}
}
