package protocol

import (
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestDecodeBody(t *testing.T) {
	t.Parallel()
	t.Run("create", func(t *testing.T) {
		in := kv(t, "name", "room", "max_players", 8, "visibility", "public", "attrs",
			map[string]any{"map": "de_dust", "tier": 3, "ratio": 1.5}, "data", map[string]any{"k": []any{1}}, "future", true)
		var c CreateLobby
		if err := DecodeBody(in, &c); err != nil {
			t.Fatal(err)
		}
		if c.Name != "room" || c.MaxPlayers != 8 || c.Visibility != "public" {
			t.Errorf("decoded %+v", c)
		}
		want := Attrs{"map": "de_dust", "tier": int64(3), "ratio": 1.5}
		if !reflect.DeepEqual(c.Attrs, want) {
			t.Errorf("Attrs = %#v, want %#v (loose number types)", c.Attrs, want)
		}
		if !IsMapHeader(c.Data) || !reflect.DeepEqual(decodeAny(t, c.Data), map[string]any{"k": []any{int8(1)}}) {
			t.Errorf("Data = %x", []byte(c.Data))
		}
	})
	t.Run("update pointers", func(t *testing.T) {
		var u UpdateLobby
		if err := DecodeBody(kv(t, "locked", true, "max_players", 4), &u); err != nil {
			t.Fatal(err)
		}
		if u.Locked == nil || !*u.Locked || u.MaxPlayers == nil || *u.MaxPlayers != 4 || u.Name != nil || u.Attrs != nil || u.Data != nil {
			t.Errorf("decoded %+v", u)
		}
	})
	t.Run("enqueue skill int", func(t *testing.T) {
		var e Enqueue
		if err := DecodeBody(kv(t, "queue", "duel", "skill", 1200, "party", true), &e); err != nil {
			t.Fatal(err)
		}
		if e.Queue != "duel" || e.Skill == nil || *e.Skill != 1200 || !e.Party {
			t.Errorf("decoded %+v", e)
		}
	})
	t.Run("absent or nil leaves zero", func(t *testing.T) {
		for _, d := range [][]byte{nil, {}, {0xc0}, {0x80}} {
			var c Chat
			if err := DecodeBody(d, &c); err != nil || c != (Chat{}) {
				t.Errorf("DecodeBody(%x) = %v, %+v", d, err, c)
			}
		}
	})
}

func TestDecodeBodyErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      []byte
		v       any
		want    error  // exact error, or nil to check wantMsg
		wantMsg string // substring of a built *Error's message
	}{
		{"not a map", enc(t, []any{1}), &Chat{}, ErrBodyNotMap, ""},
		{"string", enc(t, "x"), &Chat{}, ErrBodyNotMap, ""},
		{"map of 50M", []byte{0xdf, 0x02, 0xfa, 0xf0, 0x80}, &CreateLobby{}, ErrLength, ""},
		{"nested huge claim", kv(t, "attrs", raw{0xdf, 0x02, 0xfa, 0xf0, 0x80}), &CreateLobby{}, ErrLength, ""},
		{"too deep", kv(t, "data", raw(nested(MaxDepth))), &CreateLobby{}, ErrTooDeep, ""},
		{"trailing", cat(kv(t, "text", "hi"), []byte{0}), &Chat{}, ErrTrailing, ""},
		{"int key", kv(t, raw{0x02}, 1), &Chat{}, ErrMapKey, ""},
		{"text int", kv(t, "text", 5), &Chat{}, nil, `"text"`},
		{"max_players string", kv(t, "name", "n", "max_players", "8"), &CreateLobby{}, nil, `"max_players"`},
		{"data not map", kv(t, "name", "n", "data", []any{1}), &CreateLobby{}, nil, `"data"`},
		{"ready string", kv(t, "ready", "yes"), &SetMember{}, nil, `"ready"`},
		{"skill string", kv(t, "queue", "q", "skill", "high"), &Enqueue{}, nil, `"skill"`},
		{"attrs array", kv(t, "attrs", []any{1}), &CreateLobby{}, nil, `"attrs"`},
		{"attrs bool value", kv(t, "attrs", map[string]any{"a": true}), &CreateLobby{}, ErrAttrsValue, ""},
		{"attrs nested map", kv(t, "attrs", map[string]any{"a": map[string]any{}}), &UpdateLobby{}, ErrAttrsValue, ""},
		{"attrs NaN", kv(t, "attrs", map[string]any{"a": math.NaN()}), &Enqueue{}, ErrAttrsValue, ""},
		{"attrs long string", kv(t, "attrs", map[string]any{"a": strings.Repeat("s", 257)}), &CreateLobby{}, ErrAttrsString, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := DecodeBody(tt.in, tt.v)
			var pe *Error
			if !errors.As(err, &pe) || pe.Code != CodeBadRequest {
				t.Fatalf("err = %v, want a bad_request *Error", err)
			}
			if tt.want != nil && err != tt.want {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if tt.wantMsg != "" && !strings.Contains(pe.Msg, tt.wantMsg) {
				t.Errorf("msg = %q, want it to name %s", pe.Msg, tt.wantMsg)
			}
		})
	}
	if err := DecodeBody(kv(t, "text", "x"), Chat{}); err == nil {
		t.Error("DecodeBody into a non-pointer succeeded")
	}
}

