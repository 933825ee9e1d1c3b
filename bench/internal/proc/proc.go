package proc

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/PID/stat. It is
// 100 on every Linux architecture Go supports (the kernel ABI fixes it).
const clockTicks = 100

// Status is the part of /proc/PID/status the harness reports.
type Status struct {
	RSSBytes int64 // VmRSS
	Threads  int   // Threads
}

// ReadStatus reads /proc/PID/status.
func ReadStatus(pid int) (Status, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Status{}, err
	}
	return parseStatus(b)
}

func parseStatus(b []byte) (Status, error) {
	var st Status
	var haveRSS, haveThreads bool
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		switch k {
		case "VmRSS":
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil || len(f) < 2 || f[1] != "kB" {
				return st, fmt.Errorf("proc: bad VmRSS %q", v)
			}
			st.RSSBytes, haveRSS = n*1024, true
		case "Threads":
			n, err := strconv.Atoi(f[0])
			if err != nil {
				return st, fmt.Errorf("proc: bad Threads %q", v)
			}
			st.Threads, haveThreads = n, true
		}
	}
	if !haveRSS || !haveThreads {
		return st, fmt.Errorf("proc: status lacks VmRSS or Threads")
	}
	return st, nil
}

// CPU returns the process's user+system CPU time from /proc/PID/stat.
func CPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(b)
}

func parseStatCPU(b []byte) (time.Duration, error) {
	// The command name (field 2) is in parentheses and may hold spaces or
	// ')': fields are counted from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("proc: bad stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// After ')': state is field 3, so utime (14) and stime (15) are f[11], f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("proc: short stat")
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("proc: bad utime/stime")
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// SelfCPU is the calling process's user+system CPU time (getrusage).
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Goroutines fetches url (a Prometheus text page) with an optional bearer
// token and returns the go_goroutines gauge. It reads at most 4 MiB.
func Goroutines(ctx context.Context, hc *http.Client, url, token string) (int, error) {
	v, err := Gauges(ctx, hc, url, token, "go_goroutines")
	if err != nil {
		return 0, err
	}
	return int(v[0]), nil
}

// Gauges fetches url (a Prometheus text page) with an optional bearer token
// and returns the named gauges' values, in order. It reads at most 4 MiB.
func Gauges(ctx context.Context, hc *http.Client, url, token string, names ...string) ([]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics: HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(names))
	for i, n := range names {
		if out[i], err = parseGauge(body, n); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func parseGauge(body []byte, name string) (float64, error) {
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue // another metric with this prefix
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("metrics: bad %s value %q", name, f[len(f)-1])
		}
		return v, nil
	}
	return 0, fmt.Errorf("metrics: no %s", name)
}

// FDs counts the open file descriptors of a process (/proc/PID/fd).
func FDs(pid int) (int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(ents), err
}

// MachineCPU returns the busy and total CPU time of the whole machine, all
// cores summed, from the first line of /proc/stat. Busy excludes idle and
// iowait. The harness subtracts the server's and its own share from busy to
// see how much other processes took during a measurement.
func MachineCPU() (busy, total time.Duration, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	return parseMachineCPU(b)
}

func parseMachineCPU(b []byte) (busy, total time.Duration, err error) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 6 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("proc: bad /proc/stat")
	}
	var all, idle uint64
	// user nice system idle iowait irq softirq steal (guest is inside user).
	for i, s := range f[1:min(len(f), 9)] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("proc: bad /proc/stat field %q", s)
		}
		all += v
		if i == 3 || i == 4 {
			idle += v
		}
	}
	return time.Duration(all-idle) * time.Second / clockTicks, time.Duration(all) * time.Second / clockTicks, nil
}
