package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The `go run` and `go build` commands the READMEs tell a newcomer to type
// from the repository's root name main packages that exist.
func TestReadmeCommandsNameRealPrograms(t *testing.T) {
	cmd := regexp.MustCompile(`go (?:run|build)\b[^\n` + "`" + `]*?\s(\./[A-Za-z0-9_/.-]+)`)
	found := 0
	for _, doc := range []string{"README.md", "examples/README.md"} {
		text, err := os.ReadFile(filepath.Join(repoRoot, doc))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range cmd.FindAllStringSubmatch(string(text), -1) {
			found++
			dir := filepath.Join(repoRoot, filepath.FromSlash(strings.TrimSuffix(m[1], "/")))
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Errorf("%s: %q: no directory %s", doc, m[0], m[1])
				continue
			}
			isMain := false
			for _, e := range entries {
				if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
					continue
				}
				src, err := os.ReadFile(filepath.Join(dir, e.Name()))
				if err == nil && regexp.MustCompile(`(?m)^package main$`).Match(src) {
					isMain = true
				}
			}
			if !isMain {
				t.Errorf("%s: %q: %s is not a main package", doc, m[0], m[1])
			}
		}
	}
	if found < 3 {
		t.Fatalf("found %d go run/build commands; the pattern is broken", found)
	}
}
