package matchmaking_test

import (
	"cmp"
	"slices"
	"syscall"
	"testing"
	"time"

	mm "github.com/lobbyd/lobbyd/matchmaking"
)

func sortTickets(ts []mm.Ticket) {
	slices.SortStableFunc(ts, func(a, b mm.Ticket) int { return cmp.Compare(a.CreatedAt, b.CreatedAt) })
}

// cpuTime is the process's user+system CPU time. Benchmarks report it per
// op beside ns/op because this machine is shared: wall time measures the
// neighbours too, CPU time measures us (GC workers included).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N)/1e6, "cpu-ms/op")
}
