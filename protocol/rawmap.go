package protocol

import (
	"encoding/json"
	"errors"

	"github.com/vmihailenco/msgpack/v5"
)

// RawMap is a MessagePack-encoded map kept as its bytes. Lobby and member
// "data" are opaque to the server: storing them encoded means they are
// validated and size-checked once, then copied into every view and event
// without decoding again. A nil RawMap encodes as an empty map.
type RawMap []byte

var emptyMap = []byte{0x80}

var errNotMap = errors.New("protocol: value is not a map")

// IsMapHeader reports whether b starts with a MessagePack map header.
func IsMapHeader(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	c := b[0]
	return c&0xf0 == 0x80 || c == 0xde || c == 0xdf
}

// EncodeMsgpack writes the raw bytes (an empty map when nil).
func (r RawMap) EncodeMsgpack(enc *msgpack.Encoder) error {
	if len(r) == 0 {
		return enc.Encode(msgpack.RawMessage(emptyMap))
	}
	return enc.Encode(msgpack.RawMessage(r))
}

// DecodeMsgpack keeps the next value's bytes; it must be a map or nil.
func (r *RawMap) DecodeMsgpack(dec *msgpack.Decoder) error {
	raw, err := dec.DecodeRaw()
	if err != nil {
		return err
	}
	if len(raw) == 1 && raw[0] == 0xc0 { // nil
		*r = nil
		return nil
	}
	if !IsMapHeader(raw) {
		return errNotMap
	}
	*r = RawMap(raw)
	return nil
}

// MarshalJSON renders the map as JSON for the HTTP API (binary values become
// base64 strings, as encoding/json does for []byte).
func (r RawMap) MarshalJSON() ([]byte, error) {
	if len(r) == 0 {
		return []byte("{}"), nil
	}
	var m map[string]any
	if err := msgpack.Unmarshal(r, &m); err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

// UnmarshalJSON accepts a JSON object (or null) and stores it as MessagePack.
func (r *RawMap) UnmarshalJSON(b []byte) error {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	if m == nil {
		*r = nil
		return nil
	}
	enc, err := msgpack.Marshal(m)
	if err != nil {
		return err
	}
	*r = enc
	return nil
}
