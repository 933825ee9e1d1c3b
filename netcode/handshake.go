package netcode

import (
	"crypto/sha1"
	"encoding/base64"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// acceptGUID is RFC 6455 §1.3's constant. gobwas/ws computes the accept key
// only inside its own upgrader, so we do the two lines ourselves.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// handshakeError is a refused handshake: the HTTP status and message.
type handshakeError struct {
	status int
	msg    string
}

// checkHandshake validates an upgrade request (RFC 6455 §4.2.1) and returns
// the client's Sec-WebSocket-Key.
func checkHandshake(c *fiber.Ctx) (key string, herr *handshakeError) {
	if c.Method() != fiber.MethodGet {
		return "", &handshakeError{fiber.StatusBadRequest, "websocket upgrade needs GET"}
	}
	if !c.Context().Request.Header.IsHTTP11() {
		return "", &handshakeError{fiber.StatusBadRequest, "websocket upgrade needs HTTP/1.1"}
	}
	if !hasToken(c.Get(fiber.HeaderUpgrade), "websocket") {
		return "", &handshakeError{fiber.StatusBadRequest, "missing Upgrade: websocket"}
	}
	if !hasToken(c.Get(fiber.HeaderConnection), "upgrade") {
		return "", &handshakeError{fiber.StatusBadRequest, "missing Connection: upgrade"}
	}
	if c.Get(fiber.HeaderSecWebSocketVersion) != "13" {
		return "", &handshakeError{fiber.StatusUpgradeRequired, "websocket version 13 required"}
	}
	key = c.Get(fiber.HeaderSecWebSocketKey)
	var raw [18]byte // DecodedLen(24) is 18
	if len(key) != 24 {
		return "", &handshakeError{fiber.StatusBadRequest, "bad Sec-WebSocket-Key"}
	}
	if n, err := base64.StdEncoding.Decode(raw[:], []byte(key)); err != nil || n != 16 {
		return "", &handshakeError{fiber.StatusBadRequest, "bad Sec-WebSocket-Key"}
	}
	return key, nil
}

// refuse answers a refused handshake through the caller's writer, with the
// version header RFC 6455 §4.4 asks of a 426.
func (cfg *Config) refuse(c *fiber.Ctx, status int, msg string) error {
	if status == fiber.StatusUpgradeRequired {
		c.Set(fiber.HeaderSecWebSocketVersion, "13")
	}
	return cfg.Refuse(c, status, msg)
}

// hasToken reports whether the comma-separated header value v holds tok,
// case-insensitively (RFC 9110 §5.6.1 lists).
func hasToken(v, tok string) bool {
	for v != "" {
		var item string
		item, v, _ = strings.Cut(v, ",")
		if strings.EqualFold(strings.TrimSpace(item), tok) {
			return true
		}
	}
	return false
}

// acceptKey computes Sec-WebSocket-Accept for a client key.
func acceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte(acceptGUID))
	var sum [sha1.Size]byte
	return base64.StdEncoding.EncodeToString(h.Sum(sum[:0]))
}

// switchingProtocols is the 101 answer for an accept key. No subprotocol
// and no extension are negotiated (so RSV bits must stay 0).
func switchingProtocols(accept string) []byte {
	return []byte("HTTP/1.1 101 Switching Protocols\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + accept + "\r\n\r\n")
}

// ConfigureApp sets what Upgrade needs on the Fiber app that serves /ws:
// fasthttp's KeepHijackedConns, so fasthttp never touches a socket after the
// hand-over (Upgrade duplicates the fd, so it stays correct without it, but
// this keeps fasthttp from closing and pooling behind our back).
//
// Also required of whoever builds the app (not changed here):
//   - ReadTimeout set (e.g. 10s): it bounds the handshake request; after the
//     upgrade netcode's own heartbeat and idle rules apply.
//   - MaxConnsPerIP 0: fasthttp then wraps the conn and the raw socket is
//     out of reach (Upgrade would log and drop the connection).
//   - No TLS on the listener: terminate TLS at the load balancer.
//   - DisableKeepalive may stay false or true: Upgrade answers the 101
//     itself (HijackSetNoResponse), so fasthttp's close handling is skipped.
func ConfigureApp(app *fiber.App) {
	app.Server().KeepHijackedConns = true
}
