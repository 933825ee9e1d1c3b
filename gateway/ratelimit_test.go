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

// tidy drops refilled buckets and, once few are left of many, moves them to
// a map of their own size; keep puts back a draining bucket a connection
// held after tidy dropped it, so that its user reconnects to it as it was.
func TestBucketTableTidyAndKeep(t *testing.T) {
	tb := newBucketTable(Rate{PerSecond: 1, Burst: 2}, 1<<20)
	now := int64(1e12)
	held := tb.get("spammer", now) // a connection's bucket, not yet drained
	for i := range 4000 {
		tb.allow("k"+strconv.Itoa(i), now)
	}
	tb.allow("busy", now)
	tb.allow("busy", now) // drained
	tb.tidy(now)          // nothing has refilled yet; the spammer's untouched bucket is full
	if n := tb.len(); n != 4001 {
		t.Fatalf("tidy before any refill: %d keys, want 4001", n)
	}
	later := now + int64(1500*time.Millisecond) // one token back: "k…" full, "busy" not
	tb.tidy(later)
	tb.mu.Lock()
	_, busy := tb.m["busy"]
	n, peak := len(tb.m), tb.peak
	tb.mu.Unlock()
	if n != 1 || !busy || peak != 1 {
		t.Fatalf("after tidy: %d keys (busy kept %v), peak %d; want busy alone in a new map", n, busy, peak)
	}
	// The spammer's connection drains its bucket after tidy let it go,
	// then drops: keep puts it back, and the reconnect finds it drained.
	held.take(later, Rate{PerSecond: 1, Burst: 2})
	held.take(later, Rate{PerSecond: 1, Burst: 2})
	tb.keep("spammer", held, later)
	if tb.get("spammer", later) != held {
		t.Fatal("a draining bucket was not kept for its user's reconnect")
	}
	if ok, _ := tb.allow("spammer", later); ok {
		t.Fatal("the reconnect found a full bucket")
	}
	full := &sharedBucket{}
	tb.keep("idle", full, later)
	if tb.len() != 2 {
		t.Fatalf("a full bucket was kept: %d keys", tb.len())
	}
}
