// Package proc reads what the harness measures about a server process from
// Linux's /proc: resident memory (VmRSS), thread count (Threads) and CPU
// time (utime+stime), and the load generator's own CPU time. It also reads
// go_goroutines from a Prometheus text page. All functions are safe for
// concurrent use (they hold no state).
package proc
