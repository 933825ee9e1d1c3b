// Package lobby holds the lobby rules of docs/protocol.md §3 "Lobbies" and §4
// "/v1/lobbies", and the Store interface that applies them, with its
// in-memory implementation (MemoryStore). The Redis store of the cluster
// package implements the same interface and runs the same conformance suite
// (package lobbytest), so the two cannot drift apart.
//
// # Shape
//
// Every mutation is one Store call that checks the rules, changes the lobby
// and hands the resulting events to the Sink, atomically, and returns the new
// state. The rules are written once: the pure checks (bounds, normalisation)
// in validate.go and password.go, and everything that depends on a lobby's
// state on Doc (rules.go), a plain document with one method per operation
// that changes it and emits the events. MemoryStore keeps a Doc per lobby
// under the lobby's lock; the Redis store (package cluster) decodes the
// stored Doc (AppendDoc/DecodeDoc), runs the same method and commits the
// result with a version check, so both stores apply identical rules.
//
// # Rules this package decides where the original contract was silent
//
//   - Ids (lobbies, matches) are 16 bytes from crypto/rand, lowercase hex.
//   - Codes are 6 characters of CodeAlphabet (no 0/O, 1/I/L), unique among
//     live lobbies; a join by code is case-insensitive. When a join names both
//     a code and an id, the code decides and the id must match it.
//   - A password sent to a lobby without one is ignored. A lobby's password
//     is stored as HMAC-SHA256(pepper, salt||password) with a per-lobby salt.
//   - Kick or transfer_host to a user who is not in the lobby: not_found;
//     to oneself: bad_request. Start on a lobby already in_game: bad_request
//     (in v1 a lobby stays in_game until it is deleted).
//   - lobby.send "to": ids that are not members (they may have just left) and
//     the sender itself are skipped, duplicates are delivered once; an empty
//     "to" means everyone but the sender. Nobody left to receive: no event.
//   - Bounds beyond the original contract: mode and region at most 64 bytes; attr keys
//     1-64 bytes; attr string values at most 256 bytes; numbers must be
//     finite; password at most 128 bytes; user id 1-64 bytes; display name
//     at most 32 characters (empty: the user id).
//   - attr.<k>=<v> filters compare protocol.AttrString of the stored value
//     with v: strings as they are, integers in decimal, floats in strconv's
//     shortest 'g' form (3.0 is "3"). Stored integers are int64 (uint64
//     above MaxInt64), floats float64.
//   - SetConnected to the state a member already has emits nothing; an
//     update with no field present changes nothing and emits nothing.
//
// # Concurrency
//
// Store methods are safe for concurrent use. MemoryStore has one store-wide
// RWMutex (users, codes; held only for short map updates, never while
// calling the Sink), one mutex per lobby (members, fields, scratch) and the
// listing Index's own lock; how they nest is in docs/locks.md. Events of
// one lobby are delivered synchronously while that lobby's lock is held, so
// every member sees one order. Therefore a Sink must not call back into the
// Store, must not block for long, and must not keep the *Event or its
// slices (To, Data) after Deliver returns.
//
// # Listing
//
// Index (index.go) is the lobby browser's in-memory index and its cached
// JSON page writer. The MemoryStore files its public lobbies in one; the
// cluster package's listing replica fills one from Redis (without views,
// which it reads when a page shows them), so every shard answers
// GET /v1/lobbies with the same filters, order and cursors.
//
// MemoryStore never waits on I/O, so it ignores the contexts it is given;
// the Redis store honours them.
//
// Views returned by the store share their Attrs map and Data bytes with the
// store, which never mutates them in place: callers must treat them as
// read-only.
package lobby
