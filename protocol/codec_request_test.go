package protocol

import (
	"bytes"
	"testing"
)

func TestDecodeRequest(t *testing.T) {
	t.Parallel()
	d := kv(t, "data", []byte("x"))
	tests := []struct {
		name    string
		in      []byte
		wantErr error
		op      string
		rid     uint32
		d       []byte
	}{
		{name: "ping", in: kv(t, "op", "ping", "rid", 1, "d", map[string]any{}), op: "ping", rid: 1, d: []byte{0x80}},
		{name: "d absent", in: kv(t, "op", "lobby.leave", "rid", 9), op: "lobby.leave", rid: 9},
		{name: "d nil", in: kv(t, "d", nil, "op", "lobby.leave"), op: "lobby.leave"},
		{name: "rid absent", in: kv(t, "op", "lobby.send", "d", raw(d)), op: "lobby.send", d: d},
		{name: "rid max", in: kv(t, "rid", uint32(1<<32-1), "op", "x"), op: "x", rid: 1<<32 - 1},
		{name: "rid uint64 form", in: kv(t, "rid", raw{0xcf, 0, 0, 0, 0, 0, 0, 0, 5}, "op", "x"), op: "x", rid: 5},
		{name: "rid signed non-negative", in: kv(t, "rid", int64(77), "op", "x"), op: "x", rid: 77},
		{name: "rid zero", in: kv(t, "rid", 0, "op", "x"), op: "x"},
		{name: "unknown keys skipped", in: kv(t, "v", 2, "op", "ping", "extra", []any{map[string]any{"a": 1}}, "rid", 3, "z", nil), op: "ping", rid: 3},
		{name: "op 64 bytes", in: kv(t, "op", string(bytes.Repeat([]byte("o"), 64)), "rid", 4), op: string(bytes.Repeat([]byte("o"), 64)), rid: 4},

		{name: "empty", in: nil, wantErr: ErrEmpty},
		{name: "not msgpack", in: []byte{0xc1, 0x00}, wantErr: ErrInvalidCode},
		{name: "array", in: enc(t, []any{"ping", 1}), wantErr: ErrRequestNotMap},
		{name: "string", in: enc(t, "ping"), wantErr: ErrRequestNotMap},
		{name: "nil", in: []byte{0xc0}, wantErr: ErrRequestNotMap},
		{name: "map of 50M", in: []byte{0xdf, 0x02, 0xfa, 0xf0, 0x80}, wantErr: ErrLength},
		{name: "op missing", in: kv(t, "rid", 5), wantErr: ErrOpMissing, rid: 5},
		{name: "op empty", in: kv(t, "op", "", "rid", 5), wantErr: ErrOpType, rid: 5},
		{name: "op too long", in: kv(t, "rid", 5, "op", string(bytes.Repeat([]byte("o"), 65))), wantErr: ErrOpType, rid: 5},
		{name: "op int", in: kv(t, "op", 3, "rid", 5), wantErr: ErrOpType, rid: 5},
		{name: "op bin", in: kv(t, "op", []byte("ping"), "rid", 5), wantErr: ErrOpType, rid: 5},
		{name: "op map, rid after", in: kv(t, "op", map[string]any{"a": 1}, "rid", 6), wantErr: ErrOpType, rid: 6},
		{name: "rid negative", in: kv(t, "op", "x", "rid", -1), wantErr: ErrRidType},
		{name: "rid too big", in: kv(t, "op", "x", "rid", uint64(1<<32)), wantErr: ErrRidType},
		{name: "rid float", in: kv(t, "op", "x", "rid", 1.0), wantErr: ErrRidType},
		{name: "rid string", in: kv(t, "op", "x", "rid", "1"), wantErr: ErrRidType},
		{name: "d string, rid after", in: kv(t, "op", "x", "d", "no", "rid", 8), wantErr: ErrDType, rid: 8},
		{name: "d array", in: kv(t, "rid", 8, "op", "x", "d", []any{}), wantErr: ErrDType, rid: 8},
		{name: "int key, rid after", in: kv(t, raw{0x05}, 1, "rid", 8, "op", "x"), wantErr: ErrMapKey, rid: 8},
		{name: "duplicate op", in: kv(t, "op", "x", "rid", 8, "op", "y"), wantErr: ErrDuplicateKey, rid: 8},
		{name: "duplicate rid keeps first", in: kv(t, "op", "x", "rid", 8, "rid", 9), wantErr: ErrDuplicateKey, rid: 8},
		{name: "duplicate d", in: kv(t, "op", "x", "d", nil, "d", nil), wantErr: ErrDuplicateKey},
		{name: "trailing bytes", in: cat(kv(t, "op", "x", "rid", 2), []byte{0x00}), wantErr: ErrTrailing, rid: 2},
		{name: "truncated after rid", in: kv(t, "rid", 2, "op", "x")[:7], wantErr: ErrLength, rid: 2},
		{name: "truncated before rid", in: kv(t, "op", "xyz", "rid", 2)[:5], wantErr: ErrLength},
		{name: "truncated d", in: kv(t, "rid", 3, "op", "x", "d", raw(d))[:13], wantErr: ErrTruncated, rid: 3},
		{name: "d too deep", in: kv(t, "rid", 3, "op", "x", "d", raw(cat([]byte{0x81, 0xa1, 'k'}, nested(MaxDepth)))), wantErr: ErrTooDeep, rid: 3},
		{name: "d at depth limit", in: kv(t, "rid", 3, "op", "x", "d", raw(cat([]byte{0x81, 0xa1, 'k'}, nested(MaxDepth-2)))), op: "x", rid: 3,
			d: cat([]byte{0x81, 0xa1, 'k'}, nested(MaxDepth-2))},
		{name: "unknown value with bad ext", in: kv(t, "rid", 3, "op", "x", "t", raw{0xd4, 0x01, 0x00}), wantErr: ErrExtension, rid: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Request{Op: []byte("stale"), Rid: 99, D: []byte{1}}
			err := DecodeRequest(tt.in, &r)
			if err != tt.wantErr {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if r.Rid != tt.rid {
				t.Errorf("Rid = %d, want %d", r.Rid, tt.rid)
			}
			if err != nil {
				if r.Op != nil || r.D != nil {
					t.Errorf("on error Op=%q D=%x, want nil", r.Op, r.D)
				}
				return
			}
			if string(r.Op) != tt.op {
				t.Errorf("Op = %q, want %q", r.Op, tt.op)
			}
			if !bytes.Equal(r.D, tt.d) || (tt.d == nil) != (r.D == nil) {
				t.Errorf("D = %x, want %x", r.D, tt.d)
			}
			if !within(r.Op, tt.in) || !within(r.D, tt.in) {
				t.Error("Op or D is not a sub-slice of the input")
			}
		})
	}
}

func TestDecodeRequestAllocs(t *testing.T) {
	frames := [][]byte{
		kv(t, "op", "ping", "rid", 1, "d", map[string]any{}),
		kv(t, "op", "lobby.send", "d", map[string]any{"data": bytes.Repeat([]byte{1}, 64), "to": []string{"a", "b"}}),
		kv(t, "op", 1, "rid", 2),
		{0xc1},
	}
	var r Request
	for _, f := range frames {
		if a := testing.AllocsPerRun(100, func() { _ = DecodeRequest(f, &r) }); a != 0 {
			t.Errorf("DecodeRequest(%x): %v allocs/op, want 0", f, a)
		}
	}
}
