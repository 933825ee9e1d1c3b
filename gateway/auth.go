package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/lobbyd/lobbyd/lobby"
)

// Identity is who a verified player token names.
type Identity struct {
	UserID string
	Name   string
	Expiry time.Time
}

// claims are the JWT claims of docs/protocol.md §1. The dates are strict: the
// library's NumericDate also takes a JSON string holding a number
// ("exp": "1700000000"), which RFC 7519 §2 does not allow; a token with one
// is refused. The fields shadow RegisteredClaims' own (encoding/json takes
// the shallower field), so the library reads them through the getters below.
type claims struct {
	Name      string       `json:"name,omitempty"`
	ExpiresAt *numericDate `json:"exp,omitempty"`
	NotBefore *numericDate `json:"nbf,omitempty"`
	IssuedAt  *numericDate `json:"iat,omitempty"`
	jwt.RegisteredClaims
}

func (c claims) GetExpirationTime() (*jwt.NumericDate, error) { return c.ExpiresAt.date(), nil }
func (c claims) GetNotBefore() (*jwt.NumericDate, error)      { return c.NotBefore.date(), nil }
func (c claims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.IssuedAt.date(), nil }

// numericDate is a jwt.NumericDate that must be a JSON number.
type numericDate struct{ jwt.NumericDate }

var errDateNotNumber = errors.New("a date claim must be a JSON number")

func (d *numericDate) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || (b[0] != '-' && (b[0] < '0' || b[0] > '9')) {
		return errDateNotNumber
	}
	return d.NumericDate.UnmarshalJSON(b)
}

func (d *numericDate) date() *jwt.NumericDate {
	if d == nil {
		return nil
	}
	return &d.NumericDate
}

func newDate(t time.Time) *numericDate { return &numericDate{*jwt.NewNumericDate(t)} }

// Auth verifies player tokens with exactly one algorithm (HS256 with a shared
// secret, or RS256/EdDSA with a public key): any other alg, "none" included,
// is refused by the parser before the signature is looked at.
type Auth struct {
	alg    string
	key    any    // verification key
	secret []byte // HS256 only: also signs guest tokens
	parser *jwt.Parser
	now    func() time.Time
}

// NewHMACAuth verifies HS256 tokens signed with secret.
func NewHMACAuth(secret []byte) *Auth {
	return newAuth("HS256", secret, secret)
}

// NewPublicKeyAuth verifies RS256 or EdDSA tokens with the PEM public key in
// file; the key's type decides the algorithm.
func NewPublicKeyAuth(file string) (*Auth, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if k, err := jwt.ParseRSAPublicKeyFromPEM(pem); err == nil {
		return newAuth("RS256", k, nil), nil
	}
	if k, err := jwt.ParseEdPublicKeyFromPEM(pem); err == nil {
		return newAuth("EdDSA", k, nil), nil
	}
	return nil, fmt.Errorf("%s: not an RSA or Ed25519 public key in PEM", file)
}

func newAuth(alg string, key any, secret []byte) *Auth {
	a := &Auth{alg: alg, key: key, secret: secret, now: time.Now}
	a.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{alg}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return a.now() }),
	)
	return a
}

// RandomSecret makes a dev-mode HS256 secret.
func RandomSecret() []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux; a server without it must not run
	}
	return b
}

var errBadToken = errors.New("invalid token")

// Verify checks a token and returns the identity it names.
func (a *Auth) Verify(token string) (Identity, error) {
	if token == "" {
		return Identity{}, errors.New("missing token")
	}
	if len(token) > 8192 { // bound the work a hostile header can cause
		return Identity{}, errBadToken
	}
	var c claims
	if _, err := a.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return a.key, nil }); err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return Identity{}, errors.New("token expired")
		}
		return Identity{}, errBadToken
	}
	if !validUserID(c.Subject) {
		return Identity{}, errors.New("sub must be 1-64 bytes of UTF-8 without control characters")
	}
	name := c.Name
	if name == "" {
		// A 33-64 byte sub is valid, a 33-character name is not: cut it,
		// so that no token's claims can make a player unusable.
		name = lobby.DefaultName(c.Subject)
	} else if !validName(name) {
		return Identity{}, errors.New("name must be 1-32 characters of UTF-8 without control characters")
	}
	return Identity{UserID: c.Subject, Name: name, Expiry: c.ExpiresAt.Time}, nil
}

// validUserID: 1-64 bytes (docs/protocol.md §1) of valid UTF-8 with no control
// character. A user id is shown to other players, written to logs and used
// as a key everywhere; NUL, ESC, CR/LF or broken UTF-8 in it would reach
// terminals, log parsers and every other client. U+FFFD is refused too:
// the JSON decoder puts it in place of bytes that are not UTF-8, so subs
// that differ only in such bytes would otherwise become one user.
func validUserID(s string) bool {
	return len(s) >= 1 && len(s) <= lobby.MaxUserIDBytes && utf8.ValidString(s) && !hasControl(s) &&
		!strings.ContainsRune(s, utf8.RuneError)
}

// validName: a display name of 1-32 characters of valid UTF-8, not only
// spaces, with no control character (for the same reasons as user ids).
func validName(s string) bool {
	if !utf8.ValidString(s) || hasControl(s) {
		return false
	}
	n := utf8.RuneCountInString(s)
	return n >= 1 && n <= lobby.MaxDisplayNameRunes && strings.TrimSpace(s) != ""
}

// hasControl reports a Unicode control character (C0, DEL or C1).
func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}

// canIssue reports whether Issue works (HS256 only).
func (a *Auth) canIssue() bool { return a.secret != nil }

// Issue signs a token for a user (guest tokens in dev mode, and tests).
func (a *Auth) Issue(userID, name string, ttl time.Duration) (string, error) {
	if a.secret == nil {
		return "", errors.New("token issuing needs an HS256 secret")
	}
	c := claims{Name: name, IssuedAt: newDate(a.now()), ExpiresAt: newDate(a.now().Add(ttl)),
		RegisteredClaims: jwt.RegisteredClaims{Subject: userID}}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(a.secret)
}

// randomID returns n random bytes as lowercase hex.
func randomID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// RandomToken returns an unguessable token (dev-mode operator token).
func RandomToken() string { return randomID(24) }
