package budget

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
)

// MachineDefault is the default budget: a quarter of the memory this
// process may use, which is the cgroup's memory limit when there is one
// (a container) and physical RAM otherwise. The rest is left to the
// heap's other tenants (lobbies, sessions, the GC's headroom) and the OS.
// When neither can be read, a quarter of 4 GiB.
func MachineDefault() int64 {
	mem := int64(4 << 30)
	if ram, ok := physicalRAM(); ok {
		mem = ram
	}
	if lim, ok := cgroupLimit(); ok && lim < mem {
		mem = lim
	}
	return max(mem/4, MinLimit)
}

// cgroupLimit reads the memory limit of cgroup v2, then v1. "max" and v1's
// "no limit" (a page-rounded 2^63) read as none.
func cgroupLimit() (int64, bool) {
	for _, path := range []string{
		"/sys/fs/cgroup/memory.max",
		"/sys/fs/cgroup/memory/memory.limit_in_bytes",
	} {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		v, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
		if err != nil || v <= 0 || v >= 1<<62 {
			return 0, false // "max", or v1's unlimited
		}
		return v, true
	}
	return 0, false
}

// physicalRAM reads MemTotal from /proc/meminfo.
func physicalRAM() (int64, bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		if err != nil || kb <= 0 {
			return 0, false
		}
		return kb << 10, true
	}
	return 0, false
}
