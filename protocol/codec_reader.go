package protocol

import (
	"encoding/binary"
)

// MaxDepth is how many containers (maps and arrays) may nest inside one
// another in a decoded value. The protocol needs four; the rest is room for
// clients' opaque "data" maps. The limit also bounds the recursion of skip.
const MaxDepth = 32

// reader is a cursor over one MessagePack message held in memory. It is
// written by hand, rather than taken from vmihailenco/msgpack, for two
// reasons: that library trusts the lengths it reads (a 5-byte frame claiming
// 50M elements makes it allocate hundreds of MiB), and the hot ops must
// decode without allocating. reader never allocates and never copies:
// strings and binaries are returned as sub-slices of the input (with their
// capacity clipped, so an append by the caller cannot overwrite what follows),
// valid as long as the input is.
//
// Every length read from the input is checked against the bytes left before
// it is used: a string or binary of n bytes needs n bytes, an array of n
// elements at least n bytes, a map of n entries at least 2n bytes. All
// failures are returned as *Error values with CodeBadRequest; nothing panics.
//
// A typed read that finds another type (ErrWantMap, ErrWantString, ...)
// leaves the cursor where it was, so the caller may try another read or skip.
// After any other error the position is unspecified and only Reset is
// meaningful.
//
// Map keys: the protocol's maps have string keys (docs/protocol.md §2), so skip
// and validate reject a map with any other key (ErrMapKey); this also keeps
// the msgpack library away from map keys it cannot hash.
//
// Extensions: the protocol uses none. skip and validate accept only the
// standard timestamp (type -1, 4, 8 or 12 bytes), which a client's opaque
// data may carry; any other extension is ErrExtension.
//
// A reader is a small value; it is not safe for concurrent use.
type reader struct {
	b   []byte
	off int
	// finite makes skip refuse NaN and ±Inf floats (ValidateFinite).
	finite bool
}

// newReader returns a reader positioned at the start of b.
func newReader(b []byte) reader { return reader{b: b} }

// Reset points the reader at the start of b.
func (r *reader) Reset(b []byte) { r.b, r.off = b, 0 }

// Len is the number of bytes not yet read.
func (r *reader) Len() int { return len(r.b) - r.off }

// kind is the broad type of the next value.
type kind uint8

// Kinds of MessagePack values.
const (
	kindInvalid kind = iota // no bytes left, or the never-used code 0xc1
	kindNil
	kindBool
	kindInt // any integer, signed or unsigned
	kindFloat
	kindString
	kindBinary
	kindArray
	kindMap
	kindExt
)

// Kind reports the type of the next value without consuming it.
func (r *reader) Kind() kind {
	if r.off >= len(r.b) {
		return kindInvalid
	}
	return kindOf(r.b[r.off])
}

func kindOf(c byte) kind {
	switch {
	case c <= 0x7f || c >= 0xe0:
		return kindInt
	case c <= 0x8f:
		return kindMap
	case c <= 0x9f:
		return kindArray
	case c <= 0xbf:
		return kindString
	}
	switch c {
	case 0xc0:
		return kindNil
	case 0xc2, 0xc3:
		return kindBool
	case 0xc4, 0xc5, 0xc6:
		return kindBinary
	case 0xc7, 0xc8, 0xc9, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return kindExt
	case 0xca, 0xcb:
		return kindFloat
	case 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd1, 0xd2, 0xd3:
		return kindInt
	case 0xd9, 0xda, 0xdb:
		return kindString
	case 0xdc, 0xdd:
		return kindArray
	case 0xde, 0xdf:
		return kindMap
	}
	return kindInvalid // 0xc1
}

// IsNil reports whether the next value is nil.
func (r *reader) IsNil() bool { return r.off < len(r.b) && r.b[r.off] == 0xc0 }

// lenHeader decodes the length prefix of a str, bin, array or map whose
// type code c is at r.off and whose prefix is size bytes (0 for the "fix"
// forms, whose length is in c itself: pass fix). It returns the length and
// the header size including the code byte, without moving the cursor.
func (r *reader) lenHeader(size int, fix int) (n uint64, hdr int, err error) {
	if size == 0 {
		return uint64(fix), 1, nil
	}
	if r.Len() < 1+size {
		return 0, 0, ErrTruncated
	}
	p := r.b[r.off+1:]
	switch size {
	case 1:
		n = uint64(p[0])
	case 2:
		n = uint64(binary.BigEndian.Uint16(p))
	default:
		n = uint64(binary.BigEndian.Uint32(p))
	}
	return n, 1 + size, nil
}

// ReadMapHeader reads a map header and returns its number of entries, which
// is checked to fit in the bytes left (two bytes at least per entry).
func (r *reader) ReadMapHeader() (int, error) {
	return r.collectionHeader(0x80, 0xde, 0xdf, 2, ErrWantMap)
}

// ReadArrayHeader reads an array header and returns its number of elements,
// which is checked to fit in the bytes left (one byte at least per element).
func (r *reader) ReadArrayHeader() (int, error) {
	return r.collectionHeader(0x90, 0xdc, 0xdd, 1, ErrWantArray)
}

