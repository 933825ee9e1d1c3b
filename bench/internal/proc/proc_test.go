package proc

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"
)

func TestParseStatus(t *testing.T) {
	st, err := parseStatus([]byte("Name:\tnode\nVmPeak:\t 1 kB\nVmRSS:\t   20480 kB\nThreads:\t11\n"))
	if err != nil || st.RSSBytes != 20480*1024 || st.Threads != 11 {
		t.Fatalf("got %+v, %v", st, err)
	}
	for _, bad := range []string{"", "VmRSS: 1 kB\n", "Threads: 3\n", "VmRSS: x kB\nThreads: 1\n", "VmRSS: 5 MB\nThreads: 1\n"} {
		if _, err := parseStatus([]byte(bad)); err == nil {
			t.Errorf("parseStatus(%q) accepted", bad)
		}
	}
}

func TestParseStatCPU(t *testing.T) {
	// comm with spaces and a ')' inside: fields count from the last ')'.
	line := "42 (my) proc) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 100 0 0"
	d, err := parseStatCPU([]byte(line))
	if err != nil || d != 3*time.Second {
		t.Fatalf("got %s, %v", d, err)
	}
	if _, err := parseStatCPU([]byte("42 (x) S 1")); err == nil {
		t.Fatal("short stat accepted")
	}
}

func TestOwnProcess(t *testing.T) {
	st, err := ReadStatus(os.Getpid())
	if err != nil || st.RSSBytes <= 0 || st.Threads < 1 {
		t.Fatalf("ReadStatus(self) = %+v, %v", st, err)
	}
	if _, err := CPU(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	busy, total, err := MachineCPU()
	if err != nil || busy <= 0 || total < busy {
		t.Fatalf("MachineCPU = %s, %s, %v", busy, total, err)
	}
}

func TestParseMachineCPU(t *testing.T) {
	busy, total, err := parseMachineCPU([]byte("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3\n"))
	if err != nil || busy != 1500*time.Millisecond || total != 10*time.Second {
		t.Fatalf("got %s %s %v", busy, total, err)
	}
	if _, _, err := parseMachineCPU([]byte("intr 1 2 3")); err == nil {
		t.Fatal("bad stat accepted")
	}
}

func TestFDsOfSelf(t *testing.T) {
	n, err := FDs(os.Getpid())
	if err != nil || n < 3 {
		t.Fatalf("FDs = %d, %v", n, err)
	}
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if m, _ := FDs(os.Getpid()); m != n+1 {
		t.Fatalf("FDs after an open = %d, want %d", m, n+1)
	}
}

func TestParseGauge(t *testing.T) {
	tests := []struct {
		body string
		want int
		ok   bool
	}{
		{"# HELP go_goroutines n\n# TYPE go_goroutines gauge\ngo_goroutines 17\n", 17, true},
		{"go_goroutines_total 3\ngo_goroutines{shard=\"a\"} 9\n", 9, true},
		{"go_threads 4\n", 0, false},
		{"go_goroutines abc\n", 0, false},
	}
	for _, tc := range tests {
		got, err := parseGauge([]byte(tc.body), "go_goroutines")
		if (err == nil) != tc.ok || got != float64(tc.want) {
			t.Errorf("parseGauge(%q) = %v, %v", tc.body, got, err)
		}
	}
}

func TestGoroutinesHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprintln(w, "go_goroutines 12")
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if n, err := Goroutines(ctx, srv.Client(), srv.URL, "tok"); err != nil || n != 12 {
		t.Fatalf("got %d, %v", n, err)
	}
	if _, err := Goroutines(ctx, srv.Client(), srv.URL, "wrong"); err == nil {
		t.Fatal("401 accepted")
	}
}

func TestListenerPID(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	pid, err := ListenerPID(l.Addr().(*net.TCPAddr).Port)
	if err != nil || pid != os.Getpid() {
		t.Fatalf("ListenerPID = %d, %v; want %d", pid, err, os.Getpid())
	}
}
