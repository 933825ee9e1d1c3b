// Package gateway turns connections into sessions and requests into calls on
// the lobby and matchmaking services: the WebSocket handshake (auth, Origin,
// limits), the welcome, per-session seq with a replay ring for resume, op
// dispatch with rate limiting, event fan-out (encoded once, stamped per
// recipient), drain, and the HTTP API on Fiber.
//
// It parses no frames: netcode hands it whole messages.
//
// Concurrency. Lock order: lobby store lock → hub.mu → Session.mu → netcode
// conn write lock. Event sinks run with the lobby lock held and only take
// hub.mu (read) and Session.mu. No code holds Session.mu or hub.mu while it
// calls a store or the matchmaking service. A connection's OnOpen,
// OnMessage and OnClose callbacks run on its netcode loop goroutine, one at
// a time.
package gateway
