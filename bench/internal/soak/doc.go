// Package soak runs every kind of traffic lobbyd serves against one shard at
// once, for a set time, and checks that nothing is lost and nothing grows:
// relay and chat in stable lobbies whose players drop and resume at random,
// lobby churn, lobby browsing over HTTP, matchmaking, and slow readers on a
// firehose lobby. Every session's seq must be gap-free with no duplicates
// (across resumes, which replay what was missed), every sender's messages
// must reach each member in the order sent, and every member of a lobby
// must see its chat in one order. The server's RSS, heap, goroutines and
// open file descriptors are sampled over time (/proc and /metrics).
//
// It speaks only the wire protocol (gorilla/websocket, msgpack, HTTP JSON).
//
// Concurrency: Run starts one goroutine per actor plus a reader per
// connection; counters are atomics; per-session checks belong to the
// session's reader goroutine; per-lobby chat logs are guarded by their own
// mutex.
package soak
