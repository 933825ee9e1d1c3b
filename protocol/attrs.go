package protocol

import (
	"math"
	"strconv"
)

// Bounds of Attrs (docs/protocol.md §3: "attrs at most 16 keys with string or
// number values"; the key and string lengths are ours, chosen to keep a
// lobby's listing entry small; see the package comment).
const (
	MaxAttrs           = 16
	MaxAttrKeyBytes    = 64
	MaxAttrStringBytes = 256
)

// ValidateAttrs checks the shape of a lobby's or ticket's attrs: at most
// MaxAttrs keys of 1..MaxAttrKeyBytes bytes, each value a string of at most
// MaxAttrStringBytes bytes or a finite number (any Go integer or float
// kind: msgpack decodes to int64/uint64/float64, JSON to float64). NaN and
// infinities are refused because they cannot be rendered as JSON for the
// HTTP API nor compared by the browser's filter. A nil map is valid.
// DecodeBody runs it on the bodies that carry attrs.
func ValidateAttrs(a Attrs) error {
	if len(a) > MaxAttrs {
		return ErrAttrsTooMany
	}
	for k, v := range a {
		if len(k) == 0 || len(k) > MaxAttrKeyBytes {
			return ErrAttrsKey
		}
		switch v := v.(type) {
		case string:
			if len(v) > MaxAttrStringBytes {
				return ErrAttrsString
			}
		case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return ErrAttrsValue
			}
		case float32:
			if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
				return ErrAttrsValue
			}
		default:
			return ErrAttrsValue
		}
	}
	return nil
}

// AttrString renders an attrs value as the text the lobby browser's
// attr.<key>=<value> filter compares with: a string as is, an integer in
// decimal, a float in Go's shortest form ('g', so 3.0 is "3" and matches
// attr.k=3). ok is false for a value that is not a string or number.
func AttrString(v any) (s string, ok bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case int:
		return strconv.FormatInt(int64(v), 10), true
	case int8:
		return strconv.FormatInt(int64(v), 10), true
	case int16:
		return strconv.FormatInt(int64(v), 10), true
	case int32:
		return strconv.FormatInt(int64(v), 10), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case uint:
		return strconv.FormatUint(uint64(v), 10), true
	case uint8:
		return strconv.FormatUint(uint64(v), 10), true
	case uint16:
		return strconv.FormatUint(uint64(v), 10), true
	case uint32:
		return strconv.FormatUint(uint64(v), 10), true
	case uint64:
		return strconv.FormatUint(v, 10), true
	case float32:
		return strconv.FormatFloat(float64(v), 'g', -1, 32), true
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), true
	}
	return "", false
}
