package protocol

import (
	"testing"
	"unsafe"

	"github.com/vmihailenco/msgpack/v5"
)

// raw is a value already encoded, for kv.
type raw []byte

// kv encodes a map whose keys and values come in the given order (the
// msgpack library would shuffle a Go map): keys are strings, or raw for a
// hand-made key; values are raw or anything msgpack.Marshal encodes.
func kv(t testing.TB, pairs ...any) []byte {
	t.Helper()
	if len(pairs)%2 != 0 {
		t.Fatal("kv: odd number of arguments")
	}
	b := appendMapHeader(nil, len(pairs)/2)
	for i, p := range pairs {
		if i%2 == 0 {
			if s, ok := p.(string); ok {
				b = appendStr(b, s)
				continue
			}
		}
		b = append(b, enc(t, p)...)
	}
	return b
}

// enc encodes v with the msgpack library (raw passes through).
func enc(t testing.TB, v any) []byte {
	t.Helper()
	if r, ok := v.(raw); ok {
		return r
	}
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatalf("msgpack.Marshal(%#v): %v", v, err)
	}
	return b
}

// cat concatenates byte slices into a new one.
func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// nested returns depth arrays nested in one another around a 0.
func nested(depth int) []byte {
	b := make([]byte, 0, depth+1)
	for i := 0; i < depth; i++ {
		b = append(b, 0x91)
	}
	return append(b, 0x00)
}

// within reports whether sub lies inside buf's memory (or is empty).
func within(sub, buf []byte) bool {
	if len(sub) == 0 {
		return true
	}
	if len(buf) == 0 {
		return false
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(sub)))
	return p >= lo && p+uintptr(len(sub)) <= lo+uintptr(len(buf))
}

// decodeAny decodes b with the msgpack library into a generic value, as a
// client would.
func decodeAny(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := msgpack.Unmarshal(b, &m); err != nil {
		t.Fatalf("msgpack.Unmarshal(%x): %v", b, err)
	}
	return m
}
