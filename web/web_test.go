package web_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lobbyd/lobbyd/internal/redistest"
	"github.com/lobbyd/lobbyd/web"
)

// needTool fails under CI (the CI environment variable set: .ci/run
// installs every tool these tests need) and skips elsewhere, saying what to
// install, so `go test ./...` works on a machine without Node.
func needTool(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI must have it: .ci/run installs it)", what)
	}
	t.Skipf("%s; skipping the TypeScript client's tests", what)
}

func nodeReady(t *testing.T) {
	t.Helper()
	_, err := exec.LookPath("node")
	needTool(t, err == nil, "node is not installed (Node 20 or later)")
	// The suites use node --test options and fetch streaming of Node 20.
	v, err := exec.Command("node", "-p", "process.versions.node.split('.')[0]").Output()
	major, _ := strconv.Atoi(strings.TrimSpace(string(v)))
	needTool(t, err == nil && major >= 20, "node is older than 20 ("+strings.TrimSpace(string(v))+")")
	_, err = os.Stat("node_modules/@msgpack/msgpack")
	needTool(t, err == nil, "web/node_modules is missing: run `npm ci` in web/")
}

// TestNodeSuite runs the TypeScript client's and the page's tests
// (`npm test`: node --test over test/*.test.mjs) against a lobbyd built
// from this tree. The browser tests need Chromium (/usr/bin/chromium); they
// fail under CI without it and skip elsewhere.
func TestNodeSuite(t *testing.T) {
	nodeReady(t)
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		needTool(t, false, "/usr/bin/chromium is missing (Debian package chromium) for the browser tests")
	}
	// lobbyd, and the Go bot a browser test duels with.
	dir := t.TempDir()
	bin, bot := filepath.Join(dir, "lobbyd"), filepath.Join(dir, "chatbot")
	for _, b := range [][2]string{{bin, "../cmd/lobbyd"}, {bot, "../examples/chatbot"}} {
		if out, err := exec.Command("go", "build", "-o", b[0], b[1]).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b[1], err, out)
		}
	}
	// The drain test runs two shards on one Redis: the shared one, under a
	// prefix of this test's that redistest deletes afterwards.
	_, prefix := redistest.Client(t)
	// Bounded by the test binary's own deadline (go test -timeout), less a
	// margin to report the output, so a hung suite fails with its log.
	deadline := time.Now().Add(9 * time.Minute)
	if d, ok := t.Deadline(); ok && d.Add(-30*time.Second).Before(deadline) {
		deadline = d.Add(-30 * time.Second)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "test")
	cmd.Env = append(os.Environ(),
		"LOBBYD_BIN="+bin,
		"LOBBYD_CHATBOT_BIN="+bot,
		"LOBBYD_TEST_REDIS_URL=redis://"+redistest.Addr(t)+"/0",
		"LOBBYD_TEST_REDIS_PREFIX="+prefix,
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil || testing.Verbose() {
		t.Log(out.String())
	}
	if err != nil {
		t.Fatalf("npm test: %v", err)
	}
	if !strings.Contains(out.String(), "# fail 0") {
		t.Fatalf("npm test passed without reporting `# fail 0`")
	}
}

// TestDistIsBuilt: the committed dist/js is what tsc makes of src/ today,
// so the page lobbyd serves is never older than its sources.
func TestDistIsBuilt(t *testing.T) {
	nodeReady(t)
	out := t.TempDir()
	tsc := exec.Command("node", "node_modules/typescript/bin/tsc", "-p", "tsconfig.json", "--outDir", out)
	if b, err := tsc.CombinedOutput(); err != nil {
		t.Fatalf("tsc: %v\n%s", err, b)
	}
	built := os.DirFS(out)
	committed, err := fs.Sub(web.Assets(), "js")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = fs.WalkDir(built, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		want, _ := fs.ReadFile(built, p)
		got, err := fs.ReadFile(committed, p)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("dist/js/%s is not the build of src/: run `npm run build` in web/ and commit dist/", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("tsc built nothing")
	}
	// And the page: every file of page/ is in dist as it is.
	err = fs.WalkDir(os.DirFS("page"), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		want, _ := os.ReadFile(filepath.Join("page", p))
		got, err := fs.ReadFile(web.Assets(), p)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("dist/%s differs from page/%s: run `npm run build` in web/", p, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
