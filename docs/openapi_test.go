package docs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/lobbyd/lobbyd/app"
	"github.com/lobbyd/lobbyd/config"
	"github.com/lobbyd/lobbyd/internal/wstest"
)

// spec is the part of an OpenAPI 3.1 document the test reads.
type spec struct {
	OpenAPI    string                          `yaml:"openapi"`
	Paths      map[string]map[string]operation `yaml:"paths"`
	Components struct {
		Schemas   map[string]*schema   `yaml:"schemas"`
		Responses map[string]*response `yaml:"responses"`
	} `yaml:"components"`
}

type operation struct {
	Responses map[string]*response `yaml:"responses"`
}

type response struct {
	Ref     string `yaml:"$ref"`
	Headers map[string]struct {
		Schema *schema `yaml:"schema"`
	} `yaml:"headers"`
	Content map[string]struct {
		Schema *schema `yaml:"schema"`
	} `yaml:"content"`
}

// schema is the subset of JSON Schema the documented answers use.
type schema struct {
	Ref                  string             `yaml:"$ref"`
	Type                 typeList           `yaml:"type"`
	Required             []string           `yaml:"required"`
	Properties           map[string]*schema `yaml:"properties"`
	AdditionalProperties *schema            `yaml:"additionalProperties"`
	Items                *schema            `yaml:"items"`
	Enum                 []any              `yaml:"enum"`
	Const                any                `yaml:"const"`
	Pattern              string             `yaml:"pattern"`
}

// typeList is "type": a name or, in 3.1, a list of names.
type typeList []string

func (t *typeList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*t = typeList{n.Value}
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return err
	}
	*t = l
	return nil
}

func loadSpec(t *testing.T) *spec {
	t.Helper()
	b, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var s spec
	if err := yaml.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.OpenAPI, "3.1.") {
		t.Fatalf("openapi %q, want 3.1.x", s.OpenAPI)
	}
	return &s
}

func (s *spec) resolveResponse(t *testing.T, r *response) *response {
	t.Helper()
	if r.Ref == "" {
		return r
	}
	name := strings.TrimPrefix(r.Ref, "#/components/responses/")
	res, ok := s.Components.Responses[name]
	if !ok {
		t.Fatalf("unresolved $ref %s", r.Ref)
	}
	return res
}

// check validates a decoded JSON value against sc and returns the problems.
func (s *spec) check(v any, sc *schema, at string) []string {
	if sc == nil {
		return nil
	}
	if sc.Ref != "" {
		ref, ok := s.Components.Schemas[strings.TrimPrefix(sc.Ref, "#/components/schemas/")]
		if !ok {
			return []string{at + ": unresolved $ref " + sc.Ref}
		}
		return s.check(v, ref, at)
	}
	if len(sc.Type) > 0 {
		ok := false
		for _, typ := range sc.Type {
			ok = ok || hasType(v, typ)
		}
		if !ok {
			return []string{fmt.Sprintf("%s: %v (%T) is not %v", at, v, v, []string(sc.Type))}
		}
	}
	var errs []string
	if sc.Const != nil && fmt.Sprint(sc.Const) != fmt.Sprint(v) {
		errs = append(errs, fmt.Sprintf("%s: %v, want const %v", at, v, sc.Const))
	}
	if len(sc.Enum) > 0 {
		found := false
		for _, e := range sc.Enum {
			found = found || fmt.Sprint(e) == fmt.Sprint(v)
		}
		if !found {
			errs = append(errs, fmt.Sprintf("%s: %v not in %v", at, v, sc.Enum))
		}
	}
	if str, ok := v.(string); ok && sc.Pattern != "" && !regexp.MustCompile(sc.Pattern).MatchString(str) {
		errs = append(errs, fmt.Sprintf("%s: %q does not match %s", at, str, sc.Pattern))
	}
	switch x := v.(type) {
	case map[string]any:
		for _, k := range sc.Required {
			if _, ok := x[k]; !ok {
				errs = append(errs, at+": required property "+k+" missing")
			}
		}
		for k, val := range x {
			if p, ok := sc.Properties[k]; ok {
				errs = append(errs, s.check(val, p, at+"."+k)...)
			} else if sc.AdditionalProperties != nil {
				errs = append(errs, s.check(val, sc.AdditionalProperties, at+"."+k)...)
			}
		}
	case []any:
		for i, item := range x {
			errs = append(errs, s.check(item, sc.Items, at+"["+strconv.Itoa(i)+"]")...)
		}
	}
	return errs
}

