// Package watch is the live lobby list, GET /v1/lobbies/watch
// (docs/protocol.md §4): one Hub per shard follows the listing of a
// lobby.ListingFeed and fans each change out, as Server-Sent Events, to the
// watchers whose filters it concerns.
//
// What it costs, and its bounds (docs/protocol.md, "Live lobby list"):
//
//   - Changes are coalesced: the feed only notes the id of a lobby that
//     changed, and the hub's goroutine handles the noted ids at most once
//     per Options.Coalesce (250 ms), reading each lobby's state once then,
//     so a lobby that changes a thousand times in that time costs one
//     event per watcher, carrying its last state.
//   - A change is encoded once, as one SSE frame shared by every watcher it
//     goes to; watchers with the same filters form a group, and a change
//     that concerns no watcher of a group costs one filter check for the
//     whole group.
//   - Watchers per hub are bounded (Options.MaxWatchers: 503 over it); each
//     watcher's queue of frames not yet written is bounded in bytes
//     (Options.MaxQueued), and so is the set of lobbies it was sent
//     (Options.MaxTracked): over either, it gets event: overflow and its
//     stream ends, and the client reconnects for a fresh list.
//   - A client that stops reading holds its stream's writer for at most
//     Options.WriteStall before the write fails and the stream ends.
//
// Concurrency: the feed's callback (Hub.note) runs under the lock of the
// lobby that changed and takes only Hub.pendMu, a leaf. The hub's goroutine
// reads lobby views holding no lock of its own, then takes Hub.mu to fan
// out; under Hub.mu it takes each watcher's Watcher.mu (a leaf) to queue
// frames. Each watcher's stream is written by its own goroutine (fasthttp's
// stream writer), which holds no lock while it writes. docs/locks.md has
// the order.
package watch
