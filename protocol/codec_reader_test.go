package protocol

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

func TestReaderScalars(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   any
		uint uint64
		uerr error
	}{
		{"fixint", 5, 5, nil},
		{"negfixint", -3, 0, ErrIntRange},
		{"uint8", uint8(200), 200, nil},
		{"uint16", uint16(60000), 60000, nil},
		{"uint32", uint32(1 << 31), 1 << 31, nil},
		{"uint64 max", uint64(math.MaxUint64), math.MaxUint64, nil},
		{"int8 positive", int8(100), 100, nil},
		{"int16 negative", int16(-300), 0, ErrIntRange},
		{"int32 negative", int32(-70000), 0, ErrIntRange},
		{"int64 min", int64(math.MinInt64), 0, ErrIntRange},
		{"float32", float32(1.5), 0, ErrWantUint},
		{"float64", 2.25, 0, ErrWantUint},
		{"string", "x", 0, ErrWantUint},
		{"nil", nil, 0, ErrWantUint},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := enc(t, tt.in)
			// The library keeps sized Go types in their sized forms
			// (int8(100) is d0 64), so both families are covered.
			r := newReader(b)
			u, err := r.ReadUint()
			if err != tt.uerr || (err == nil && u != tt.uint) {
				t.Errorf("ReadUint(%x) = %d, %v; want %d, %v", b, u, err, tt.uint, tt.uerr)
			}
			if err != nil && r.Len() != len(b) {
				t.Errorf("ReadUint moved the cursor on %v", err)
			}
		})
	}
}

func TestReaderSignedForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   []byte
		want int64
	}{
		{[]byte{0xd0, 0x80}, -128},
		{[]byte{0xd0, 0x7f}, 127},
		{[]byte{0xd1, 0xff, 0xfe}, -2},
		{[]byte{0xd2, 0x00, 0x00, 0x01, 0x00}, 256},
		{[]byte{0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, -1},
	}
	for _, tt := range tests {
		r := newReader(tt.in)
		u, err := r.ReadUint()
		if tt.want >= 0 && (err != nil || u != uint64(tt.want) || r.Len() != 0) {
			t.Errorf("ReadUint(%x) = %d, %v; want %d", tt.in, u, err, tt.want)
		}
		if tt.want < 0 && err != ErrIntRange {
			t.Errorf("ReadUint(%x) error = %v; want ErrIntRange", tt.in, err)
		}
	}
}

func TestReaderStringsAndBytes(t *testing.T) {
	t.Parallel()
	long := string(bytes.Repeat([]byte("a"), 70000))
	for _, s := range []string{"", "op", string(bytes.Repeat([]byte("b"), 31)), string(bytes.Repeat([]byte("c"), 200)), string(bytes.Repeat([]byte("d"), 300)), long} {
		b := enc(t, s)
		r := newReader(b)
		got, err := r.ReadString()
		if err != nil || string(got) != s || r.Len() != 0 {
			t.Fatalf("ReadString(len %d) = len %d, %v", len(s), len(got), err)
		}
		if !within(got, b) || cap(got) != len(got) {
			t.Errorf("ReadString result is not a clipped sub-slice of the input")
		}
		r.Reset(b)
		if _, err := r.ReadBytes(); err != ErrWantBinary {
			t.Errorf("ReadBytes on a str: %v, want ErrWantBinary", err)
		}
		bin := enc(t, []byte(s))
		r.Reset(bin)
		gotb, err := r.ReadBytes()
		if err != nil || string(gotb) != s || r.Len() != 0 {
			t.Fatalf("ReadBytes(len %d) = len %d, %v", len(s), len(gotb), err)
		}
		r.Reset(bin)
		if _, err := r.ReadString(); err != ErrWantString {
			t.Errorf("ReadString on a bin: %v, want ErrWantString", err)
		}
	}
}

