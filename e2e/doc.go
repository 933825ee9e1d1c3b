// Package e2e holds the end-to-end tests: they start real lobbyd shards (in
// process through package app, and as a built binary) on 127.0.0.1 and speak
// the wire protocol of docs/protocol.md with a real WebSocket client library
// (gorilla/websocket) and the reference msgpack library — never with the
// server's own frame or codec code.
package e2e
