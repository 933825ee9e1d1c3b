// Package load runs the workloads of the bench harness against one server
// under test: idle (memory per held connection), fanout (relay throughput and
// latency in lobbies of 8), churn (create/join/leave per second) and browse
// (GET /v1/lobbies per second) and match (lobbyd's matchmaker: tickets
// matched per second, time to match, skill spread). Each workload is bounded in connection count
// and wall time by its Config, and reports the server's CPU, RSS and threads
// from /proc next to the load generator's own CPU, so a figure limited by the
// client is flagged rather than reported as the server's.
//
// Concurrency: workload functions are called one at a time per Target; inside
// they run bounded worker pools, and connection reader goroutines record into
// atomic counters and a lock-free histogram. In match, a player's state
// (free, queued, leaving) is an atomic moved by compare-and-swap, and a
// player sits in the free channel exactly when it is free, so the pacer and
// the reader goroutines never queue one player twice.
package load