func TestReaderNilKind(t *testing.T) {
	t.Parallel()
	r := newReader([]byte{0xc0, 0x01})
	if !r.IsNil() || r.Kind() != kindNil {
		t.Fatal("IsNil false before a nil")
	}
	if err := r.skip(0); err != nil {
		t.Fatal(err)
	}
	if r.IsNil() || r.Kind() != kindInt {
		t.Fatal("IsNil true before an int")
	}
	kinds := map[byte]kind{0x00: kindInt, 0xff: kindInt, 0x80: kindMap, 0x90: kindArray, 0xa0: kindString,
		0xc0: kindNil, 0xc1: kindInvalid, 0xc2: kindBool, 0xc4: kindBinary, 0xc7: kindExt, 0xca: kindFloat,
		0xcf: kindInt, 0xd3: kindInt, 0xd8: kindExt, 0xd9: kindString, 0xdd: kindArray, 0xdf: kindMap}
	for c, want := range kinds {
		r := newReader([]byte{c})
		if got := r.Kind(); got != want {
			t.Errorf("kind(%#x) = %d, want %d", c, got, want)
		}
	}
	var empty reader
	if empty.Kind() != kindInvalid || empty.IsNil() {
		t.Error("empty reader has a kind")
	}
}

// Every length claim beyond the bytes left is refused before use, and every
// truncation is an error, never a panic.
func TestReaderLengthChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []byte
		read func(*reader) error
		want error
	}{
		{"map32 of 50M", []byte{0xdf, 0x02, 0xfa, 0xf0, 0x80}, mapHdr, ErrLength},
		{"map16 one entry, one byte", []byte{0xde, 0x00, 0x01, 0x01}, mapHdr, ErrLength},
		{"fixmap 2 entries, 3 bytes", []byte{0x82, 1, 2, 3}, mapHdr, ErrLength},
		{"map32 header cut", []byte{0xdf, 0x00, 0x00}, mapHdr, ErrTruncated},
		{"array32 of 50M", []byte{0xdd, 0x02, 0xfa, 0xf0, 0x80}, arrHdr, ErrLength},
		{"array16 cut", []byte{0xdc, 0x00}, arrHdr, ErrTruncated},
		{"fixarray 3, 2 bytes", []byte{0x93, 1, 2}, arrHdr, ErrLength},
		{"str32 of 4G", []byte{0xdb, 0xff, 0xff, 0xff, 0xff, 'a'}, str, ErrLength},
		{"str8 cut", []byte{0xd9}, str, ErrTruncated},
		{"fixstr 5, 2 bytes", []byte{0xa5, 'a', 'b'}, str, ErrLength},
		{"bin32 of 4G", []byte{0xc6, 0xff, 0xff, 0xff, 0xff}, bin, ErrLength},
		{"bin16 cut", []byte{0xc5, 0x01}, bin, ErrTruncated},
		{"uint64 cut", []byte{0xcf, 1, 2, 3}, uintR, ErrTruncated},
		{"int32 cut", []byte{0xd2, 1}, uintR, ErrTruncated},
		{"float64 cut", []byte{0xcb, 1, 2}, skipR, ErrTruncated},
		{"float32 cut", []byte{0xca, 1, 2}, skipR, ErrTruncated},
		{"empty map", nil, mapHdr, ErrTruncated},
		{"empty str", nil, str, ErrTruncated},
		{"empty bin", nil, bin, ErrTruncated},
		{"empty arr", nil, arrHdr, ErrTruncated},
		{"empty uint", nil, uintR, ErrTruncated},
		{"empty value", nil, skipR, ErrTruncated},
		{"map wrong type", []byte{0x90}, mapHdr, ErrWantMap},
		{"array wrong type", []byte{0x80}, arrHdr, ErrWantArray},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newReader(tt.in)
			if err := tt.read(&r); err != tt.want {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func mapHdr(r *reader) error { _, err := r.ReadMapHeader(); return err }
func arrHdr(r *reader) error { _, err := r.ReadArrayHeader(); return err }
func str(r *reader) error    { _, err := r.ReadString(); return err }
func bin(r *reader) error    { _, err := r.ReadBytes(); return err }
func uintR(r *reader) error  { _, err := r.ReadUint(); return err }
func skipR(r *reader) error  { return r.skip(0) }

func TestSkipOneValue(t *testing.T) {
	t.Parallel()
	inner := kv(t, "a", []any{1, "x", map[string]any{"b": nil}})
	r := newReader(cat(inner, []byte{0x07}))
	if err := r.skip(0); err != nil || r.Len() != 1 {
		t.Fatalf("skip = %v (left %d); want 1 byte left after %x", err, r.Len(), inner)
	}
}

// validValues are values a client or the library may produce; Validate
// must accept each, and consume it exactly as the library does.
func validValues(t testing.TB) [][]byte {
	big := make([]any, 300)
	for i := range big {
		big[i] = i
	}
	bigMap := map[string]any{}
	for i := 0; i < 40; i++ {
		bigMap[string(rune('A'+i))] = float32(i)
	}
	vals := []any{
		nil, true, false, 0, -1, 127, -32, -33, 255, 65535, 1 << 20, int64(math.MinInt64), uint64(math.MaxUint64),
		1.5, float32(2.5), "", "hello", string(bytes.Repeat([]byte("z"), 70000)),
		[]byte{}, []byte{1, 2, 3}, bytes.Repeat([]byte{9}, 300), bytes.Repeat([]byte{9}, 70000),
		[]any{}, []any{1, "a", nil}, big, map[string]any{}, bigMap,
		map[string]any{"op": "lobby.send", "rid": 7, "d": map[string]any{"data": []byte("hi"), "to": []string{"u1", "u2"}}},
		time.Unix(1700000000, 0), time.Unix(1700000000, 5), time.Unix(1<<40, 5),
	}
	out := make([][]byte, 0, len(vals)+1)
	for _, v := range vals {
		out = append(out, enc(t, v))
	}
	return append(out, nested(MaxDepth))
}

func TestValidateAcceptsValid(t *testing.T) {
	t.Parallel()
	for _, b := range validValues(t) {
		if err := validate(b, false); err != nil {
			t.Errorf("Validate(%.40x) = %v", b, err)
		}
		var v any
		if err := msgpack.Unmarshal(b, &v); err != nil {
			t.Errorf("library refuses %.40x: %v", b, err)
		}
	}
}

func TestValidateErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrEmpty},
		{"0xc1", []byte{0xc1}, ErrInvalidCode},
		{"trailing", []byte{0x01, 0x02}, ErrTrailing},
		{"map32 of 50M", []byte{0xdf, 0x02, 0xfa, 0xf0, 0x80}, ErrLength},
		{"array32 of 50M", []byte{0xdd, 0x02, 0xfa, 0xf0, 0x80}, ErrLength},
		{"nested claim", []byte{0x91, 0xdd, 0x02, 0xfa, 0xf0, 0x80}, ErrLength},
		{"too deep", nested(MaxDepth + 1), ErrTooDeep},
		{"deep maps", bytes.Repeat([]byte{0x81, 0xa1, 'k'}, 40), ErrTooDeep},
		{"int key", []byte{0x81, 0x01, 0x02}, ErrMapKey},
		{"bin key", []byte{0x81, 0xc4, 0x01, 'k', 0x02}, ErrMapKey},
		{"map value missing", []byte{0x81, 0xa1, 'k'}, ErrTruncated},
		{"array then trailing", []byte{0x92, 0x01, 0xc0, 0x00}, ErrTrailing},
		{"truncated element", []byte{0x91, 0xcd, 0x01}, ErrTruncated},
		{"str cut", []byte{0xa3, 'a'}, ErrLength},
		{"ext other type", []byte{0xd6, 0x05, 1, 2, 3, 4}, ErrExtension},
		{"timestamp bad size", []byte{0xd5, 0xff, 1, 2}, ErrExtension},
		{"ext8 timestamp cut", []byte{0xc7, 0x0c, 0xff, 1, 2}, ErrLength},
		{"ext32 4G", []byte{0xc9, 0xff, 0xff, 0xff, 0xff, 0xff}, ErrLength},
		{"ext header cut", []byte{0xc8, 0x00}, ErrTruncated},
		{"fixext no type", []byte{0xd4}, ErrTruncated},
		{"uint16 cut", []byte{0xcd, 0x01}, ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := validate(tt.in, false); err != tt.want {
				t.Errorf("Validate(%x) = %v, want %v", tt.in, err, tt.want)
			}
			var pe *Error
			if err := validate(tt.in, false); !errors.As(err, &pe) || pe.Code != CodeBadRequest {
				t.Errorf("error %v is not a bad_request *Error", err)
			}
		})
	}
}

