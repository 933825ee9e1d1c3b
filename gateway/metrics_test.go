package gateway

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/lobbyd/lobbyd/netcode"
	"github.com/lobbyd/lobbyd/protocol"
)

func request(t testing.TB, op string, rid uint32, d map[string]any) []byte {
	t.Helper()
	if d == nil {
		d = map[string]any{}
	}
	b, err := msgpack.Marshal(map[string]any{"op": op, "rid": rid, "d": d})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The bug of issue 14: ping returned before it was counted, so
// lobbyd_ops_total{op="ping"} stayed 0 and the ops summed to less than the
// messages received. Every message admitted is now counted once, by op,
// and received messages and ops agree.
func TestPingsAreCountedAsOps(t *testing.T) {
	g, _ := testGateway(t, 16, 1<<20)
	w := &recordingWriter{}
	cs := openFake(g, "u", w, "", 0)
	const pings = 14
	for i := range pings {
		g.handleMessage(w, cs, request(t, protocol.OpPing, uint32(i+1), nil))
	}
	ping := g.metrics.ops[protocol.OpPing]
	if got := counterValue(ping.handled); got != pings {
		t.Fatalf("lobbyd_ops_total{op=ping} = %v after %d pings", got, pings)
	}
	if got := counterValue(ping.received); got != pings {
		t.Fatalf("lobbyd_messages_received_total{op=ping} = %v", got)
	}
	if got := counterValue(ping.bytes); got < pings*5 {
		t.Fatalf("lobbyd_received_bytes_total{op=ping} = %v", got)
	}
	if got := counterValue(g.metrics.replies); got != pings {
		t.Fatalf("lobbyd_replies_sent_total = %v, want %d pongs", got, pings)
	}
	if got := counterValue(g.metrics.replyBytes); got <= 0 {
		t.Fatalf("lobbyd_reply_bytes_sent_total = %v", got)
	}
	// Garbage is counted as received under "unknown", and refused.
	g.handleMessage(w, cs, []byte{0xc1})
	g.handleMessage(w, cs, request(t, "no.such.op", 99, nil))
	if got := counterValue(g.metrics.unknownOp.received); got != 2 {
		t.Fatalf("received{op=unknown} = %v, want 2", got)
	}
	if got := counterValue(g.metrics.errorCodes[protocol.CodeBadRequest]); got != 1 {
		t.Fatalf("errors{code=bad_request} = %v", got)
	}
	if got := counterValue(g.metrics.errorCodes[protocol.CodeUnknownOp]); got != 1 {
		t.Fatalf("errors{code=unknown_op} = %v", got)
	}
}

// Each op of a lobby conversation moves its counters; those that fan out
// record their latency; every event delivered is counted per recipient.
func TestLobbyOpsEventsAndFanoutAreCounted(t *testing.T) {
	g, _ := testGateway(t, 64, 1<<20)
	wa, wb := &recordingWriter{}, &recordingWriter{}
	a, b := openFake(g, "a", wa, "", 0), openFake(g, "b", wb, "", 0)
	g.handleMessage(wa, a, request(t, protocol.OpLobbyCreate, 1, map[string]any{"name": "room", "max_players": 4, "visibility": "public"}))
	lobbyID := g.lobbyOfForTest(t, "a")
	g.handleMessage(wb, b, request(t, protocol.OpLobbyJoin, 1, map[string]any{"lobby_id": lobbyID}))
	g.handleMessage(wa, a, request(t, protocol.OpLobbyChat, 2, map[string]any{"text": "hi"}))
	g.handleMessage(wa, a, request(t, protocol.OpLobbySend, 3, map[string]any{"data": []byte{1, 2, 3}}))
	g.handleMessage(wb, b, request(t, protocol.OpLobbyLeave, 2, nil))

	for _, op := range []string{protocol.OpLobbyCreate, protocol.OpLobbyJoin, protocol.OpLobbyChat, protocol.OpLobbySend, protocol.OpLobbyLeave} {
		if got := counterValue(g.metrics.ops[op].handled); got != 1 {
			t.Errorf("ops_total{op=%s} = %v", op, got)
		}
	}
	for _, op := range []string{protocol.OpLobbyJoin, protocol.OpLobbyChat, protocol.OpLobbySend, protocol.OpLobbyLeave} {
		if n := histogramCount(t, g, "lobbyd_fanout_duration_seconds", "op", op); n != 1 {
			t.Errorf("fanout histogram for %s has %d samples, want 1", op, n)
		}
	}
	// joined → a; chat → a, b; data → b; left → a.
	for ev, want := range map[string]float64{protocol.EvMemberJoined: 1, protocol.EvChat: 2, protocol.EvData: 1, protocol.EvMemberLeft: 1, protocol.EvWelcome: 2} {
		em := g.metrics.events[ev]
		if got := counterValue(em.sent); got != want {
			t.Errorf("events_sent_total{event=%s} = %v, want %v", ev, got, want)
		}
		if got := counterValue(em.bytes); got <= 0 {
			t.Errorf("sent_bytes_total{event=%s} = %v", ev, got)
		}
	}
	if got := counterValue(g.metrics.eventsOut); got != 4 {
		t.Errorf("events_fanned_out_total = %v, want 4", got)
	}
}

func (g *Gateway) lobbyOfForTest(t *testing.T, uid string) string {
	t.Helper()
	v, ok, err := g.lobbies.LobbyOf(context.Background(), uid)
	if err != nil || !ok {
		t.Fatalf("LobbyOf(%s): %v %v", uid, ok, err)
	}
	return v.ID
}

// histogramCount reads the sample count of one series of a histogram.
func histogramCount(t *testing.T, g *Gateway, name, label, value string) uint64 {
	t.Helper()
	mfs, err := g.metrics.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					return m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return 0
}

// A resume moves resumes_total{result=resumed}; a token that cannot be
// honoured, {result=new_session}. The gauge of sessions by state sees the
// one waiting in between.
func TestResumesAndSessionStatesAreCounted(t *testing.T) {
	g, _ := testGateway(t, 16, 1<<20)
	w := &recordingWriter{}
	cs := openFake(g, "u", w, "", 0)
	token := tokenOf(cs.session)
	g.closed(cs)
	if c, r := g.hub.countByState(); c != 0 || r != 1 {
		t.Fatalf("sessions by state: connected %d resumable %d, want 0 1", c, r)
	}
	openFake(g, "u", &recordingWriter{}, token, 0)
	if got := counterValue(g.metrics.resumes[1]); got != 1 {
		t.Fatalf("resumes{resumed} = %v", got)
	}
	if c, r := g.hub.countByState(); c != 1 || r != 0 {
		t.Fatalf("sessions by state: connected %d resumable %d, want 1 0", c, r)
	}
	openFake(g, "u", &recordingWriter{}, "not-a-token", 0)
	if got := counterValue(g.metrics.resumes[0]); got != 1 {
		t.Fatalf("resumes{new_session} = %v", got)
	}
}

// Every close code the server sends has its own series; an unknown code
// goes to "other".
func TestClosesAreCountedByCode(t *testing.T) {
	g, _ := testGateway(t, 16, 1<<20)
	for _, c := range closeReasons {
		g.metrics.closed(c.code)
		if got := counterValue(g.metrics.closes[c.code]); got != 1 {
			t.Errorf("closes{code=%d,reason=%s} = %v", c.code, c.reason, got)
		}
	}
	g.metrics.closed(4999)
	if got := counterValue(g.metrics.closeOther); got != 1 {
		t.Errorf("closes{code=other} = %v", got)
	}
	for _, want := range []uint16{netcode.ClosePolicyViolation, protocol.CloseRateLimited, netcode.CloseGoingAway, protocol.CloseReplaced, protocol.CloseDraining} {
		if _, ok := g.metrics.closes[want]; !ok {
			t.Errorf("close code %d has no series", want)
		}
	}
}

// Every refusal reason has a series that moves; one the code does not
// know is still counted.
func TestRefusalsAreCountedByReason(t *testing.T) {
	g, _ := testGateway(t, 16, 1<<20)
	for _, r := range refuseReasons {
		g.metrics.refuse(r)
		if got := counterValue(g.metrics.refused[r]); got != 1 {
			t.Errorf("handshakes_refused{reason=%s} = %v", r, got)
		}
	}
	g.metrics.refuse("new-path")
	if got := counterValue(g.metrics.refused[refuseOther]); got != 2 {
		t.Errorf("handshakes_refused{reason=other_rejection} = %v, want 2", got)
	}
}

// The metrics on the message and fan-out paths allocate nothing: a ping
// and a lobby.send into a lobby of 8 through handleMessage, counters,
// histogram and all.
func TestHotPathMetricsAllocateNothing(t *testing.T) {
	g, store := testGateway(t, 1024, 1<<20)
	benchLobby(t, g, store)
	w := &copyWriter{}
	cs := g.newConnState(Identity{UserID: "u0"}, time.Now().UnixNano())
	cs.session = g.hub.lookup("u0")
	ping := request(t, protocol.OpPing, 7, nil)
	send := request(t, protocol.OpLobbySend, 0, map[string]any{"data": make([]byte, 64)})
	g.settings.Store(&Live{Messages: Rate{PerSecond: 1e9, Burst: 1 << 30}}) // the limit is not what is measured
	for range 4096 {                                                        // past the ring size, so pooled buffers recycle
		g.handleMessage(w, cs, send)
	}
	for name, msg := range map[string][]byte{"ping": ping, "lobby.send": send} {
		if n := testing.AllocsPerRun(1000, func() { g.handleMessage(w, cs, msg) }); n != 0 {
			t.Errorf("%s: %v allocations per message", name, n)
		}
	}
}

// A flood of one kind of line is held to logBurst lines per window, the
// rest counted in lobbyd_log_lines_dropped_total and reported by the next
// line written; another kind is not held back by it.
func TestLogFloodIsLimitedPerKind(t *testing.T) {
	g, _ := testGateway(t, 16, 1<<20)
	var buf bytes.Buffer
	g.log = slog.New(slog.NewTextHandler(&buf, nil))
	for range 1000 {
		g.logLimited(logRefused, slog.LevelInfo, "connection refused", "reason", "token")
	}
	g.logLimited(logStoreError, slog.LevelError, "lobby store call failed")
	lines := strings.Count(buf.String(), "connection refused")
	if lines != logBurst {
		t.Fatalf("%d lines of a flood of 1000 written, want %d", lines, logBurst)
	}
	if !strings.Contains(buf.String(), "lobby store call failed") {
		t.Fatal("another kind was held back by the flood")
	}
	if got := counterValue(g.metrics.logDropped[logRefused]); got != 1000-logBurst {
		t.Fatalf("log_lines_dropped{kind=handshake_refused} = %v, want %d", got, 1000-logBurst)
	}
	// The next window's first line says how many were dropped.
	g.logLimits[logRefused].windowEnd = time.Now().Add(-time.Millisecond)
	g.logLimited(logRefused, slog.LevelInfo, "connection refused", "reason", "token")
	if !strings.Contains(buf.String(), "dropped_since_last_line=990") {
		t.Fatalf("no count of the dropped lines:\n%s", buf.String())
	}
}

// counterValue reads a counter.
func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}
