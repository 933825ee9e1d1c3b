// Package gateway turns connections into sessions and requests into calls on
// the lobby and matchmaking services: the WebSocket handshake (auth, Origin,
// limits), the welcome, per-session seq with a replay ring for resume, op
// dispatch with rate limiting, event fan-out (encoded once, stamped per
// recipient), drain, and the HTTP API on Fiber.
//
// It parses no frames: netcode hands it whole messages.
//
// Concurrency: its locks (hub.mu, Session.mu) and how they nest with the
// lobby store's and netcode's are in docs/locks.md; the steps that open a
// session without holding up the shard are in docs/architecture.md
// ("Opening a session"). A connection's OnOpen, OnMessage and OnClose
// callbacks run on its netcode loop goroutine, one at a time.
package gateway
