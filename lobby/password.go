package lobby

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
)

// PasswordHash is a lobby password as stored: never the plain text, but
// HMAC-SHA256 keyed with the server's pepper over a per-lobby random salt and
// the password. A slow hash (bcrypt, argon2) would protect weak passwords
// better if the store leaked, but every lobby.join would then cost tens of
// milliseconds of CPU, which turns joins into a denial-of-service vector; a
// lobby password guards a game room for its lifetime, not an account, so a
// keyed fast hash is the right trade.
type PasswordHash struct {
	Salt [16]byte
	Sum  [sha256.Size]byte
}

// hashPassword hashes pw with a fresh random salt.
func hashPassword(pepper []byte, pw string) PasswordHash {
	var h PasswordHash
	rand.Read(h.Salt[:])
	h.Sum = passwordSum(pepper, h.Salt[:], pw)
	return h
}

// Check compares pw with the stored hash in constant time.
func (h *PasswordHash) Check(pepper []byte, pw string) bool {
	sum := passwordSum(pepper, h.Salt[:], pw)
	return hmac.Equal(sum[:], h.Sum[:])
}

func passwordSum(pepper, salt []byte, pw string) [sha256.Size]byte {
	m := hmac.New(sha256.New, pepper)
	m.Write(salt)
	m.Write([]byte(pw))
	var out [sha256.Size]byte
	m.Sum(out[:0])
	return out
}
