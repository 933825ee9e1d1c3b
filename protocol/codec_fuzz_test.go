package protocol

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// Fuzz invariants, for any input: no panic; every error is a bad_request
// *Error; results are sub-slices of the input (so nothing larger than the
// input is ever allocated); no allocation at all (checked on a sample of
// inputs, as AllocsPerRun is slow); and on input we accept, the msgpack
// library decodes the same thing.

// seedFrames are real requests (from the library and from kv), and events
// and replies from our encoders.
func seedFrames(t testing.TB) [][]byte {
	data := bytes.Repeat([]byte{0x5a}, 64)
	frames := [][]byte{
		kv(t, "op", "ping", "rid", 1, "d", map[string]any{}),
		kv(t, "op", "lobby.send", "rid", 0, "d", map[string]any{"data": data}),
		kv(t, "rid", 70000, "op", "lobby.send", "d", kv(t, "data", data, "to", []string{"u1", "u2", "u3"})),
		kv(t, "op", "lobby.create", "rid", 2, "d", map[string]any{"name": "r", "max_players": 4, "visibility": "public",
			"attrs": map[string]any{"m": "ctf", "n": 2.5}, "data": map[string]any{"x": []any{1, nil, true}}}),
		kv(t, "op", "mm.enqueue", "rid", uint32(1<<32-1), "d", map[string]any{"queue": "duel", "skill": 1500.5}),
		kv(t, "op", "x", "rid", -1, "d", "bad"),
		kv(t, raw{0x01}, 1, "rid", 5, "op", 3),
		AppendReplyErr(nil, 3, CodeBadRequest, "op is required"),
		AppendDataEvent(nil, "user", data),
		AppendPong(nil, 9, 1700000000000),
		enc(t, map[string]any{"op": "lobby.chat", "rid": 4, "d": map[string]any{"text": "hi", "ts": enc(t, nil)}}),
		{0xdd, 0x02, 0xfa, 0xf0, 0x80},
		{0xdf, 0x02, 0xfa, 0xf0, 0x80},
		nested(MaxDepth + 1),
		{0xd6, 0xff, 0, 0, 0, 1},
	}
	if ev, err := AppendEvent(nil, EvMatched, MatchedEv{TicketID: "t", Teams: [][]string{{"a"}, {"b"}}}); err == nil {
		frames = append(frames, ev)
	}
	for _, f := range frames[:len(frames):len(frames)] {
		for _, n := range []int{1, len(f) / 2, len(f) - 1} {
			if n > 0 && n < len(f) {
				frames = append(frames, f[:n:n])
			}
		}
	}
	return frames
}

func badRequest(t *testing.T, err error) {
	t.Helper()
	var pe *Error
	if !errors.As(err, &pe) || pe.Code != CodeBadRequest {
		t.Fatalf("error %v is not a bad_request *Error", err)
	}
}

// sample picks about one input in 64 for the slower allocation check.
func sample(b []byte) bool {
	var h byte
	for _, c := range b {
		h = h*31 + c
	}
	return h&63 == 0
}

func FuzzValidate(f *testing.F) {
	for _, b := range seedFrames(f) {
		f.Add(b)
	}
	for _, b := range validValues(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := validate(b, false)
		if sample(b) {
			if a := testing.AllocsPerRun(1, func() { _ = validate(b, false) }); a != 0 {
				t.Fatalf("Validate allocated %v times", a)
			}
		}
		// The library is only run where it is safe: on accepted input, and
		// on input rejected for a structural reason found at a point that
		// every length claim before it was checked (not ErrLength, which is
		// a hostile claim the library would try to allocate for, nor our
		// policy errors, after which claims are unchecked).
		libWhole := func() bool {
			var v any
			br := bytes.NewReader(b)
			err := msgpack.NewDecoder(br).Decode(&v)
			return err == nil && br.Len() == 0
		}
		if err == nil {
			if !libWhole() {
				t.Fatalf("Validate accepts %x; the library does not decode it whole", b)
			}
			r := newReader(b)
			if err := r.skip(0); err != nil || r.Len() != 0 {
				t.Fatalf("skip disagrees with validate: %v (left %d)", err, r.Len())
			}
			return
		}
		badRequest(t, err)
		switch err {
		case ErrEmpty, ErrTruncated, ErrInvalidCode, ErrTrailing:
			if libWhole() {
				t.Fatalf("Validate(%x) = %v, but the library decodes it whole", b, err)
			}
		}
	})
}

