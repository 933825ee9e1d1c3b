package lobby

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
)

// NewID returns an unguessable id: 16 bytes from crypto/rand as 32 lowercase
// hex characters. Lobby ids of private lobbies must not be guessable, and
// they are public for public ones, so one kind of id serves all.
func NewID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b[:])
}

// CodeAlphabet is the alphabet of lobby codes: upper-case letters and digits
// without the look-alikes 0/O and 1/I/L, so codes survive being read aloud or
// copied from a screen. 31 symbols, 6 characters: about 887 million codes.
const CodeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// CodeLength is the length of a lobby code.
const CodeLength = 6

// NewCode returns a random code of CodeAlphabet. Uniqueness among live
// lobbies is the store's job.
func NewCode() string {
	const n = len(CodeAlphabet)
	const limit = 256 - 256%n // rejection sampling keeps every symbol equally likely
	var out [CodeLength]byte
	var buf [16]byte
	for i := 0; i < CodeLength; {
		rand.Read(buf[:])
		for _, c := range buf {
			if int(c) >= limit {
				continue
			}
			out[i] = CodeAlphabet[int(c)%n]
			i++
			if i == CodeLength {
				break
			}
		}
	}
	return string(out[:])
}

// NormalizeCode upper-cases a code given by a client (joins by code are
// case-insensitive) and reports whether it can be a code at all.
func NormalizeCode(c string) (string, bool) {
	if len(c) != CodeLength {
		return "", false
	}
	c = strings.ToUpper(c)
	for i := 0; i < len(c); i++ {
		if strings.IndexByte(CodeAlphabet, c[i]) < 0 {
			return "", false
		}
	}
	return c, true
}
