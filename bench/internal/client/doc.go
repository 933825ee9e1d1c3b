// Package client holds the load generator's connections to the servers under
// test: one Conn interface with the few operations the workloads use (create,
// join, leave, relay), and a Dialer per wire dialect:
//
//   - MsgpackDialer: docs/protocol.md's binary msgpack envelopes over WebSocket,
//     spoken by lobbyd (guest JWT from POST /v1/auth/guest) and by the gorilla
//     baseline (user id in the query string);
//   - SocketIODialer: Engine.IO v4 / Socket.IO v5 over a websocket-only
//     transport, spoken by the Express + Socket.IO baseline;
//   - ColyseusDialer: Colyseus 0.18's matchmaking over HTTP and its room
//     protocol over one WebSocket per room, as @colyseus/sdk speaks them;
//   - CentrifugeDialer: centrifuge's protobuf client protocol.
//
// Concurrency: each Conn has exactly one reader goroutine, started by Dial,
// which calls the OnData callback; Create, Join and Leave may be called from
// one goroutine at a time per Conn (they wait for their reply); Send may be
// called from any goroutine (writes are serialized by a mutex). The payload
// carries the send time so the receiver measures latency; both dialects put
// 64 bytes on the wire.
//
// MatchConn (lobbyd only, via MatchDialer) is a matchmaking player: it sends
// mm.enqueue, lobby.leave and mm.cancel without waiting, the request named
// in the rid's low bits, and hands every frame, replies included, to its
// MatchHandler on its reader goroutine after ParseMM (no allocation). Its
// send methods may be called from any goroutine, the handler included.
package client
