// Package report turns the harness's measurements into bench/results:
// RESULTS.md (machine, versions, commands, medians of the runs with their
// ranges, the targets and whether each was met, and every caveat) and a PNG
// chart drawn with gonum.org/v1/plot. It does no measuring itself.
//
// Concurrency: the functions are pure over a Results value; call them from
// one goroutine.
package report
