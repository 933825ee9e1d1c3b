package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/lobbyd/lobbyd/config"
)

// scrape returns GET /metrics of s as text.
func (s *server) scrape(t *testing.T) []byte {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", "http://"+s.addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer op-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	return body
}

// samples is a scrape by series: "name{label="value",...}" (labels sorted)
// → value; histograms give their _count and _sum.
type samples map[string]float64

func parseScrape(t *testing.T, text []byte) (samples, map[string]*dto.MetricFamily) {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("the scrape does not parse: %v", err)
	}
	out := samples{}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, lp := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
			}
			sort.Strings(ls)
			key := func(n string) string { return n + "{" + strings.Join(ls, ",") + "}" }
			switch {
			case m.Counter != nil:
				out[key(name)] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[key(name)] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				out[key(name+"_count")] = float64(m.GetHistogram().GetSampleCount())
				out[key(name+"_sum")] = m.GetHistogram().GetSampleSum()
			case m.Untyped != nil:
				out[key(name)] = m.GetUntyped().GetValue()
			}
		}
	}
	return out, mfs
}

// promtoolCheck runs `promtool check metrics` on a scrape. Under CI a
// missing promtool fails the test (.ci/run installs it).
func promtoolCheck(t *testing.T, text []byte) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool not installed (.ci/run installs Debian's prometheus package)")
		}
		t.Skip("promtool not installed; apt-get install prometheus")
	}
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = bytes.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// busyShard plays one of everything on s that a metric counts: pings,
// lobbies (one with a password, a wrong one tried), chat, data, a kick, a
// start, a match, a waiting ticket, a resume, a replaced connection, a
// client closed for flooding, refused handshakes (bad token, bad origin, a
// flood of them), and last a drain. It returns the secrets it used.
func busyShard(t *testing.T, s *server) (secrets []string) {
	t.Helper()
	a, b := s.dial("m-alice"), s.dial("m-bob")
	for range 3 {
		a.ok("ping", nil)
	}
	const password = "pw-correct-horse-9d1c"
	lv := a.ok("lobby.create", map[string]any{"name": "room", "max_players": 4, "visibility": "public", "password": password})
	id := str(lv["lobby"].(map[string]any)["id"])
	b.fail("lobby.join", map[string]any{"lobby_id": id, "password": "pw-wrong-battery-77aa"}, "wrong_password")
	b.ok("lobby.join", map[string]any{"lobby_id": id, "password": password})
	a.ok("lobby.chat", map[string]any{"text": "hello"})
	a.ok("lobby.send", map[string]any{"data": []byte("abc")})
	b.ok("lobby.set_member", map[string]any{"ready": true})
	a.ok("lobby.update", map[string]any{"name": "room 2"})
	a.ok("lobby.transfer_host", map[string]any{"user_id": "m-bob"})
	b.ok("lobby.kick", map[string]any{"user_id": "m-alice"})
	b.ok("lobby.start", nil)

	// A match of two, and a ticket left waiting.
	c, d, e := s.dial("m-carol"), s.dial("m-dave"), s.dial("m-erin")
	c.ok("mm.enqueue", map[string]any{"queue": "duel", "skill": 1000})
	d.ok("mm.enqueue", map[string]any{"queue": "duel", "skill": 1040})
	c.nextEvent("mm.matched")
	d.nextEvent("mm.matched")
	e.ok("mm.enqueue", map[string]any{"queue": "squad", "skill": 5})

	// A resume, and a session left waiting for one.
	f := s.dial("m-frank")
	resume := str(f.welcome.d()["resume_token"])
	f.ws.Close()
	f2 := s.dialQuery("m-frank", "token="+url.QueryEscape(s.token("m-frank", "", time.Hour))+"&resume="+url.QueryEscape(resume)+"&last_seq=0")
	if f2.welcome.d()["resumed"] != true {
		t.Fatalf("not resumed: %v", f2.welcome)
	}
	g := s.dial("m-gina")
	g.ws.Close()

	// A second login replaces the first (4009).
	h := s.dial("m-hank")
	s.dial("m-hank")
	if code := h.waitClose(); code != 4009 {
		t.Fatalf("replaced: close %d", code)
	}

	// A flood past the rate limit: closed with 4008.
	fl := s.dial("m-flood")
	for range 2000 {
		if fl.ws.WriteMessage(websocket.BinaryMessage, []byte{0x80}) != nil {
			break
		}
	}
	if code := fl.waitClose(); code != 4008 {
		t.Fatalf("flood: close %d", code)
	}

	// Refused handshakes: bad tokens (a flood of them), a foreign origin.
	badToken := s.token("m-ivy", "", -time.Hour) // expired
	for range 40 {
		if _, resp, err := websocket.DefaultDialer.Dial(s.wsURL("token="+url.QueryEscape(badToken)), nil); err == nil || resp == nil || resp.StatusCode != 401 {
			t.Fatalf("expired token: %v", err)
		}
	}
	if _, resp, err := websocket.DefaultDialer.Dial(s.wsURL("token="+url.QueryEscape(s.token("m-jo", "", time.Hour))),
		http.Header{"Origin": {"https://evil.example"}}); err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("foreign origin: %v", err)
	}
	return []string{password, "pw-wrong-battery-77aa", resume, badToken, testSecret, "op-token"}
}