func FuzzDecodeRequest(f *testing.F) {
	for _, b := range seedFrames(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Request
		err := DecodeRequest(b, &r)
		if sample(b) {
			var r2 Request
			if a := testing.AllocsPerRun(1, func() { _ = DecodeRequest(b, &r2) }); a != 0 {
				t.Fatalf("DecodeRequest allocated %v times", a)
			}
		}
		if err != nil {
			badRequest(t, err)
			if r.Op != nil || r.D != nil {
				t.Fatal("Op or D set on error")
			}
			return
		}
		if len(r.Op) == 0 || len(r.Op) > MaxOpBytes || !within(r.Op, b) || !within(r.D, b) {
			t.Fatalf("Op %q / D %x not a bounded sub-slice of the input", r.Op, r.D)
		}
		if validate(b, false) != nil || (r.D != nil && (validate(r.D, false) != nil || !IsMapHeader(r.D))) {
			t.Fatalf("accepted a frame Validate refuses: %x", b)
		}
		var m map[string]any
		if err := msgpack.Unmarshal(b, &m); err != nil {
			t.Fatalf("library refuses accepted frame %x: %v", b, err)
		}
		if m["op"] != string(r.Op) {
			t.Fatalf("op: library %#v, ours %q", m["op"], r.Op)
		}
		var want uint64
		if v, ok := m["rid"]; ok {
			rv := reflect.ValueOf(v)
			if rv.CanUint() {
				want = rv.Uint()
			} else {
				want = uint64(rv.Int())
			}
		}
		if want != uint64(r.Rid) {
			t.Fatalf("rid: library %d, ours %d", want, r.Rid)
		}
		if d := m["d"]; (d == nil) != (r.D == nil) {
			t.Fatalf("d: library %#v, ours %x", d, r.D)
		}
	})
}

func FuzzDecodeSend(f *testing.F) {
	for _, b := range seedFrames(f) {
		var r Request
		if DecodeRequest(b, &r) == nil && r.D != nil {
			f.Add(r.D)
		}
		f.Add(b)
	}
	f.Add(kv(f, "data", []byte{}, "to", nil))
	f.Add(kv(f, "data", []byte("x"), "to", []string{}))
	f.Fuzz(func(t *testing.T, d []byte) {
		var s SendReq
		err := DecodeSend(d, &s)
		if sample(d) {
			var s2 SendReq
			s2.To = make([][]byte, 0, MaxSendTo)
			if a := testing.AllocsPerRun(1, func() { _ = DecodeSend(d, &s2) }); a != 0 {
				t.Fatalf("DecodeSend allocated %v times", a)
			}
		}
		if err != nil {
			badRequest(t, err)
			if s.Data != nil || len(s.To) != 0 {
				t.Fatal("Data or To set on error")
			}
			return
		}
		if s.Data == nil || !within(s.Data, d) || len(s.To) > MaxSendTo {
			t.Fatal("Data not a sub-slice of the input, or To too long")
		}
		for _, id := range s.To {
			if !within(id, d) {
				t.Fatal("To entry not a sub-slice of the input")
			}
		}
		if validate(d, false) != nil {
			t.Fatalf("accepted a body Validate refuses: %x", d)
		}
		var lib struct {
			Data []byte   `msgpack:"data"`
			To   []string `msgpack:"to"`
		}
		if err := msgpack.Unmarshal(d, &lib); err != nil {
			t.Fatalf("library refuses accepted body %x: %v", d, err)
		}
		if !bytes.Equal(lib.Data, s.Data) || len(lib.To) != len(s.To) {
			t.Fatalf("library %x %q, ours %x %q", lib.Data, lib.To, s.Data, s.To)
		}
		for i := range s.To {
			if lib.To[i] != string(s.To[i]) {
				t.Fatalf("to[%d]: library %q, ours %q", i, lib.To[i], s.To[i])
			}
		}
	})
}
