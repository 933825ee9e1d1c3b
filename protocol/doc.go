// Package protocol is the wire contract of lobbyd (PROTOCOL.md, version 1):
// envelope shapes, op and event names, error and close codes, the wire views
// of lobbies, members and tickets, and MessagePack encoding and decoding with
// every size bounded.
//
// It does no I/O. Decoders never trust a length read from the network: every
// array, map, string and binary length is checked against the bytes that are
// left before anything is allocated, because a hostile 5-byte frame can claim
// 50 million elements.
//
// Concurrency: the package has no mutable package-level state. A Reader or an
// encoder buffer belongs to one goroutine at a time.
package protocol
