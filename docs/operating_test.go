package docs

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"
	"go.yaml.in/yaml/v3"

	"github.com/lobbyd/lobbyd/config"
	"github.com/lobbyd/lobbyd/internal/redistest"
)

const alertRules = "../deploy/prometheus/lobbyd-alerts.yml"

// sparseSeries are counters with labels that have no series until they
// first count, and that a healthy shard cannot be made to count: a store
// loss needs a cluster whose Redis is lost, a Redis error a failing Redis
// (e2e's Redis fault tests move both).
var sparseSeries = []string{"lobbyd_store_losses_total", "lobbyd_redis_errors_total"}

// TestAlertRulesNameRealSeries: every series the example alert rules query
// is one a live shard of a cluster serves at /metrics (after it has refused
// a handshake, answered an error and fanned a chat out, so that those
// series exist), and promtool accepts the file.
func TestAlertRulesNameRealSeries(t *testing.T) {
	b, err := os.ReadFile(alertRules)
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatal(err)
	}

	a := startShard(t, func(c *config.Config) {
		addr, prefix := redistest.SharedPrefix(t)
		c.RedisURL = "redis://" + addr + "/0"
		c.RedisPrefix = prefix
		c.ShardID = "alerts"
	})
	base := "http://" + a.Addr()
	if resp, err := http.Get(base + "/ws"); err == nil { // no token: refused, 401
		resp.Body.Close()
	}
	tok, err := a.Auth.Issue("alerts", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+a.Addr()+"/ws?token="+tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	// An unknown op (an error reply), a lobby and a chat in it (a fan-out),
	// each reply awaited: counted by then.
	for i, req := range []map[string]any{
		{"op": "no.such.op", "rid": 1},
		{"op": "lobby.create", "rid": 2, "d": map[string]any{"name": "alerts", "max_players": 2}},
		{"op": "lobby.chat", "rid": 3, "d": map[string]any{"text": "hi"}},
	} {
		b, _ := msgpack.Marshal(req)
		if err := ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
			t.Fatal(err)
		}
		for {
			ws.SetReadDeadline(time.Now().Add(15 * time.Second))
			_, m, err := ws.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			var reply struct {
				Rid uint32 `msgpack:"rid"`
				Ev  string `msgpack:"ev"`
			}
			if msgpack.Unmarshal(m, &reply) == nil && reply.Ev == "" && reply.Rid == uint32(i+1) {
				break
			}
		}
	}

	r, _ := http.NewRequest("GET", base+"/metrics", nil)
	r.Header.Set("Authorization", "Bearer op-token")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	served := map[string]bool{}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 8<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		served[strings.FieldsFunc(line, func(r rune) bool { return r == '{' || r == ' ' })[0]] = true
	}

	name := regexp.MustCompile(`\b(?:lobbyd|process)_[a-z0-9_]+\b`)
	n := 0
	for _, g := range rules.Groups {
		for _, rule := range g.Rules {
			for _, s := range name.FindAllString(rule.Expr, -1) {
				n++
				if !served[s] && !slices.Contains(sparseSeries, s) {
					t.Errorf("alert %s queries %s, which a live shard does not serve", rule.Alert, s)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no lobbyd series in the alert rules")
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool is missing (Debian package prometheus; .ci/run installs it)")
		}
		t.Skip("promtool is missing (Debian package prometheus): the rules' syntax is not checked")
	}
	if out, err := exec.Command(promtool, "check", "rules", alertRules).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}
