package main

import (
	"bytes"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// The load generator's lobby.send, encoded as it encodes it, and the same
// envelope with its keys in another order, are both found; anything else
// is left to the decoder.
func TestSendData(t *testing.T) {
	data := bytes.Repeat([]byte{7}, 64)
	enc := func(kv ...any) []byte {
		var buf bytes.Buffer
		e := msgpack.NewEncoder(&buf)
		_ = e.EncodeMapLen(len(kv) / 2)
		for i := 0; i < len(kv); i += 2 {
			_ = e.Encode(kv[i])
			_ = e.Encode(kv[i+1])
		}
		return buf.Bytes()
	}
	d := map[string]any{"data": data}
	for _, c := range []struct {
		name string
		msg  []byte
		ok   bool
	}{
		{"send", enc("op", "lobby.send", "rid", 0, "d", d), true},
		{"keys in another order", enc("d", d, "rid", 300, "op", "lobby.send"), true},
		{"another op", enc("op", "lobby.chat", "rid", 0, "d", d), false},
		{"no data", enc("op", "lobby.send", "rid", 0), false},
		{"truncated", enc("op", "lobby.send", "rid", 0, "d", d)[:20], false},
		{"empty", nil, false},
	} {
		got, ok := sendData(c.msg)
		if ok != c.ok || (ok && !bytes.Equal(got, data)) {
			t.Errorf("%s: sendData = %x, %v; want ok %v", c.name, got, ok, c.ok)
		}
	}
}

// FuzzSendData: no input makes the scan panic or hand out bytes it was not
// given.
func FuzzSendData(f *testing.F) {
	f.Add([]byte{0x83, 0xa2, 'o', 'p', 0xaa, 'l', 'o', 'b', 'b', 'y', '.', 's', 'e', 'n', 'd'})
	f.Fuzz(func(t *testing.T, m []byte) {
		if data, ok := sendData(m); ok && !bytes.Contains(m, data) {
			t.Fatalf("data %x is not in %x", data, m)
		}
	})
}
