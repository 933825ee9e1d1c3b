package lobby

import (
	"math"
	"strings"
	"testing"

	"github.com/lobbyd/lobbyd/protocol"
)

func TestCheckAttrs(t *testing.T) {
	got, err := checkAttrs(protocol.Attrs{"a": int8(1), "b": uint64(2), "c": float32(0.5), "d": "x"})
	if err != nil {
		t.Fatal(err)
	}
	want := protocol.Attrs{"a": int64(1), "b": int64(2), "c": 0.5, "d": "x"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %#v, want %#v", k, got[k], v)
		}
	}
	if f, _ := checkAttrs(protocol.Attrs{"f": float32(0.1)}); f["f"] != 0.1 {
		t.Errorf("float32 0.1 stored as %v", f["f"])
	}
	for _, bad := range []any{math.NaN(), math.Inf(1), []any{}, true, strings.Repeat("v", 257), "\xff"} {
		if _, err := checkAttrs(protocol.Attrs{"k": bad}); err == nil {
			t.Errorf("%#v accepted", bad)
		}
	}
	if a, err := checkAttrs(nil); a != nil || err != nil {
		t.Errorf("nil attrs: %v %v", a, err)
	}
	in := protocol.Attrs{"k": "v"}
	out, _ := checkAttrs(in)
	in["k"] = "changed"
	if out["k"] != "v" {
		t.Error("checkAttrs does not copy")
	}
}

func TestCheckDataCopies(t *testing.T) {
	in := protocol.RawMap{0x81, 0xa1, 'k', 0x01}
	out, err := checkData(in)
	if err != nil {
		t.Fatal(err)
	}
	in[3] = 0x02
	if out[3] != 0x01 {
		t.Error("checkData does not copy")
	}
	if _, err := checkData(protocol.RawMap{}); err == nil {
		t.Error("empty bytes accepted as a map")
	}
}

func TestCodes(t *testing.T) {
	if strings.ContainsAny(CodeAlphabet, "0O1IL") || len(CodeAlphabet) != 31 {
		t.Fatalf("alphabet %q", CodeAlphabet)
	}
	seen := map[string]bool{}
	counts := map[rune]int{}
	for range 2000 {
		c := NewCode()
		if len(c) != CodeLength || strings.Trim(c, CodeAlphabet) != "" {
			t.Fatalf("code %q", c)
		}
		seen[c] = true
		for _, r := range c {
			counts[r]++
		}
	}
	if len(seen) < 1990 {
		t.Errorf("only %d distinct codes of 2000", len(seen))
	}
	// 12,000 symbols over 31: about 387 each; every symbol must appear.
	if len(counts) != 31 {
		t.Errorf("%d symbols used", len(counts))
	}
	for _, c := range []struct{ in, want string }{{"abc234", "ABC234"}, {"ABC234", "ABC234"}, {"abc23", ""}, {"abc0o1", ""}, {"ßbc234", ""}} {
		got, ok := NormalizeCode(c.in)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("NormalizeCode(%q) = %q %v", c.in, got, ok)
		}
	}
}

func TestIDs(t *testing.T) {
	a, b := NewID(), NewID()
	if len(a) != 32 || a == b || strings.Trim(a, "0123456789abcdef") != "" {
		t.Errorf("ids %q %q", a, b)
	}
}

func TestCursor(t *testing.T) {
	for _, seq := range []uint64{1, 255, 1 << 40, math.MaxUint64 - 1} {
		got, err := DecodeCursor(EncodeCursor(seq))
		if err != nil || got != seq {
			t.Errorf("round trip %d: %d %v", seq, got, err)
		}
	}
	if got, err := DecodeCursor(""); err != nil || got != math.MaxUint64 {
		t.Errorf("empty cursor: %d %v", got, err)
	}
	for _, bad := range []string{"x", "AAAAAAAAAAA", "////////////", "AAAAAAAAAA=", "__________8", "AAAAAAAAAA!"} {
		if _, err := DecodeCursor(bad); err == nil {
			t.Errorf("cursor %q accepted", bad)
		}
	}
}

func TestPassword(t *testing.T) {
	pepper := []byte("pepper")
	h1, h2 := hashPassword(pepper, "secret"), hashPassword(pepper, "secret")
	if h1.Salt == h2.Salt || h1.Sum == h2.Sum {
		t.Error("salt not random")
	}
	if !h1.Check(pepper, "secret") || h1.Check(pepper, "Secret") || h1.Check(pepper, "") || h1.Check([]byte("other"), "secret") {
		t.Error("Check")
	}
}

func TestDefaultNameCutsLongIDs(t *testing.T) {
	cases := map[string]string{
		"ann":                          "ann",
		strings.Repeat("x", 32):        strings.Repeat("x", 32),
		strings.Repeat("x", 64):        strings.Repeat("x", 32),
		strings.Repeat("é", 31) + "xy": strings.Repeat("é", 31) + "x",
		strings.Repeat("🎮", 16):        strings.Repeat("🎮", 16),
	}
	for id, want := range cases {
		got := DefaultName(id)
		if got != want {
			t.Errorf("DefaultName(%q) = %q, want %q", id, got, want)
		}
		if a, err := CheckActor(Actor{UserID: id}); err != nil || a.Name != want {
			t.Errorf("CheckActor(%q): %+v %v", id, a, err)
		}
	}
}