// collectionHeader reads a map or array header: fix is the fix-format's
// high nibble, c16/c32 the 16- and 32-bit formats, minBytes the least an
// element can take, which bounds the count by the bytes left.
func (r *reader) collectionHeader(fix, c16, c32 byte, minBytes uint64, wrongType error) (int, error) {
	if r.off >= len(r.b) {
		return 0, ErrTruncated
	}
	c := r.b[r.off]
	var (
		n   uint64
		hdr int
		err error
	)
	switch {
	case c&0xf0 == fix:
		n, hdr, err = r.lenHeader(0, int(c&0x0f))
	case c == c16:
		n, hdr, err = r.lenHeader(2, 0)
	case c == c32:
		n, hdr, err = r.lenHeader(4, 0)
	default:
		return 0, wrongType
	}
	if err != nil {
		return 0, err
	}
	if n > uint64(r.Len()-hdr)/minBytes {
		return 0, ErrLength
	}
	r.off += hdr
	return int(n), nil
}

// strHeader returns the length and header size of a str at the cursor, or
// ok=false when the next value is not a str.
func (r *reader) strHeader() (n uint64, hdr int, ok bool, err error) {
	c := r.b[r.off]
	switch {
	case c&0xe0 == 0xa0:
		n, hdr, err = r.lenHeader(0, int(c&0x1f))
	case c == 0xd9:
		n, hdr, err = r.lenHeader(1, 0)
	case c == 0xda:
		n, hdr, err = r.lenHeader(2, 0)
	case c == 0xdb:
		n, hdr, err = r.lenHeader(4, 0)
	default:
		return 0, 0, false, nil
	}
	return n, hdr, true, err
}

// take returns the n bytes after a header of hdr bytes and moves past them.
func (r *reader) take(n uint64, hdr int) ([]byte, error) {
	if n > uint64(r.Len()-hdr) {
		return nil, ErrLength
	}
	start := r.off + hdr
	end := start + int(n)
	r.off = end
	return r.b[start:end:end], nil
}

// ReadString reads a str and returns its bytes as a sub-slice of the input
// (no copy, no UTF-8 check). A bin is not accepted: the protocol's strings
// are str, and accepting bin would make two encodings of one message valid.
func (r *reader) ReadString() ([]byte, error) {
	if r.off >= len(r.b) {
		return nil, ErrTruncated
	}
	n, hdr, ok, err := r.strHeader()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrWantString
	}
	return r.take(n, hdr)
}

// ReadBytes reads a bin and returns its bytes as a sub-slice of the input.
// Only bin is accepted, not str: docs/protocol.md gives binary fields (the "data"
// of lobby.send) the bin type.
func (r *reader) ReadBytes() ([]byte, error) {
	if r.off >= len(r.b) {
		return nil, ErrTruncated
	}
	var (
		n   uint64
		hdr int
		err error
	)
	switch r.b[r.off] {
	case 0xc4:
		n, hdr, err = r.lenHeader(1, 0)
	case 0xc5:
		n, hdr, err = r.lenHeader(2, 0)
	case 0xc6:
		n, hdr, err = r.lenHeader(4, 0)
	default:
		return nil, ErrWantBinary
	}
	if err != nil {
		return nil, err
	}
	return r.take(n, hdr)
}

// number reads any integer at the cursor. neg reports a negative value,
// whose two's-complement form is in u (so int64(u) is the value).
func (r *reader) number() (u uint64, neg bool, isInt bool, err error) {
	if r.off >= len(r.b) {
		return 0, false, false, ErrTruncated
	}
	c := r.b[r.off]
	if c <= 0x7f {
		r.off++
		return uint64(c), false, true, nil
	}
	if c >= 0xe0 {
		r.off++
		return uint64(int64(int8(c))), true, true, nil
	}
	var size int
	switch c {
	case 0xcc, 0xd0:
		size = 1
	case 0xcd, 0xd1:
		size = 2
	case 0xce, 0xd2:
		size = 4
	case 0xcf, 0xd3:
		size = 8
	default:
		return 0, false, false, nil
	}
	if r.Len() < 1+size {
		return 0, false, true, ErrTruncated
	}
	p := r.b[r.off+1:]
	signed := c >= 0xd0
	switch size {
	case 1:
		if signed {
			u = uint64(int64(int8(p[0])))
		} else {
			u = uint64(p[0])
		}
	case 2:
		if signed {
			u = uint64(int64(int16(binary.BigEndian.Uint16(p))))
		} else {
			u = uint64(binary.BigEndian.Uint16(p))
		}
	case 4:
		if signed {
			u = uint64(int64(int32(binary.BigEndian.Uint32(p))))
		} else {
			u = uint64(binary.BigEndian.Uint32(p))
		}
	case 8:
		u = binary.BigEndian.Uint64(p)
	}
	r.off += 1 + size
	return u, signed && int64(u) < 0, true, nil
}

