// Package harness builds and starts the servers under test — lobbyd, the
// gorilla baseline and the Express + Socket.IO baseline — each as its own
// process on a free loopback port, waits until it answers GET /healthz, and
// stops it (SIGTERM, then SIGKILL after a bound). It also collects the
// versions and machine facts written into RESULTS.md.
//
// Concurrency: a Server is owned by one goroutine; Start and Stop are not
// safe to call concurrently on the same Server.
package harness
