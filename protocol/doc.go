// Package protocol is the wire contract of lobbyd (docs/protocol.md, version 1):
// envelope shapes, op and event names, error and close codes, the wire views
// of lobbies, members and tickets, and MessagePack encoding and decoding with
// every size bounded.
//
// It does no I/O. Decoders never trust a length read from the network: every
// array, map, string and binary length is checked against the bytes that are
// left before anything is allocated, because a hostile 5-byte frame can claim
// 50 million elements.
//
// The codec, in brief (files codec_*.go):
//
//   - reader (unexported) is a zero-allocation cursor over one message;
//     validate walks a whole value with it (ValidateFinite, exported, also
//     refuses NaN and ±Inf). Nesting is limited to MaxDepth (32), map keys
//     must be strings, and the only extension allowed is the timestamp.
//   - DecodeRequest (the envelope) and DecodeSend (lobby.send, the hot op)
//     are hand-written and return sub-slices of the message: no allocation.
//   - DecodeBody decodes the cold ops' bodies with vmihailenco/msgpack, only
//     after validate, so the library never sees a length it could be tricked
//     into allocating for. Before any walk it refuses, by length and by
//     headers alone, a body over MaxBodyBytes (too_large), a body map of
//     more than MaxBodyKeys keys and an attrs map of more than MaxAttrs: the
//     library's work is linear in what it is given, so it must only ever be
//     given what could be accepted. It checks Attrs with ValidateAttrs (at
//     most MaxAttrs keys of 1..MaxAttrKeyBytes bytes; strings up to
//     MaxAttrStringBytes bytes or finite numbers).
//   - Every decoding error is a *Error with CodeBadRequest (but a body too
//     large: CodeTooLarge) and a constant message (package-level values:
//     rejecting input does not allocate).
//   - Encoders append to the caller's buffer. Replies, pong and lobby.data
//     are hand-written (no allocation); other payloads go through a pooled
//     msgpack encoder. Events put "seq" first, as a fixed 8-byte integer at
//     byte 6, so one encoded event is stamped per recipient (SetEventSeq).
//
// Concurrency: the package has no mutable package-level state. A reader or an
// encoder buffer belongs to one goroutine at a time. The pooled msgpack
// decoders and encoders live in sync.Pools; every function is safe to call
// from many goroutines at once.
package protocol
