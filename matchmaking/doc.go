// Package matchmaking turns queued tickets into matches (PROTOCOL.md §3
// "Matchmaking"): queue configuration, tickets, the matcher, the ticket store
// interface with its in-memory implementation, and the Service that the
// gateway calls for mm.enqueue, mm.cancel and GET /v1/queues.
//
// The matcher (Matcher.Match, FindMatches) is a pure function of the waiting
// tickets, the time and the queue's rules: it does no I/O and keeps no state
// between calls except reusable scratch memory, so it is tested on tables,
// fuzzed for its invariants and benchmarked on 100,000 tickets.
//
// The package knows nothing of sockets and does not import package lobby: it
// reaches lobbies only through the Lobbies interface, and hands its mm.*
// events to a Sink.
//
// Concurrency:
//   - A Matcher belongs to one goroutine at a time.
//   - TicketStore implementations are safe for concurrent use; Claim is
//     atomic, so two matchers (two shards) can never both use one ticket.
//   - Service methods are safe for concurrent use. One matching pass runs at
//     a time (guarded by Service.passMu, which is never held while a Sink or
//     Lobbies method runs... except CreateMatch, see service_run.go). The
//     Service never holds one of its own locks while it calls Sink.Deliver.
package matchmaking
