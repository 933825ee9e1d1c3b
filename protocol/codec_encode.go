package protocol

import (
	"reflect"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// The library encodes a nil slice as nil before it looks for a custom
// encoder, so a nil RawMap would go out as nil, not as the empty map its
// documentation (and the protocol: "data" is a map) promises. Registering
// the encoder for the type makes the library call it for nil too.
func init() {
	msgpack.Register(RawMap(nil), func(e *msgpack.Encoder, v reflect.Value) error {
		return v.Interface().(RawMap).EncodeMsgpack(e)
	}, nil)
}

// sliceWriter lets the msgpack encoder append to a caller's []byte instead
// of a bytes.Buffer of its own, so a reply or event is built in one buffer.
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *sliceWriter) WriteByte(c byte) error {
	w.b = append(w.b, c)
	return nil
}

type valueEncoder struct {
	w   sliceWriter
	enc *msgpack.Encoder
}

// valueEncoders reuses encoders across calls; a sync.Pool is safe for
// concurrent use.
var valueEncoders = sync.Pool{New: func() any {
	e := &valueEncoder{enc: msgpack.NewEncoder(nil)}
	// Integers in their smallest form (times, counts), as a client's own
	// encoder would write them; the flag survives ResetWriter.
	e.enc.UseCompactInts(true)
	return e
}}

// appendValue appends v encoded by the msgpack library; a nil v is an empty
// map, because every "d" of the protocol is a map. On error b is returned
// as it was.
func appendValue(b []byte, v any) ([]byte, error) {
	if v == nil {
		return append(b, 0x80), nil
	}
	e := valueEncoders.Get().(*valueEncoder)
	e.w.b = b
	e.enc.ResetWriter(&e.w)
	err := e.enc.Encode(v)
	out := e.w.b
	e.w.b = nil
	e.enc.ResetWriter(nil)
	valueEncoders.Put(e)
	if err != nil {
		return b, err
	}
	return out, nil
}
