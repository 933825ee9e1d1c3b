// Package lobbytest is the conformance suite every lobby.Store must pass.
// The memory store runs it in lobby/memory_test.go; the Redis store runs the
// same suite, so the two implement one set of rules.
//
// Run creates a fresh store for every subtest through newStore, with a
// Recorder as its Sink. The suite speaks only the Store interface; it
// expects events to have reached the Sink by the time the call that caused
// them returns (a store that delivers asynchronously must flush before it
// returns in its test wiring).
package lobbytest