// ReadUint reads a non-negative integer in any encoding (unsigned, or signed
// with a value >= 0). A negative integer is ErrIntRange and leaves the cursor.
func (r *reader) ReadUint() (uint64, error) {
	start := r.off
	u, neg, isInt, err := r.number()
	if err != nil {
		return 0, err
	}
	if !isInt {
		return 0, ErrWantUint
	}
	if neg {
		r.off = start
		return 0, ErrIntRange
	}
	return u, nil
}

// skip skips one value that sits inside depth containers.
func (r *reader) skip(depth int) error {
	if r.off >= len(r.b) {
		return ErrTruncated
	}
	c := r.b[r.off]
	switch {
	case c <= 0x7f || c >= 0xe0: // fixint
		r.off++
		return nil
	case c <= 0x8f:
		return r.skipMap(depth)
	case c <= 0x9f:
		return r.skipArray(depth)
	case c <= 0xbf: // fixstr
		_, err := r.take(uint64(c&0x1f), 1)
		return err
	}
	switch c {
	case 0xc0, 0xc2, 0xc3:
		r.off++
		return nil
	case 0xc4, 0xd9:
		return r.skipBlob(1)
	case 0xc5, 0xda:
		return r.skipBlob(2)
	case 0xc6, 0xdb:
		return r.skipBlob(4)
	case 0xcc, 0xd0:
		return r.skipFixed(2)
	case 0xcd, 0xd1:
		return r.skipFixed(3)
	case 0xca:
		if r.finite && r.Len() >= 5 && binary.BigEndian.Uint32(r.b[r.off+1:])&0x7f800000 == 0x7f800000 {
			return ErrNonFinite // exponent all ones: NaN or ±Inf
		}
		return r.skipFixed(5)
	case 0xcb:
		if r.finite && r.Len() >= 9 && binary.BigEndian.Uint64(r.b[r.off+1:])&0x7ff0000000000000 == 0x7ff0000000000000 {
			return ErrNonFinite
		}
		return r.skipFixed(9)
	case 0xce, 0xd2:
		return r.skipFixed(5)
	case 0xcf, 0xd3:
		return r.skipFixed(9)
	case 0xdc, 0xdd:
		return r.skipArray(depth)
	case 0xde, 0xdf:
		return r.skipMap(depth)
	case 0xc7, 0xc8, 0xc9, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return r.skipExt(c)
	}
	return ErrInvalidCode // 0xc1
}

func (r *reader) skipFixed(n int) error {
	if r.Len() < n {
		return ErrTruncated
	}
	r.off += n
	return nil
}

func (r *reader) skipBlob(size int) error {
	n, hdr, err := r.lenHeader(size, 0)
	if err != nil {
		return err
	}
	_, err = r.take(n, hdr)
	return err
}

func (r *reader) skipArray(depth int) error {
	if depth >= MaxDepth {
		return ErrTooDeep
	}
	n, err := r.ReadArrayHeader()
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if err := r.skip(depth + 1); err != nil {
			return err
		}
	}
	return nil
}

func (r *reader) skipMap(depth int) error {
	if depth >= MaxDepth {
		return ErrTooDeep
	}
	n, err := r.ReadMapHeader()
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if _, err := r.ReadString(); err != nil {
			if err == ErrWantString {
				return ErrMapKey
			}
			return err
		}
		if err := r.skip(depth + 1); err != nil {
			return err
		}
	}
	return nil
}

// skipExt skips an extension value, accepting only the timestamp (type -1)
// in its three standard sizes.
func (r *reader) skipExt(c byte) error {
	var (
		n   uint64
		hdr int
		err error
	)
	switch c {
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16
		n, hdr = 1<<(c-0xd4), 1
	case 0xc7:
		n, hdr, err = r.lenHeader(1, 0)
	case 0xc8:
		n, hdr, err = r.lenHeader(2, 0)
	default:
		n, hdr, err = r.lenHeader(4, 0)
	}
	if err != nil {
		return err
	}
	if r.Len() < hdr+1 { // the type byte
		return ErrTruncated
	}
	typ := int8(r.b[r.off+hdr])
	if _, err := r.take(n, hdr+1); err != nil {
		return err
	}
	if typ != -1 || (n != 4 && n != 8 && n != 12) {
		return ErrExtension
	}
	return nil
}

// ValidateFinite is validate that also refuses NaN and ±Inf floats anywhere
// in the value (ErrNonFinite). Lobby and member "data" are checked with it:
// the HTTP API renders them as JSON, which has no way to write those
// numbers, so one such value would make every listing page holding the
// lobby unanswerable.
func ValidateFinite(b []byte) error { return validate(b, true) }

// validate checks that b holds exactly one well-formed MessagePack value:
// every length within the bytes left, at most MaxDepth nested containers,
// string map keys, no extension but the timestamp, nothing after the value;
// with finite, no NaN or ±Inf float either. It runs before any bytes reach
// the msgpack library, so the library never sees a length it could be
// tricked into allocating for. It does not allocate.
func validate(b []byte, finite bool) error {
	if len(b) == 0 {
		return ErrEmpty
	}
	r := reader{b: b, finite: finite}
	if err := r.skip(0); err != nil {
		return err
	}
	if r.Len() != 0 {
		return ErrTrailing
	}
	return nil
}
