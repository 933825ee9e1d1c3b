package protocol

import (
	"bytes"
	"fmt"
	"testing"
)

func TestDecodeSend(t *testing.T) {
	t.Parallel()
	payload := bytes.Repeat([]byte{0xab}, 64)
	ids := func(n int) []string {
		s := make([]string, n)
		for i := range s {
			s[i] = fmt.Sprintf("u%d", i)
		}
		return s
	}
	tests := []struct {
		name    string
		in      []byte
		wantErr error
		data    []byte
		to      []string
	}{
		{name: "broadcast", in: kv(t, "data", payload), data: payload},
		{name: "empty data", in: kv(t, "data", []byte{}), data: []byte{}},
		{name: "to three", in: kv(t, "to", []string{"a", "bb", "ccc"}, "data", payload), data: payload, to: []string{"a", "bb", "ccc"}},
		{name: "to nil", in: kv(t, "data", payload, "to", nil), data: payload},
		{name: "to 256", in: kv(t, "data", payload, "to", ids(256)), data: payload, to: ids(256)},
		{name: "unknown key", in: kv(t, "x", map[string]any{"y": []any{1}}, "data", payload), data: payload},
		{name: "large data", in: kv(t, "data", bytes.Repeat([]byte{1}, 70000)), data: bytes.Repeat([]byte{1}, 70000)},

		{name: "d absent", in: nil, wantErr: ErrDataMissing},
		{name: "empty map", in: []byte{0x80}, wantErr: ErrDataMissing},
		{name: "not a map", in: enc(t, []any{1}), wantErr: ErrBodyNotMap},
		{name: "data str", in: kv(t, "data", "text"), wantErr: ErrDataType},
		{name: "data nil", in: kv(t, "data", nil), wantErr: ErrDataType},
		{name: "data int", in: kv(t, "data", 5), wantErr: ErrDataType},
		{name: "data twice", in: kv(t, "data", payload, "data", payload), wantErr: ErrDuplicateKey},
		{name: "to twice", in: kv(t, "data", payload, "to", []string{"a"}, "to", nil), wantErr: ErrDuplicateKey},
		{name: "to empty", in: kv(t, "data", payload, "to", []string{}), wantErr: ErrToEmpty},
		{name: "to 257", in: kv(t, "data", payload, "to", ids(257)), wantErr: ErrToTooMany},
		{name: "to string", in: kv(t, "data", payload, "to", "a"), wantErr: ErrToType},
		{name: "to ints", in: kv(t, "data", payload, "to", []int{1}), wantErr: ErrToType},
		{name: "to array of 50M", in: kv(t, "data", payload, "to", raw{0xdd, 0x02, 0xfa, 0xf0, 0x80}), wantErr: ErrLength},
		{name: "data of 4G", in: kv(t, "data", raw{0xc6, 0xff, 0xff, 0xff, 0xff, 0}), wantErr: ErrLength},
		{name: "truncated", in: kv(t, "data", payload)[:20], wantErr: ErrLength},
		{name: "trailing", in: cat(kv(t, "data", payload), []byte{0xc0}), wantErr: ErrTrailing},
		{name: "int key", in: kv(t, raw{0x01}, 1, "data", payload), wantErr: ErrMapKey},
		{name: "deep unknown", in: kv(t, "data", payload, "x", raw(nested(MaxDepth))), wantErr: ErrTooDeep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := SendReq{To: [][]byte{[]byte("stale")}}
			err := DecodeSend(tt.in, &s)
			if err != tt.wantErr {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if s.Data != nil || len(s.To) != 0 {
					t.Errorf("on error Data=%x To=%q, want empty", s.Data, s.To)
				}
				return
			}
			if !bytes.Equal(s.Data, tt.data) || s.Data == nil || !within(s.Data, tt.in) {
				t.Errorf("Data = %x, want %x (a sub-slice of the input)", s.Data, tt.data)
			}
			if len(s.To) != len(tt.to) {
				t.Fatalf("To = %q, want %q", s.To, tt.to)
			}
			for i := range s.To {
				if string(s.To[i]) != tt.to[i] || !within(s.To[i], tt.in) {
					t.Errorf("To[%d] = %q, want %q (a sub-slice of the input)", i, s.To[i], tt.to[i])
				}
			}
		})
	}
}

func TestDecodeSendReusesTo(t *testing.T) {
	var s SendReq
	in := kv(t, "data", []byte("x"), "to", []string{"a", "b", "c"})
	if err := DecodeSend(in, &s); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(100, func() { _ = DecodeSend(in, &s) }); a != 0 {
		t.Errorf("DecodeSend with a warm To: %v allocs/op, want 0", a)
	}
	if len(s.To) != 3 || string(s.To[2]) != "c" {
		t.Errorf("To = %q", s.To)
	}
}
