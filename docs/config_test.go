package docs

import (
	"bytes"
	"os"
	"reflect"
	"regexp"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/lobbyd/lobbyd/config"
	"github.com/lobbyd/lobbyd/matchmaking"
)

// The configuration file shown in README.md and in protocol.md §6 is a
// valid file (no unknown key) whose values are the built-in defaults, and
// whose queue is the built-in duel: the docs cannot drift from the code.
func TestConfigExamplesAreTheDefaults(t *testing.T) {
	for _, doc := range []string{"../README.md", "protocol.md"} {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(text, -1)
		if len(blocks) != 1 {
			t.Fatalf("%s: %d yaml blocks, want the one configuration example", doc, len(blocks))
		}
		dec := yaml.NewDecoder(bytes.NewReader(blocks[0][1]))
		dec.KnownFields(true)
		var f config.File
		if err := dec.Decode(&f); err != nil {
			t.Fatalf("%s: the example is not a valid configuration file: %v", doc, err)
		}
		if len(f.Queues) != 1 || !reflect.DeepEqual(f.Queues[0], matchmaking.DefaultQueues()[0]) {
			t.Errorf("%s: queues %+v, want the built-in duel %+v", doc, f.Queues, matchmaking.DefaultQueues()[0])
		}
		f.Queues = nil
		if len(f.AllowedOrigins) == 0 {
			f.AllowedOrigins = nil
		}
		if want := config.Defaults(); !reflect.DeepEqual(f, want) {
			t.Errorf("%s: the example's settings\n%+v\nare not the defaults\n%+v", doc, f, want)
		}
	}
}

// Every flag lobbyd takes, and its environment variable, is in the flag
// tables of README.md and protocol.md §6.
func TestEveryFlagIsDocumented(t *testing.T) {
	var usage bytes.Buffer
	if _, err := config.Load([]string{"-h"}, func(string) string { return "" }, &usage); err == nil {
		t.Fatal("-h did not stop Load")
	}
	flags := regexp.MustCompile(`(?m)^\s+-([a-z-]+)\b.*(?:\n.*?\[(LOBBY_[A-Z_]+)\])?`).FindAllStringSubmatch(usage.String(), -1)
	envs := 0
	for _, f := range flags {
		if f[2] != "" {
			envs++
		}
	}
	if len(flags) < 9 || envs < 8 {
		t.Fatalf("found %d flags and %d variables in the usage text:\n%s", len(flags), envs, usage.String())
	}
	for _, doc := range []string{"../README.md", "protocol.md"} {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range flags {
			row := regexp.MustCompile("(?m)^\\| `--" + regexp.QuoteMeta(f[1]) + "` \\| ([^|]*)\\|").FindSubmatch(text)
			if row == nil {
				t.Errorf("%s: no row for --%s in the flag table", doc, f[1])
				continue
			}
			if f[2] != "" && !bytes.Contains(row[1], []byte("`"+f[2]+"`")) {
				t.Errorf("%s: --%s's row does not name %s", doc, f[1], f[2])
			}
		}
	}
}