func hasType(v any, typ string) bool {
	switch typ {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "null":
		return v == nil
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		_, err := n.Int64()
		return err == nil
	}
	return false
}

// TestOpenAPIRoutesAreDocumented: every route the server registers (but
// HEAD, which Fiber adds to every GET) is a path and method of openapi.yaml,
// and every documented path and method is a route.
func TestOpenAPIRoutesAreDocumented(t *testing.T) {
	s := loadSpec(t)
	srv := startShard(t, nil)
	registered := map[string]bool{}
	param := regexp.MustCompile(`:(\w+)`)
	for _, r := range srv.Gateway.App().GetRoutes(true) {
		if r.Method == http.MethodHead {
			continue
		}
		registered[r.Method+" "+param.ReplaceAllString(r.Path, "{$1}")] = true
	}
	documented := map[string]bool{}
	for p, ops := range s.Paths {
		for m := range ops {
			documented[strings.ToUpper(m)+" "+p] = true
		}
	}
	for r := range registered {
		if !documented[r] {
			t.Errorf("route %s is not in openapi.yaml", r)
		}
	}
	for d := range documented {
		// pprof is one Fiber middleware for the whole /debug/pprof/ tree.
		if !registered[d] && d != "GET /debug/pprof/{profile}" {
			t.Errorf("openapi.yaml documents %s, which the server does not register", d)
		}
	}
}

