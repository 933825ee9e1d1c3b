package lobby

import (
	"encoding/base64"
	"encoding/binary"
	"math"
)

// A listing cursor is the creation sequence of the last lobby of a page,
// base64url-encoded: opaque to clients, and stable while lobbies come and go
// because sequences only grow (a lobby created after the first page has a
// higher sequence and never shows up on a later page; one deleted simply
// stops matching).

// EncodeCursor makes the cursor for the page after the lobby with seq.
func EncodeCursor(seq uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seq)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// DecodeCursor returns the sequence to list below: math.MaxUint64 for "".
func DecodeCursor(c string) (uint64, error) {
	if c == "" {
		return math.MaxUint64, nil
	}
	if len(c) != 11 {
		return 0, badRequest("bad cursor")
	}
	var b [8]byte
	n, err := base64.RawURLEncoding.Decode(b[:], []byte(c))
	if err != nil || n != 8 {
		return 0, badRequest("bad cursor")
	}
	seq := binary.BigEndian.Uint64(b[:])
	if seq == 0 || seq == math.MaxUint64 {
		return 0, badRequest("bad cursor")
	}
	return seq, nil
}
