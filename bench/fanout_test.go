package main

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/lobbyd/lobbyd/bench/internal/harness"
)

// fanout -addr A,B is one target over a cluster's nodes: player i dials
// node i mod 2, and the second node's CPU is read with the first's.
func TestFanoutTargetSpreadsOverNodes(t *testing.T) {
	var addrs []string
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	tg, err := fanoutTarget(harness.Lobbyd, strings.Join(addrs, ","), 0)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := tg.Dialer.(spreadDialer)
	if !ok || len(d) != 2 {
		t.Fatalf("dialer %T, want a spreadDialer over 2 nodes", tg.Dialer)
	}
	// Both listeners are this process: each node's PID is found by its port.
	if tg.Addr != addrs[0] || len(tg.ExtraPIDs) != 1 || tg.ExtraPIDs[0] != tg.PID {
		t.Fatalf("target %s pid %d extra %v", tg.Addr, tg.PID, tg.ExtraPIDs)
	}
	if _, err := fanoutTarget(harness.Lobbyd, strings.Join(addrs, ","), 1); err == nil {
		t.Fatal("-pid with several addresses accepted")
	}
	if _, err := fanoutTarget(harness.Lobbyd, addrs[0]+",10.0.0.1:"+strconv.Itoa(80), 0); err == nil {
		t.Fatal("a node off loopback accepted")
	}
}
