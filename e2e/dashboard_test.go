package e2e

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// dashboardExprs returns every PromQL query of the Grafana dashboard:
// panel targets (rows nested or not) and template variable queries.
func dashboardExprs(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels     []json.RawMessage `json:"panels"`
		Templating struct {
			List []struct {
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	type panel struct {
		Title   string            `json:"title"`
		Panels  []json.RawMessage `json:"panels"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	}
	var exprs []string
	var walk func([]json.RawMessage)
	walk = func(ps []json.RawMessage) {
		for _, raw := range ps {
			var p panel
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatal(err)
			}
			for _, tg := range p.Targets {
				if tg.Expr == "" {
					t.Errorf("panel %q has a target without a query", p.Title)
				}
				exprs = append(exprs, tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	for _, v := range dash.Templating.List {
		if v.Definition != "" {
			exprs = append(exprs, v.Definition)
		}
	}
	return exprs
}

var (
	// A series name in a query: ours, the process's or the runtime's, not
	// followed by "(" (a function).
	seriesRef = regexp.MustCompile(`\b((?:lobbyd|process|go)_[a-zA-Z0-9_]+)\b(\{[^}]*\})?`)
	// An exact label matcher inside a selector.
	labelEq = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"([^"$]*)"`)
)

// family finds the metric family a query's series name belongs to: the
// name itself, or a histogram's or summary's _bucket, _count or _sum.
func family(mfs map[string]*dto.MetricFamily, name string) *dto.MetricFamily {
	if mf := mfs[name]; mf != nil {
		return mf
	}
	for _, suffix := range []string{"_bucket", "_count", "_sum"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if mf := mfs[base]; mf != nil && (mf.GetType() == dto.MetricType_HISTOGRAM || mf.GetType() == dto.MetricType_SUMMARY) {
				return mf
			}
		}
	}
	return nil
}

// Every series the Grafana dashboard queries, with every exact label value
// it selects, exists on live shards: a busy single shard, and a shard of a
// cluster for the Redis series.
func TestDashboardQueriesNameRealSeries(t *testing.T) {
	exprs := dashboardExprs(t, "../deploy/grafana/lobbyd.json")
	if len(exprs) < 20 {
		t.Fatalf("only %d queries in the dashboard", len(exprs))
	}
	single := startServer(t, metricsConfig)
	busyShard(t, single)
	_, mfs := parseScrape(t, single.scrape(t))
	clustered := startShards(t, 1, nil)
	clustered[0].dial("d-alice").ok("ping", nil)
	_, cmfs := parseScrape(t, clustered[0].scrape(t))
	for name, mf := range cmfs {
		if mfs[name] == nil {
			mfs[name] = mf
		}
	}

	checked := 0
	for _, expr := range exprs {
		refs := seriesRef.FindAllStringSubmatch(expr, -1)
		if len(refs) == 0 {
			t.Errorf("query names no series: %s", expr)
		}
		for _, ref := range refs {
			name, selector := ref[1], ref[2]
			mf := family(mfs, name)
			if mf == nil {
				t.Errorf("%s: no series %s on a live shard", expr, name)
				continue
			}
			checked++
			for _, m := range labelEq.FindAllStringSubmatch(selector, -1) {
				label, value := m[1], m[2]
				if !hasLabelValue(mf, label, value) {
					t.Errorf("%s: %s has no series with %s=%q", expr, name, label, value)
				}
			}
		}
	}
	t.Logf("%d queries, %d series references checked", len(exprs), checked)
}

func hasLabelValue(mf *dto.MetricFamily, label, value string) bool {
	for _, m := range mf.GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == label && lp.GetValue() == value {
				return true
			}
		}
	}
	return false
}
