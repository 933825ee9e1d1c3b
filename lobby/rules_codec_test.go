package lobby

import (
	"math"
	"reflect"
	"testing"

	"github.com/lobbyd/lobbyd/protocol"
)

// TestDocRoundTrip: a Doc decoded from its stored form gives the same views
// (attr number types included), checks the same password and keeps each
// member's shard, so the Redis store answers exactly as the memory store.
func TestDocRoundTrip(t *testing.T) {
	pepper := []byte("pepper")
	p, err := CheckCreate(protocol.CreateLobby{
		Name: "L", MaxPlayers: 4, Visibility: protocol.VisibilityPublic, Password: "pw", Mode: "ctf",
		Attrs: protocol.Attrs{"i": 3, "big": uint64(math.MaxUint64), "f": 0.5, "s": "x", "neg": -7},
		Data:  protocol.RawMap{0x81, 0xa1, 'k', 0x01},
	})
	if err != nil {
		t.Fatal(err)
	}
	d := NewDoc("id1", 1000, Actor{UserID: "h", Name: "H"}, "a", p, pepper)
	d.Code, d.Seq = "ABCDEF", 9
	d.Join(SinkFunc(func(*Event) {}), Actor{UserID: "u", Name: "U"}, 2000, "b")
	b, err := AppendDoc([]byte("x"), d)
	if err != nil || b[0] != 'x' {
		t.Fatal(err, b)
	}
	got, err := DecodeDoc(b[1:])
	if err != nil {
		t.Fatal(err)
	}
	if want, have := d.View(true), got.View(true); !reflect.DeepEqual(want, have) {
		t.Errorf("views differ:\n got %#v\nwant %#v", have, want)
	}
	if !got.PW.Check(pepper, "pw") || got.PW.Check(pepper, "no") {
		t.Error("password check after decoding")
	}
	if got.Seq != 9 || got.Member("u") == nil || got.Member("u").Shard != "b" || got.Member("h").Shard != "a" {
		t.Errorf("decoded %+v", got)
	}
	if _, err := DecodeDoc([]byte{0xc1}); err == nil {
		t.Error("garbage decoded")
	}
}
