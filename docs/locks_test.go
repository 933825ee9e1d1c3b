package docs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// serverDirs are the top-level directories whose Go code runs in lobbyd
// (not the bench module, examples or test helpers).
var serverDirs = []string{"app", "budget", "cluster", "cmd", "config", "gateway", "lobby", "matchmaking", "netcode", "protocol", "version", "watch"}

// mutexFields returns every struct field of type sync.Mutex or
// sync.RWMutex in the server's non-test Go files, as "pkg.Type.field",
// and the packages (directories) that declare one.
func mutexFields(t *testing.T) (fields []string, pkgDirs map[string]bool) {
	t.Helper()
	pkgDirs = map[string]bool{}
	fset := token.NewFileSet()
	for f := range repoFiles(t) {
		top, _, _ := strings.Cut(f, "/")
		if !slices.Contains(serverDirs, top) || !strings.HasSuffix(f, ".go") || strings.HasSuffix(f, "_test.go") ||
			strings.HasSuffix(path.Dir(f), "test") { // conformance suites and test helpers
			continue
		}
		file, err := parser.ParseFile(fset, filepath.Join(repoRoot, f), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return true
			}
			for _, fl := range st.Fields.List {
				sel, ok := fl.Type.(*ast.SelectorExpr)
				if !ok || (sel.Sel.Name != "Mutex" && sel.Sel.Name != "RWMutex") {
					continue
				}
				if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "sync" {
					continue
				}
				for _, name := range fl.Names {
					fields = append(fields, file.Name.Name+"."+ts.Name.Name+"."+name.Name)
					pkgDirs[path.Dir(f)] = true
				}
			}
			return true
		})
	}
	slices.Sort(fields)
	return fields, pkgDirs
}

// The lock order is written once, in docs/locks.md, and completely: every
// mutex of the server is in it, every package with a mutex points to it
// from its package comment, and nothing else spells out an order of its
// own (it would be the partial, drifting copy this file replaced).
func TestLockOrderWrittenOnce(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(repoRoot, "docs", "locks.md"))
	if err != nil {
		t.Fatal(err)
	}
	fields, pkgDirs := mutexFields(t)
	if len(fields) == 0 {
		t.Fatal("found no mutex at all: the scan is broken")
	}
	for _, f := range fields {
		if !regexp.MustCompile(`\b` + regexp.QuoteMeta(f) + `\b`).Match(doc) {
			t.Errorf("mutex %s is not in docs/locks.md: add it where it nests", f)
		}
	}
	for dir := range pkgDirs {
		b, err := os.ReadFile(filepath.Join(repoRoot, dir, "doc.go"))
		if err != nil || !strings.Contains(string(b), "docs/locks.md") {
			t.Errorf("%s declares a mutex; its doc.go must refer to docs/locks.md", dir)
		}
	}
	order := regexp.MustCompile(`(?i)lock order|lock ordering|locks? nest`)
	for f := range repoFiles(t) {
		top, _, _ := strings.Cut(f, "/")
		if f == "docs/locks.md" || f == "docs/locks_test.go" || top == "bench" ||
			!(strings.HasSuffix(f, ".md") || strings.HasSuffix(f, ".go")) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if order.MatchString(line) && !strings.Contains(line, "locks.md") {
				t.Errorf("%s:%d spells a lock order; refer to docs/locks.md instead: %s", f, i+1, strings.TrimSpace(line))
			}
		}
	}
}