// metricsConfig is the shard busyShard expects: an origin list (to refuse
// one), a tight enough rate limit to close a flood, no drain spread.
func metricsConfig(c *config.Config) {
	c.AllowedOrigins = []string{"https://game.example"}
	c.RateLimit = config.RateLimit{PerSecond: 20, Burst: 40}
	c.DrainSpreadMs = 0
}

// Every counter the shard keeps moves under traffic that should move it,
// and a live scrape passes `promtool check metrics`. Issue 14's bug is the
// first line: pings used to leave lobbyd_ops_total{op="ping"} at 0.
func TestMetricsMoveUnderTraffic(t *testing.T) {
	s := startServer(t, metricsConfig)
	busyShard(t, s)
	got, _ := parseScrape(t, s.scrape(t))

	atLeast := map[string]float64{
		`lobbyd_ops_total{op="ping"}`:                              3,
		`lobbyd_messages_received_total{op="ping"}`:                3,
		`lobbyd_received_bytes_total{op="lobby.send"}`:             1,
		`lobbyd_messages_received_total{op="unknown"}`:             1, // the flood's bytes are not requests
		`lobbyd_ops_total{op="lobby.create"}`:                      1,
		`lobbyd_ops_total{op="lobby.join"}`:                        2,
		`lobbyd_ops_total{op="lobby.kick"}`:                        1,
		`lobbyd_ops_total{op="lobby.start"}`:                       1,
		`lobbyd_ops_total{op="mm.enqueue"}`:                        3,
		`lobbyd_events_sent_total{event="lobby.chat"}`:             2,
		`lobbyd_events_sent_total{event="lobby.data"}`:             1,
		`lobbyd_events_sent_total{event="lobby.member_joined"}`:    1,
		`lobbyd_events_sent_total{event="lobby.kicked"}`:           1,
		`lobbyd_events_sent_total{event="lobby.started"}`:          1,
		`lobbyd_events_sent_total{event="mm.matched"}`:             2,
		`lobbyd_events_sent_total{event="mm.queued"}`:              3,
		`lobbyd_events_sent_total{event="welcome"}`:                8,
		`lobbyd_sent_bytes_total{event="lobby.data"}`:              1,
		`lobbyd_events_fanned_out_total{}`:                         5,
		`lobbyd_replies_sent_total{}`:                              15,
		`lobbyd_reply_bytes_sent_total{}`:                          15,
		`lobbyd_fanout_duration_seconds_count{op="lobby.send"}`:    1,
		`lobbyd_fanout_duration_seconds_count{op="lobby.chat"}`:    1,
		`lobbyd_errors_total{code="wrong_password"}`:               1,
		`lobbyd_errors_total{code="bad_request"}`:                  1,
		`lobbyd_rate_limited_total{}`:                              1,
		`lobbyd_handshakes_refused_total{reason="token"}`:          40,
		`lobbyd_handshakes_refused_total{reason="origin"}`:         1,
		`lobbyd_log_lines_dropped_total{kind="handshake_refused"}`: 1,
		`lobbyd_closes_total{code="4009",reason="replaced"}`:       1,
		`lobbyd_closes_total{code="4008",reason="rate_limited"}`:   1,
		`lobbyd_resumes_total{result="resumed"}`:                   1,
		`lobbyd_connections_opened_total{}`:                        10,
		`lobbyd_connections{}`:                                     1,
		`lobbyd_sessions{state="connected"}`:                       1,
		`lobbyd_sessions{state="resumable"}`:                       1,
		`lobbyd_lobbies{state="in_game"}`:                          1,
		`lobbyd_lobby_members{state="connected"}`:                  1,
		`lobbyd_matchmaking_matches_total{queue="duel"}`:           1,
		`lobbyd_matchmaking_matched_players_total{queue="duel"}`:   2,
		`lobbyd_matchmaking_wait_seconds_count{queue="duel"}`:      2,
		`lobbyd_matchmaking_skill_spread_count{queue="duel"}`:      1,
		`lobbyd_matchmaking_skill_spread_sum{queue="duel"}`:        40,
		`lobbyd_matchmaking_tickets_waiting{queue="squad"}`:        1,
		`lobbyd_matchmaking_players_waiting{queue="squad"}`:        1,
		`lobbyd_memory_budget_bytes{}`:                             1,
		`lobbyd_max_connections{}`:                                 1,
		`lobbyd_start_time_seconds{}`:                              1,
		`process_resident_memory_bytes{}`:                          1,
	}
	for series, min := range atLeast {
		if v, ok := got[series]; !ok || v < min {
			t.Errorf("%s = %v (present %v), want at least %v", series, v, ok, min)
		}
	}
	build := false
	for k, v := range got {
		if strings.HasPrefix(k, "lobbyd_build_info{") && v == 1 {
			build = true
		}
	}
	if !build {
		t.Error("no lobbyd_build_info")
	}

	// A drain moves its own series: server.draining to each client, and
	// their closes with 4010.
	if code, _ := s.httpDo("POST", "/admin/drain", "op-token", nil, nil); code != 202 {
		t.Fatalf("drain: %d", code)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, _ = parseScrape(t, s.scrape(t))
		if got[`lobbyd_closes_total{code="4010",reason="draining"}`] >= 1 && got[`lobbyd_events_sent_total{event="server.draining"}`] >= 1 &&
			got[`lobbyd_draining{}`] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("drain not counted: closes 4010 %v, server.draining %v, draining %v",
				got[`lobbyd_closes_total{code="4010",reason="draining"}`], got[`lobbyd_events_sent_total{event="server.draining"}`], got[`lobbyd_draining{}`])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A live scrape of a busy shard passes promtool's checks (names, units,
// help, types), and so does a cluster shard's, with its Redis series.
func TestMetricsPassPromtool(t *testing.T) {
	s := startServer(t, metricsConfig)
	busyShard(t, s)
	promtoolCheck(t, s.scrape(t))
}

// A shard of a cluster times its Redis commands (a go-redis hook), and its
// scrape passes promtool too.
func TestClusterMetricsTimeRedis(t *testing.T) {
	sh := startShards(t, 1, nil)
	a := sh[0].dial("r-alice")
	a.ok("lobby.create", map[string]any{"name": "room", "max_players": 4, "visibility": "public"})
	a.ok("lobby.chat", map[string]any{"text": "hi"})
	text := sh[0].scrape(t)
	got, _ := parseScrape(t, text)
	var commands float64
	for k, v := range got {
		if strings.HasPrefix(k, "lobbyd_redis_command_duration_seconds_count{") {
			commands += v
		}
	}
	if commands == 0 {
		t.Fatal("no Redis command timed")
	}
	if _, ok := got[`lobbyd_redis_errors_total{command="ping"}`]; !ok {
		t.Fatal("no lobbyd_redis_errors_total series")
	}
	// The pool served those commands from at least one connection.
	if got[`lobbyd_redis_pool_connections{state="idle"}`]+got[`lobbyd_redis_pool_connections{state="in_use"}`] < 1 ||
		got["lobbyd_redis_pool_hits_total{}"]+got["lobbyd_redis_pool_misses_total{}"] < 1 {
		t.Fatalf("Redis pool series missing or empty: connections %v/%v, hits %v, misses %v",
			got[`lobbyd_redis_pool_connections{state="idle"}`], got[`lobbyd_redis_pool_connections{state="in_use"}`],
			got["lobbyd_redis_pool_hits_total{}"], got["lobbyd_redis_pool_misses_total{}"])
	}
	if got[`lobbyd_ops_total{op="lobby.chat"}`] != 1 {
		t.Fatalf("lobby.chat run off the loop not counted once: %v", got[`lobbyd_ops_total{op="lobby.chat"}`])
	}
	promtoolCheck(t, text)
}
