package client

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestClassify(t *testing.T) {
	payload := bytes.Repeat([]byte{7}, PayloadSize)
	tests := []struct {
		name     string
		frame    []byte
		kind     frameKind
		rid      uint64
		wantData []byte
	}{
		{"data event", mustMarshal(t, map[string]any{"ev": "lobby.data", "seq": 9, "d": map[string]any{"from": "u1", "data": payload}}), frameData, 0, payload},
		{"data event, d first", mustMarshal(t, map[string]any{"d": map[string]any{"data": payload, "from": "u1"}, "seq": uint64(1) << 40, "ev": "lobby.data"}), frameData, 0, payload},
		{"reply ok", mustMarshal(t, map[string]any{"rid": 70000, "ok": true, "d": map[string]any{"lobby": map[string]any{"id": "x", "members": []any{1, "a", nil, 2.5}}}}), frameReply, 70000, nil},
		{"reply err", mustMarshal(t, map[string]any{"rid": 3, "ok": false, "err": map[string]any{"code": "lobby_full", "msg": "full"}}), frameReply, 3, nil},
		{"other event", mustMarshal(t, map[string]any{"ev": "lobby.member_joined", "seq": 2, "d": map[string]any{"member": map[string]any{"user_id": "u"}}}), frameOther, 0, nil},
		{"welcome", mustMarshal(t, map[string]any{"ev": "welcome", "seq": 0, "d": map[string]any{"lobby": nil, "heartbeat_ms": 15000}}), frameOther, 0, nil},
		{"chat event", mustMarshal(t, map[string]any{"ev": "lobby.chat", "seq": 4, "d": map[string]any{"from": "u1", "text": "00000000000003e8xx", "ts": 5}}), frameChat, 0, []byte("00000000000003e8xx")},
		{"data event without data", mustMarshal(t, map[string]any{"ev": "lobby.data", "d": map[string]any{"from": "u1"}}), frameOther, 0, nil},
		{"not a map", mustMarshal(t, []int{1, 2}), frameBad, 0, nil},
		{"empty", nil, frameBad, 0, nil},
		{"lying map length", []byte{0xdf, 0xff, 0xff, 0xff, 0xff}, frameBad, 0, nil},
		{"lying array length", []byte{0x81, 0xa1, 'x', 0xdd, 0xff, 0xff, 0xff, 0xff}, frameBad, 0, nil},
		{"truncated bin", []byte{0x81, 0xa1, 'd', 0x81, 0xa4, 'd', 'a', 't', 'a', 0xc4, 0x40, 1, 2}, frameBad, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kind, rid, data := classify(tc.frame)
			if kind != tc.kind || rid != tc.rid || !bytes.Equal(data, tc.wantData) {
				t.Fatalf("classify = %v, %d, %x; want %v, %d, %x", kind, rid, data, tc.kind, tc.rid, tc.wantData)
			}
		})
	}
}

// TestChatRoundTrip: a chat frame as Chat writes it is a valid lobby.chat
// request whose text carries the stamp chatStamp reads back.
func TestChatRoundTrip(t *testing.T) {
	const at = int64(1764400000123456789)
	frame := (&mpConn{}).chatFrame(at)
	var req struct {
		Op string `msgpack:"op"`
		D  struct {
			Text string `msgpack:"text"`
		} `msgpack:"d"`
	}
	if err := msgpack.Unmarshal(frame, &req); err != nil || req.Op != "lobby.chat" || len(req.D.Text) != PayloadSize {
		t.Fatalf("chat frame decodes to %+v, %v", req, err)
	}
	if got, ok := chatStamp([]byte(req.D.Text)); !ok || got != at {
		t.Fatalf("chatStamp = %d, %v; want %d", got, ok, at)
	}
	if _, ok := chatStamp([]byte("zz")); ok {
		t.Fatal("chatStamp read a short text")
	}
}

func TestSendPrefixDecodes(t *testing.T) {
	frame := append(bytes.Clone(sendPrefix), make([]byte, PayloadSize)...)
	binary.LittleEndian.PutUint64(frame[len(sendPrefix):], 12345)
	var req struct {
		Op  string `msgpack:"op"`
		Rid uint32 `msgpack:"rid"`
		D   struct {
			Data []byte `msgpack:"data"`
		} `msgpack:"d"`
	}
	if err := msgpack.Unmarshal(frame, &req); err != nil {
		t.Fatal(err)
	}
	if req.Op != "lobby.send" || req.Rid != 0 || len(req.D.Data) != PayloadSize || binary.LittleEndian.Uint64(req.D.Data) != 12345 {
		t.Fatalf("decoded %+v", req)
	}
}

func FuzzClassify(f *testing.F) {
	f.Add(mustMarshal(f, map[string]any{"ev": "lobby.data", "seq": 9, "d": map[string]any{"from": "u1", "data": []byte("12345678")}}))
	f.Add(mustMarshal(f, map[string]any{"rid": 1, "ok": true, "d": map[string]any{}}))
	f.Add([]byte{0x82, 0xa2, 'e', 'v'})
	f.Fuzz(func(t *testing.T, b []byte) {
		kind, _, data := classify(b) // must not panic
		if kind == frameData && len(data) > len(b) {
			t.Fatalf("data longer than frame")
		}
	})
}

func BenchmarkClassifyData(b *testing.B) {
	frame := mustMarshal(b, map[string]any{"ev": "lobby.data", "seq": 9, "d": map[string]any{"from": "user-12345", "data": make([]byte, PayloadSize)}})
	b.ReportAllocs()
	for b.Loop() {
		if k, _, _ := classify(frame); k != frameData {
			b.Fatal(k)
		}
	}
}
