package cluster

import (
	"reflect"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/lobbyd/lobbyd/protocol"
)

// TestRecordCodecMatchesReflection: records written by the hand encoder
// read back, through the reflective decoder ResumePoint uses, as what was
// written, and so do records the reflective encoder wrote (earlier
// versions), for every optional field set or empty and ints of every size.
func TestRecordCodecMatchesReflection(t *testing.T) {
	entries := []recordEntry{
		{Last: 1, Sessions: []SessionDelivery{{ID: "s1", After: 3, Arrived: 1}}},
		{Last: 300, Sessions: []SessionDelivery{
			{ID: "a-session-id-longer-than-thirty-two-bytes", After: 70000, Arrived: 5, ArrivedIn: true, ArrivedAt: 299,
				Events: []uint64{298, 69999, 300, 70000}},
			{ID: "", After: 0, Arrived: 0, ArrivedAt: 1 << 40},
			{ID: "x", After: 1 << 33, Arrived: 200, Events: []uint64{1, 2}, Derive: true},
			{ID: "y", After: 9, Arrived: 2, ArrivedIn: true, ArrivedAt: 7, Events: []uint64{8, 9}, Derive: true},
		}},
		{Last: 1 << 63, Sessions: []SessionDelivery{}},
	}
	var b []byte
	b = protocol.AppendArrayHeader(b, len(entries))
	for _, e := range entries {
		b = appendRecordEntry(b, e.Last, e.Sessions)
	}
	var got []recordEntry
	if err := msgpack.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normalized(got), normalized(entries)) {
		t.Fatalf("hand-encoded records read back as\n%+v\nwant\n%+v", got, entries)
	}
	old, err := msgpack.Marshal(entries)
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	if err := msgpack.Unmarshal(old, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normalized(got), normalized(entries)) {
		t.Fatalf("reflective records read back as\n%+v\nwant\n%+v", got, entries)
	}
}

// normalized makes empty and nil slices alike (the decoder makes either).
func normalized(es []recordEntry) []recordEntry {
	out := make([]recordEntry, len(es))
	for i, e := range es {
		out[i].Last = e.Last
		for _, p := range e.Sessions {
			if len(p.Events) == 0 {
				p.Events = nil
			}
			out[i].Sessions = append(out[i].Sessions, p)
		}
	}
	return out
}

// BenchmarkRecordEncode is one record entry of a lobby of 8 split 4/4 (four
// sessions here, three with an event): the hand encoder against the
// reflective one it replaced.
func BenchmarkRecordEncode(b *testing.B) {
	sessions := []SessionDelivery{
		{ID: "0123456789abcdef0123456789abcdef", After: 1200, Arrived: 3},
		{ID: "1123456789abcdef0123456789abcdef", After: 1201, Arrived: 3, Events: []uint64{5000, 1201}},
		{ID: "2123456789abcdef0123456789abcdef", After: 1202, Arrived: 3, Events: []uint64{5000, 1202}},
		{ID: "3123456789abcdef0123456789abcdef", After: 1203, Arrived: 3, Events: []uint64{5000, 1203}},
	}
	b.Run("hand", func(b *testing.B) {
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			buf = appendRecordEntry(protocol.AppendArrayHeader(buf[:0], 1), 5000, sessions)
		}
	})
	b.Run("reflect", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := msgpack.Marshal([]recordEntry{{Last: 5000, Sessions: sessions}}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