func TestValidateAttrs(t *testing.T) {
	t.Parallel()
	many := Attrs{}
	for i := 0; i < MaxAttrs+1; i++ {
		many[strings.Repeat("k", i+1)] = i
	}
	tests := []struct {
		name string
		in   Attrs
		want error
	}{
		{"nil", nil, nil},
		{"mixed", Attrs{"s": "x", "i": int64(-1), "u": uint64(1), "f": 2.5, "g": float32(1), "n": 3}, nil},
		{"17 keys", many, ErrAttrsTooMany},
		{"empty key", Attrs{"": 1}, ErrAttrsKey},
		{"long key", Attrs{strings.Repeat("k", 65): 1}, ErrAttrsKey},
		{"bool", Attrs{"b": false}, ErrAttrsValue},
		{"nil value", Attrs{"b": nil}, ErrAttrsValue},
		{"slice", Attrs{"b": []any{}}, ErrAttrsValue},
		{"inf", Attrs{"b": math.Inf(1)}, ErrAttrsValue},
		{"long string", Attrs{"b": strings.Repeat("v", 257)}, ErrAttrsString},
		{"256 byte string", Attrs{"b": strings.Repeat("v", 256)}, nil},
	}
	for _, tt := range tests {
		if err := ValidateAttrs(tt.in); err != tt.want {
			t.Errorf("%s: ValidateAttrs = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestAttrString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   any
		want string
		ok   bool
	}{
		{"x", "x", true}, {int64(-3), "-3", true}, {uint64(18446744073709551615), "18446744073709551615", true},
		{3.0, "3", true}, {2.5, "2.5", true}, {float32(0.1), "0.1", true}, {7, "7", true},
		{int8(-3), "-3", true}, {uint16(7), "7", true}, {int64(math.MinInt64), "-9223372036854775808", true},
		{float32(2.5), "2.5", true}, {1e21, "1e+21", true}, {1e20, "1e+20", true}, {-0.0, "0", true},
		{true, "", false}, {nil, "", false},
	}
	for _, tt := range tests {
		if got, ok := AttrString(tt.in); got != tt.want || ok != tt.ok {
			t.Errorf("AttrString(%#v) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// A body bomb is refused by its length and headers before the msgpack
// library decodes anything: it used to build the whole map first (13,353
// allocations and 0.7 MB for 13,358 attrs keys in 64 KiB; 3,500 in 16 KiB)
// and only then count it. Allocations are what the test pins, not time.
func TestBodyBombRefusedBeforeDecoding(t *testing.T) {
	for _, bc := range []struct {
		name string
		d    []byte
		want error
	}{
		{"attrs in 64 KiB", bomb(t, 64<<10, "attrs"), ErrBodyTooLarge},
		{"attrs in 16 KiB", bomb(t, 16<<10, "attrs"), ErrAttrsTooMany},
		{"17 attrs", kv(t, "name", "r", "attrs", map[string]any{"a": 1, "b": 1, "c": 1, "d": 1, "e": 1, "f": 1, "g": 1, "h": 1,
			"i": 1, "j": 1, "k": 1, "l": 1, "m": 1, "n": 1, "o": 1, "p": 1, "q": 1}), ErrAttrsTooMany},
		{"unknown keys in 16 KiB", unknownKeys(16 << 10), ErrBodyKeys},
	} {
		var err error
		allocs := testing.AllocsPerRun(5, func() {
			var p CreateLobby
			err = DecodeBody(bc.d, &p)
		})
		if err != bc.want {
			t.Errorf("%s: %v, want %v", bc.name, err, bc.want)
		}
		if allocs > 2 {
			t.Errorf("%s: %.0f allocations before the refusal", bc.name, allocs)
		}
	}
	// A map of 64 unknown keys and 16 attrs is still a body.
	d := map[string]any{"name": "r", "max_players": 2, "visibility": "public", "attrs": map[string]any{}}
	for i := range 16 {
		d["attrs"].(map[string]any)[strconv.Itoa(i)] = i
	}
	for i := range 60 {
		d["x"+strconv.Itoa(i)] = i
	}
	var p CreateLobby
	if err := DecodeBody(kv(t, flatten(d)...), &p); err != nil || len(p.Attrs) != 16 {
		t.Fatalf("a body at the bounds: %v %v", err, p.Attrs)
	}
}

func flatten(m map[string]any) []any {
	var out []any
	for k, v := range m {
		out = append(out, k, v)
	}
	return out
}
