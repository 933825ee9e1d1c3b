package protocol

import (
	"bytes"
	"errors"
	"reflect"
	"strconv"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// The cold ops' bodies are decoded by vmihailenco/msgpack into the structs
// of requests.go: they are many, rarely sent, and reflection keeps them
// short. The library is only ever given bytes that validate accepted, so no
// length it reads can exceed the message.

type bodyDecoder struct {
	br  bytes.Reader
	dec *msgpack.Decoder
}

// bodyDecoders reuses decoders (and their scratch buffers) across calls; a
// sync.Pool is safe for concurrent use.
var bodyDecoders = sync.Pool{New: func() any {
	d := &bodyDecoder{dec: msgpack.NewDecoder(nil)}
	// Numbers in maps (attrs) as int64/uint64/float64, as Attrs documents.
	// The flag survives ResetReader.
	d.dec.UseLooseInterfaceDecoding(true)
	return d
}}

var errNotPointer = errors.New("protocol: DecodeBody needs a non-nil pointer")

// DecodeBody decodes the "d" of a cold op into v, a pointer to one of the
// request structs (or any type msgpack can decode a map into). An absent or
// nil d (len 0, or the single byte nil) leaves v untouched. Unknown keys are
// ignored. d must be a map; it is checked by validate before the library
// sees it. A value of the wrong type is a *Error with CodeBadRequest naming
// the field. For *CreateLobby, *UpdateLobby and *Enqueue, Attrs are checked
// with ValidateAttrs; the other rules (lengths, ranges) are the lobby's and
// matchmaking's.
func DecodeBody(d []byte, v any) error {
	if rv := reflect.ValueOf(v); rv.Kind() != reflect.Pointer || rv.IsNil() {
		return errNotPointer
	}
	if len(d) == 0 || (len(d) == 1 && d[0] == 0xc0) {
		return nil
	}
	if !IsMapHeader(d) {
		return ErrBodyNotMap
	}
	if len(d) > MaxBodyBytes {
		return ErrBodyTooLarge
	}
	if err := validateBody(d, hasAttrs(v)); err != nil {
		return err
	}
	if err := unmarshal(d, v); err != nil {
		return fieldError(d, reflect.TypeOf(v).Elem())
	}
	switch v := v.(type) {
	case *CreateLobby:
		return ValidateAttrs(v.Attrs)
	case *UpdateLobby:
		return ValidateAttrs(v.Attrs)
	case *Enqueue:
		return ValidateAttrs(v.Attrs)
	}
	return nil
}

// hasAttrs reports whether v is a body with an "attrs" map.
func hasAttrs(v any) bool {
	switch v.(type) {
	case *CreateLobby, *UpdateLobby, *Enqueue:
		return true
	}
	return false
}

// Bounds of a cold op's body, checked before anything is decoded. The
// largest body a client can need is a lobby.create with every field at its
// bound: about 10 KiB (attrs 16 × 324 bytes, data 4 KiB, the rest small),
// with 8 keys. The bounds leave room for keys a newer client may add.
const (
	MaxBodyBytes = 16 << 10
	MaxBodyKeys  = 64
)

// validateBody is validate for a body map that first refuses, by their
// headers alone, a map of more than MaxBodyKeys keys and (when attrs is
// set) an "attrs" map of more than MaxAttrs entries. The library would
// otherwise walk or build the whole map on the loop goroutine before
// anything could count it, only to refuse it (BenchmarkDecodeBodyBomb;
// docs/architecture.md, "Hand-written msgpack reader", has the figures).
func validateBody(d []byte, attrs bool) error {
	r := newReader(d)
	n, err := r.ReadMapHeader()
	if err != nil {
		return err
	}
	if n > MaxBodyKeys {
		return ErrBodyKeys
	}
	for range n {
		key, err := r.ReadString()
		if err != nil {
			if err == ErrWantString {
				return ErrMapKey
			}
			return err
		}
		if attrs && string(key) == "attrs" && r.Kind() == kindMap {
			save := r.off
			if m, err := r.ReadMapHeader(); err == nil && m > MaxAttrs {
				return ErrAttrsTooMany
			}
			r.off = save
		}
		if err := r.skip(1); err != nil {
			return err
		}
	}
	if r.Len() != 0 {
		return ErrTrailing
	}
	return nil
}

func unmarshal(d []byte, v any) error {
	bd := bodyDecoders.Get().(*bodyDecoder)
	bd.br.Reset(d)
	bd.dec.ResetReader(&bd.br)
	err := bd.dec.Decode(v)
	bd.br.Reset(nil)
	bd.dec.ResetReader(nil)
	bodyDecoders.Put(bd)
	return err
}

// fieldError finds which field of a (validated) body map the library could
// not decode into t: the library's errors name Go types, not fields, so each
// key is tried alone in a fresh value. It runs only on the error path.
func fieldError(d []byte, t reflect.Type) error {
	rd := newReader(d)
	n, err := rd.ReadMapHeader()
	if err != nil {
		return ErrBodyType
	}
	var probe []byte
	for i := 0; i < n; i++ {
		key, err := rd.ReadString()
		if err != nil {
			return ErrBodyType
		}
		start := rd.off
		if err := rd.skip(1); err != nil {
			return ErrBodyType
		}
		probe = appendStrHeader(append(probe[:0], 0x81), len(key))
		probe = append(append(probe, key...), d[start:rd.off]...)
		if unmarshal(probe, reflect.New(t).Interface()) != nil {
			if len(key) > MaxAttrKeyBytes {
				return ErrBodyType
			}
			return &Error{Code: CodeBadRequest, Msg: "wrong type for field " + strconv.Quote(string(key))}
		}
	}
	return ErrBodyType
}
