package netcode

import (
	"encoding/binary"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// Frame layout constants (RFC 6455 §5.2). We parse the header by hand
// because gobwas/ws's readers take an io.Reader and allocate per frame; we
// use its opcode constants and its unmasking (ws.Cipher).
const (
	bitFin  = 0x80
	bitsRsv = 0x70
	bitMask = 0x80
	maskLen = 0x7f

	// maxClientHeader is 2 + 8 (64-bit length) + 4 (mask key).
	maxClientHeader = 14
	// maxServerHeader is 2 + 8: server frames are never masked.
	maxServerHeader = 10
	// maxControlPayload bounds ping, pong and close payloads.
	maxControlPayload = 125
	// maxCloseReason leaves room for the 2-byte code in a close payload.
	maxCloseReason = maxControlPayload - 2
)

// putHeader writes a final (FIN) server frame header for a payload of n
// bytes into dst and returns its length. It lives on the caller's stack.
func putHeader(dst *[maxServerHeader]byte, op ws.OpCode, n int) int {
	dst[0] = bitFin | byte(op)
	switch {
	case n <= 125:
		dst[1] = byte(n)
		return 2
	case n <= 0xFFFF:
		dst[1] = 126
		binary.BigEndian.PutUint16(dst[2:], uint16(n))
		return 4
	default:
		dst[1] = 127
		binary.BigEndian.PutUint64(dst[2:], uint64(n))
		return 10
	}
}

// putClosePayload writes a close payload (code, then a reason cut to fit on
// a UTF-8 boundary) into dst and returns its length.
func putClosePayload(dst *[maxControlPayload]byte, code uint16, reason string) int {
	if !sendableCloseCode(code) {
		code = uint16(ws.StatusNormalClosure)
	}
	binary.BigEndian.PutUint16(dst[:2], code)
	if len(reason) > maxCloseReason {
		cut := maxCloseReason
		for cut > 0 && !utf8.RuneStart(reason[cut]) {
			cut--
		}
		reason = reason[:cut]
	}
	if !utf8.ValidString(reason) {
		reason = ""
	}
	return 2 + copy(dst[2:], reason)
}

// sendableCloseCode reports whether code may appear in a close frame
// (RFC 6455 §7.4: 1005, 1006 and 1015 are reserved for reporting only;
// IANA registers 1000-1003 and 1007-1014; 3000-4999 are for libraries and
// applications).
func sendableCloseCode(code uint16) bool {
	switch {
	case code >= 1000 && code <= 1003:
		return true
	case code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// MaxHead is the most a head given to Conn.WriteHead holds.
const MaxHead = 32
