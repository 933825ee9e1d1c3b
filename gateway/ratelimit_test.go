package gateway

import (
	"net"
	"strconv"
	"testing"
	"time"
)

// A table keeps a draining bucket for its key, forgets refilled ones when
// it sweeps, and never holds more than maxKeys.
func TestBucketTableBoundedAndKeepsDrainingBuckets(t *testing.T) {
	tb := newBucketTable(Rate{PerSecond: 1, Burst: 2}, 3000)
	now := int64(1e12)
	for range 2 {
		if ok, _ := tb.allow("busy", now); !ok {
			t.Fatal("burst refused")
		}
	}
	ok, retry := tb.allow("busy", now)
	if ok || retry <= 0 || retry > time.Second {
		t.Fatalf("over the burst: ok %v retry %v", ok, retry)
	}
	// Many keys later (each took one token and refills within a second):
	for i := range 5000 {
		tb.allow("k"+strconv.Itoa(i), now)
	}
	if n := tb.len(); n > 3000 {
		t.Fatalf("%d keys held, bound 3000", n)
	}
	if ok, _ := tb.allow("busy", now); ok {
		t.Fatal("the draining bucket was forgotten")
	}
	// Two seconds on, everything has refilled: a sweep drops it all.
	later := now + int64(2*time.Second)
	tb.mu.Lock()
	tb.sweepLocked(later)
	n := len(tb.m)
	tb.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d refilled buckets kept", n)
	}
	if ok, _ := tb.allow("busy", later); !ok {
		t.Fatal("refilled bucket refused")
	}
}

func TestNoRateAllowsAll(t *testing.T) {
	var nilTable *bucketTable
	for _, tb := range []*bucketTable{nilTable, newBucketTable(Rate{}, 10)} {
		for range 100 {
			if ok, _ := tb.allow("x", 1); !ok {
				t.Fatal("refused without a rate")
			}
		}
	}
}

func TestAddressKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":            "192.0.2.7",
		"::ffff:192.0.2.7":     "192.0.2.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"2001:db8:1:3:3:4:5:6": "2001:db8:1:3::/64",
	} {
		if got := addressKey(net.ParseIP(in)); got != want {
			t.Errorf("addressKey(%s) = %s, want %s", in, got, want)
		}
	}
}
