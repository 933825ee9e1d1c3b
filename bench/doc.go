// Command bench is lobbyd's load generator and side-by-side comparison. It is
// its own module (github.com/lobbyd/lobbyd/bench), so run it from bench/:
//
//	go run . compare [-quick] [-runs 3] [-servers lobbyd,gorilla,socketio]
//	go run . idle -n 10000 -addr 127.0.0.1:8080 [-pid PID] [-operator-token T]
//	go run . match -addr 127.0.0.1:8080 -n 2000 -rate 2000 -duration 5s [-ramp 2000,4000,8000]
//
// compare builds and starts each server in turn (lobbyd, a goroutine-per-
// connection gorilla/websocket baseline, an Express + Socket.IO baseline),
// runs the same workloads against each (idle, browse, fanout, churn; match
// for lobbyd alone, the only one with matchmaking), and writes
// bench/results/RESULTS.md, results.json and chart.png. idle holds N
// authenticated idle players in lobbies of 8 against a server someone else
// started and prints its memory per connection and its goroutines. match
// drives a running lobbyd's matchmaker from N players with seeded skills
// and prints matched tickets/s, time to match and skill spread.
//
// Everything is bounded: connection counts by flags, every phase by a
// timeout, the full compare by -timeout (default 10 minutes); traffic goes
// to 127.0.0.1 only. The server never imports this package; it is a
// separate process speaking the wire protocol.
//
// Concurrency: the command runs one workload against one server at a time.
package main
