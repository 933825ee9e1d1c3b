// Package stats holds the load generator's measurement helpers: a lock-free
// latency histogram that many receiver goroutines record into at once, and
// the median-with-range summary used for repeated runs.
package stats