// startShard starts an in-process shard on a free 127.0.0.1 port with a
// known JWT secret and operator token; mutate adjusts the configuration.
func startShard(t *testing.T, mutate func(*config.Config)) *app.App {
	t.Helper()
	cfg, err := config.Load(nil, func(string) string { return "" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = "127.0.0.1:0"
	cfg.JWTSecret = "openapi-test-secret"
	cfg.Dev = true
	cfg.OperatorToken = "op-token"
	cfg.AllowedOrigins = []string{"https://game.example"}
	// Ten handshakes per user, then one an hour: the 429 scenario spends a
	// user's ten, and no other user of the test comes near them.
	cfg.HandshakeLimit.PerUser = config.RateLimit{PerSecond: 1.0 / 3600, Burst: 10}
	if mutate != nil {
		mutate(cfg)
	}
	a, err := app.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	go a.Serve()
	t.Cleanup(func() { a.Shutdown() })
	return a
}

func dialPlayer(t *testing.T, a *app.App, user string) *wstest.Player {
	t.Helper()
	tok, err := a.Auth.Issue(user, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return wstest.Dial(t, a.Addr(), tok)
}

func lobbyID(d map[string]any) string {
	l, _ := d["lobby"].(map[string]any)
	id, _ := l["id"].(string)
	return id
}

// scenario is one request that must get one documented answer.
type scenario struct {
	method, path, status string // path and status as in openapi.yaml
	url                  string
	header               http.Header
	body                 string
	before               func() // run first, if set
}

func wsHeaders(version string, extra ...string) http.Header {
	h := http.Header{
		"Upgrade":               {"websocket"},
		"Connection":            {"Upgrade"},
		"Sec-Websocket-Key":     {"dGhlIHNhbXBsZSBub25jZQ=="},
		"Sec-Websocket-Version": {version},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	return h
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// TestOpenAPIAnswersAreTheServers: every response documented in
// openapi.yaml (path, method, status) is provoked on a live shard, and the
// shard's answer has that status, the documented headers, and a body of the
// documented media type whose JSON has the schema's required properties and
// types. A documented answer without a scenario here fails the test, so the
// document cannot promise what nobody checked.
func TestOpenAPIAnswersAreTheServers(t *testing.T) {
	s := loadSpec(t)
	a := startShard(t, nil)
	prod := startShard(t, func(c *config.Config) { c.Dev = false })
	base := "http://" + a.Addr()

	issue := func(user string) string {
		tok, err := a.Auth.Issue(user, "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	host, member := dialPlayer(t, a, "host"), dialPlayer(t, a, "member")
	public := lobbyID(host.Call("lobby.create", map[string]any{"name": "public", "max_players": 4, "visibility": "public"}))
	member.Call("lobby.join", map[string]any{"lobby_id": public})
	private := lobbyID(dialPlayer(t, a, "loner").Call("lobby.create", map[string]any{"name": "private", "max_players": 2, "visibility": "private"}))
	queuer := issue("queuer")
	var ticket struct {
		Ticket struct{ ID string } `json:"ticket"`
	}

	flood := issue("flood")
	floodReq := func() *http.Request {
		req, _ := http.NewRequest("GET", base+"/ws?last_seq=x&token="+flood, nil)
		req.Header = wsHeaders("13")
		return req
	}
	op := bearer("op-token")
	jsonCT := http.Header{"Content-Type": {"application/json"}}
	withJSON := func(h http.Header) http.Header {
		h = h.Clone()
		h.Set("Content-Type", "application/json")
		return h
	}
	scenarios := []scenario{
		{"GET", "/", "200", "/", nil, "", nil},
		{"GET", "/healthz", "200", "/healthz", nil, "", nil},
		{"GET", "/readyz", "200", "/readyz", nil, "", nil},
		{"GET", "/ws", "101", "/ws?token=" + issue("ws1"), wsHeaders("13"), "", nil},
		{"GET", "/ws", "400", "/ws?token=" + issue("ws2") + "&resume=r&last_seq=-1", wsHeaders("13"), "", nil},
		{"GET", "/ws", "401", "/ws", wsHeaders("13"), "", nil},
		{"GET", "/ws", "403", "/ws?token=" + issue("ws3"), wsHeaders("13", "Origin", "https://evil.example"), "", nil},
		{"GET", "/ws", "426", "/ws?token=" + issue("ws4"), wsHeaders("12"), "", nil},
		{"GET", "/ws", "429", "/ws?token=" + flood, wsHeaders("13"), "", func() {
			for range 10 { // each refused (400), each a handshake of the user
				resp, err := http.DefaultClient.Do(floodReq())
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
		}},
		{"GET", "/v1/lobbies", "200", "/v1/lobbies?has_space=true", nil, "", nil},
		{"GET", "/v1/lobbies", "400", "/v1/lobbies?limit=0", nil, "", nil},
		{"GET", "/v1/lobbies/watch", "200", "/v1/lobbies/watch?has_space=true", nil, "", nil},
		{"GET", "/v1/lobbies/watch", "400", "/v1/lobbies/watch?cursor=x", nil, "", nil},
		{"GET", "/v1/lobbies/{id}", "200", "/v1/lobbies/" + public, nil, "", nil},
		{"GET", "/v1/lobbies/{id}", "404", "/v1/lobbies/" + private, nil, "", nil},
		{"GET", "/v1/queues", "200", "/v1/queues", nil, "", nil},
		{"POST", "/v1/queues/{name}/tickets", "200", "/v1/queues/duel/tickets", withJSON(bearer(queuer)), `{"skill": 1200, "region": "eu"}`, nil},
		{"POST", "/v1/queues/{name}/tickets", "409", "/v1/queues/duel/tickets", bearer(queuer), "", nil},
		{"POST", "/v1/queues/{name}/tickets", "400", "/v1/queues/duel/tickets", withJSON(bearer(queuer)), `{"skill": "high"}`, nil},
		{"POST", "/v1/queues/{name}/tickets", "401", "/v1/queues/duel/tickets", nil, "", nil},
		{"POST", "/v1/queues/{name}/tickets", "403", "/v1/queues/squad/tickets", withJSON(bearer(issue("member"))), `{"party": true}`, nil},
		{"POST", "/v1/queues/{name}/tickets", "404", "/v1/queues/no-such-queue/tickets", bearer(queuer), "", nil},
		{"DELETE", "/v1/tickets/{id}", "204", "/v1/tickets/{ticket}", bearer(queuer), "", nil},
		{"DELETE", "/v1/tickets/{id}", "404", "/v1/tickets/{ticket}", bearer(queuer), "", nil},
		{"DELETE", "/v1/tickets/{id}", "401", "/v1/tickets/{ticket}", nil, "", nil},
		{"POST", "/v1/auth/guest", "200", "/v1/auth/guest", jsonCT, `{"name": "Ada"}`, nil},
		{"POST", "/v1/auth/guest", "400", "/v1/auth/guest", jsonCT, `{"name": "` + strings.Repeat("n", 33) + `"}`, nil},
		{"POST", "/v1/auth/guest", "404", "http://" + prod.Addr() + "/v1/auth/guest", jsonCT, `{"name": "Ada"}`, nil},
		{"GET", "/metrics", "200", "/metrics", op, "", nil},
		{"GET", "/metrics", "401", "/metrics", nil, "", nil},
		{"GET", "/admin/shards", "200", "/admin/shards", op, "", nil},
		{"GET", "/admin/shards", "401", "/admin/shards", bearer("wrong"), "", nil},
		{"GET", "/debug/pprof/{profile}", "200", "/debug/pprof/cmdline", op, "", nil},
		{"GET", "/debug/pprof/{profile}", "401", "/debug/pprof/cmdline", nil, "", nil},
		{"DELETE", "/admin/lobbies/{id}", "401", "/admin/lobbies/" + public, nil, "", nil},
		{"DELETE", "/admin/lobbies/{id}", "204", "/admin/lobbies/" + public, op, "", nil},
		{"DELETE", "/admin/lobbies/{id}", "404", "/admin/lobbies/" + public, op, "", nil},
		{"GET", "/admin/lobbies", "200", "/admin/lobbies?visibility=private", op, "", nil},
		{"GET", "/admin/lobbies", "400", "/admin/lobbies?limit=0", op, "", nil},
		{"GET", "/admin/lobbies", "401", "/admin/lobbies", nil, "", nil},
		{"GET", "/admin/lobbies/{id}", "200", "/admin/lobbies/" + private, op, "", nil},
		{"GET", "/admin/lobbies/{id}", "401", "/admin/lobbies/" + private, nil, "", nil},
		{"GET", "/admin/lobbies/{id}", "404", "/admin/lobbies/" + public, op, "", nil}, // closed above
		{"GET", "/admin/", "200", "/admin/", nil, "", nil},
		{"GET", "/admin/static/{file}", "200", "/admin/static/admin.js", nil, "", nil},
		{"GET", "/admin/static/{file}", "200", "/admin/static/admin.css", nil, "", nil},
		{"GET", "/admin/static/{file}", "404", "/admin/static/index.html", nil, "", nil},
		{"GET", "/admin/queues", "200", "/admin/queues", op, "", nil},
		{"GET", "/admin/queues", "401", "/admin/queues", nil, "", nil},
		{"POST", "/admin/shards/{id}/drain", "401", "/admin/shards/lobbyd/drain", nil, "", nil},
		{"POST", "/admin/shards/{id}/drain", "404", "/admin/shards/no-such-shard/drain", op, "", nil},
		// prod has no later scenario: it may drain now.
		{"POST", "/admin/shards/{id}/drain", "202", "http://" + prod.Addr() + "/admin/shards/" + prod.Gateway.ShardID() + "/drain", op, "", nil},
		{"POST", "/admin/drain", "401", "/admin/drain", nil, "", nil},
		// Draining last: from here on the shard refuses players.
		{"POST", "/admin/drain", "202", "/admin/drain", op, "", nil},
		{"GET", "/readyz", "503", "/readyz", nil, "", nil},
		{"GET", "/ws", "503", "/ws?token=" + issue("ws5"), wsHeaders("13"), "", nil},
		{"GET", "/v1/lobbies/watch", "503", "/v1/lobbies/watch", nil, "", nil},
	}

	covered := map[string]bool{}
	for _, sc := range scenarios {
		if sc.before != nil {
			sc.before()
		}
		key := sc.method + " " + sc.path + " " + sc.status
		covered[key] = true
		ops, ok := s.Paths[sc.path]
		if !ok {
			t.Errorf("%s: path not in openapi.yaml", key)
			continue
		}
		o, ok := ops[strings.ToLower(sc.method)]
		if !ok {
			t.Errorf("%s: method not in openapi.yaml", key)
			continue
		}
		doc, ok := o.Responses[sc.status]
		if !ok {
			t.Errorf("%s: status not documented", key)
			continue
		}
		doc = s.resolveResponse(t, doc)

		u := strings.ReplaceAll(sc.url, "{ticket}", ticket.Ticket.ID)
		if strings.HasPrefix(u, "/") {
			u = base + u
		}
		req, _ := http.NewRequest(sc.method, u, strings.NewReader(sc.body))
		for k, v := range sc.header {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		var body []byte
		// A 101's body is the socket, an event stream's has no end.
		if resp.StatusCode != http.StatusSwitchingProtocols && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			body, _ = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		}
		resp.Body.Close()
		if got := strconv.Itoa(resp.StatusCode); got != sc.status {
			t.Errorf("%s: status %s, body %s", key, got, body)
			continue
		}
		for name, h := range doc.Headers {
			got := resp.Header.Get(name)
			if got == "" {
				t.Errorf("%s: no %s header", key, name)
			} else if h.Schema != nil && h.Schema.Const != nil && got != fmt.Sprint(h.Schema.Const) {
				t.Errorf("%s: %s %q, want %q", key, name, got, h.Schema.Const)
			}
		}
		if len(doc.Content) == 0 {
			continue // 101, 204, or a body not documented (pprof)
		}
		ctype := resp.Header.Get("Content-Type")
		// The answer has one of the documented media types (a path may
		// document several: the operator page's files).
		matched := false
		for mt := range doc.Content {
			matched = matched || strings.HasPrefix(ctype, mt)
		}
		if !matched {
			t.Errorf("%s: Content-Type %q, want one of %v", key, ctype, doc.Content)
		}
		for mt, c := range doc.Content {
			if !strings.HasPrefix(ctype, mt) {
				continue
			}
			if mt != "application/json" {
				continue
			}
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.UseNumber()
			var v any
			if err := dec.Decode(&v); err != nil {
				t.Errorf("%s: body %q: %v", key, body, err)
				continue
			}
			for _, e := range s.check(v, c.Schema, "body") {
				t.Errorf("%s: %s", key, e)
			}
		}
		if key == "POST /v1/queues/{name}/tickets 200" {
			if err := json.Unmarshal(body, &ticket); err != nil || ticket.Ticket.ID == "" {
				t.Fatalf("ticket from %s: %v", body, err)
			}
		}
	}

	var missing []string
	for p, ops := range s.Paths {
		for m, o := range ops {
			for st := range o.Responses {
				if key := strings.ToUpper(m) + " " + p + " " + st; !covered[key] {
					missing = append(missing, key)
				}
			}
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("documented answer %s has no scenario in this test", m)
	}
}

// TestOpenAPIKeysAreNames: every mapping key of openapi.yaml is a name, a
// path, a status or a media type. A description with a comma in a flow
// mapping ({description: a, b}) silently makes a key "b"; this finds it.
func TestOpenAPIKeysAreNames(t *testing.T) {
	b, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`^[A-Za-z0-9_$./{}+-]+$`)
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if k := n.Content[i]; !name.MatchString(k.Value) {
					t.Errorf("openapi.yaml line %d: key %q is not a name (a comma in a flow mapping?)", k.Line, k.Value)
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&root)
}
