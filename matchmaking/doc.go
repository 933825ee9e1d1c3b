// Package matchmaking turns queued tickets into matches (docs/protocol.md §3
// "Matchmaking", §6 `queues:`): queue configuration, tickets, the matcher,
// the TicketStore interface with its in-memory implementation (the
// conformance suite is in matchtest), and the Service that the gateway
// calls for mm.enqueue, mm.cancel, DELETE /v1/tickets/{id} and
// GET /v1/queues.
//
// The matcher (Matcher.Match, FindMatches) is a pure function of the
// waiting tickets, the time and the queue's rules: no I/O, no state between
// calls but reusable scratch. It is tested on tables, fuzzed for its
// invariants and benchmarked on 100,000 tickets; its rules and their
// reasons are on Matcher.
//
// Decisions where the original contract was silent (docs/protocol.md states them):
//   - teams may be 1 (co-op fill); team_size × teams must be 2..256.
//   - max_party 0 means team_size; region "" means strict; timeout_ms 0
//     means 120000; skill_window.max 0 (with a non-zero initial or growth)
//     means uncapped.
//   - Region relaxing is decided per match by its anchor, the oldest
//     waiting ticket: once it has waited region_relax_after_ms, its match
//     may draw from every region. The match lobby's region is the one most
//     of its players asked for (ties: the anchor's).
//   - A match lobby's mode is the queue's name; its name "<queue> match";
//     its host the first member of the anchor ticket.
//   - A ticket that has waited timeout_ms is cancelled (reason "timeout")
//     at the next pass.
//   - Any member of a party ticket may cancel it; a party ticket is
//     cancelled whole when one member's session ends (CancelUser).
//   - skill must be finite and within ±1e9; region at most 64 bytes of
//     UTF-8; attrs at most 16 keys (stored nowhere: v1 does not match on
//     attrs).
//   - If the match lobby cannot be created, the match's tickets are put
//     back with their original CreatedAt (the fault is the server's), and
//     the error is logged.
//
// The package knows nothing of sockets and does not import package lobby:
// it reaches lobbies only through the Lobbies interface and hands its mm.*
// events to a Sink.
//
// Concurrency:
//   - A Matcher belongs to one goroutine at a time.
//   - TicketStore implementations are safe for concurrent use; Claim is
//     atomic, so two matchers (two shards) never both use one ticket.
//   - Service methods are safe for concurrent use. Service.passMu guards
//     only the matcher and its snapshot buffer, during the store's Waiting
//     and the matcher; the Service holds none of its locks while it calls
//     Lobbies, store mutations or Sink.Deliver. One Run per Service. How
//     its locks nest with the rest: docs/locks.md.
package matchmaking