// Rejecting a hostile length claim costs nothing: no allocation at all.
func TestHugeClaimsAllocateNothing(t *testing.T) {
	frames := [][]byte{
		{0xdd, 0x02, 0xfa, 0xf0, 0x80}, // array of 50M
		{0xdf, 0x02, 0xfa, 0xf0, 0x80}, // map of 50M
		{0xdb, 0x02, 0xfa, 0xf0, 0x80}, // str of 50M bytes
		{0xc6, 0x02, 0xfa, 0xf0, 0x80}, // bin of 50M bytes
	}
	var req Request
	var send SendReq
	var body CreateLobby
	for _, f := range frames {
		var errs [4]error
		allocs := testing.AllocsPerRun(100, func() {
			errs[0] = validate(f, false)
			errs[1] = DecodeRequest(f, &req)
			errs[2] = DecodeSend(f, &send)
			errs[3] = DecodeBody(f, &body)
		})
		if allocs != 0 {
			t.Errorf("%x: %v allocs/op, want 0", f, allocs)
		}
		for i, err := range errs {
			if err == nil {
				t.Errorf("%x: decoder %d accepted it", f, i)
			}
		}
	}
}

func TestValidateFinite(t *testing.T) {
	cases := []struct {
		name string
		b    []byte
		ok   bool
	}{
		{"float64 1", []byte{0x81, 0xa1, 'x', 0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0}, true},
		{"float64 NaN", []byte{0x81, 0xa1, 'x', 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1}, false},
		{"float64 +Inf", []byte{0x81, 0xa1, 'x', 0xcb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0}, false},
		{"float64 -Inf", []byte{0x81, 0xa1, 'x', 0xcb, 0xff, 0xf0, 0, 0, 0, 0, 0, 0}, false},
		{"float32 max", []byte{0x81, 0xa1, 'x', 0xca, 0x7f, 0x7f, 0xff, 0xff}, true},
		{"float32 NaN in array", []byte{0x81, 0xa1, 'x', 0x92, 0x01, 0xca, 0x7f, 0xc0, 0, 0}, false},
		{"float32 -Inf in map", []byte{0x81, 0xa1, 'x', 0x81, 0xa1, 'y', 0xca, 0xff, 0x80, 0, 0}, false},
		{"truncated float", []byte{0x81, 0xa1, 'x', 0xcb, 0x7f, 0xf0}, false},
		{"NaN bytes inside a string", []byte{0x81, 0xa1, 'x', 0xa3, 0xcb, 0x7f, 0xf8}, true},
	}
	for _, c := range cases {
		err := ValidateFinite(c.b)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, err)
		}
		if !c.ok && c.name != "truncated float" && err != ErrNonFinite {
			t.Errorf("%s: %v, want ErrNonFinite", c.name, err)
		}
		if c.name != "truncated float" && validate(c.b, false) != nil {
			t.Errorf("%s: Validate refuses it: %v", c.name, validate(c.b, false))
		}
	}
}
