package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// lobbydBinary builds cmd/lobbyd once per test binary, into a directory
// TestMain removes.
var lobbydBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "lobbyd-e2e-bin-")
	if err != nil {
		return "", err
	}
	buildDir = dir
	bin := filepath.Join(dir, "lobbyd")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/lobbyd/lobbyd/cmd/lobbyd").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build: %v\n%s", err, out)
	}
	return bin, nil
})

var buildDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// lobbydProc is a running lobbyd process.
type lobbydProc struct {
	cmd      *exec.Cmd
	addr     string      // from its "listening" log line
	stderr   lockedLines // every operator line, in slog's text format
	logsDone chan struct{}
}

// startLobbyd runs the built lobbyd with args and env added to this
// process's environment, waits (≤ 20 s) for its listening line, and kills
// it by PID when the test ends.
func startLobbyd(t *testing.T, env []string, args ...string) *lobbydProc {
	t.Helper()
	bin, err := lobbydBinary()
	if err != nil {
		t.Fatal(err)
	}
	p := &lobbydProc{cmd: exec.Command(bin, args...), logsDone: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	logs, _ := p.cmd.StderrPipe()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.logsDone
		p.cmd.Wait()
		if t.Failed() {
			p.logTrouble(t)
		}
	})
	addrCh := make(chan string, 1)
	go func() {
		defer close(p.logsDone)
		listening := regexp.MustCompile(`msg=listening .*url=http://(\S+)`)
		sc := bufio.NewScanner(logs)
		for sc.Scan() {
			p.stderr.add(sc.Text())
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addrCh <- m[1]
			}
		}
	}()
	select {
	case p.addr = <-addrCh:
	case <-p.logsDone:
		t.Fatalf("lobbyd exited before listening; stderr: %s", p.stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("no listening line; stderr: %s", p.stderr.String())
	}
	return p
}

// TestBinaryDevServerDrainsOnSIGTERM builds cmd/lobbyd, starts it as
// operators do (flags only, dev mode), plays a little, then sends SIGTERM:
// the client must get server.draining and close 4010, and the process must
// exit 0, also with an HTTP connection open that never sent a request (a
// browser's preconnect): the HTTP server's shutdown closes it instead of
// waiting out its bound and failing.
func TestBinaryDevServerDrainsOnSIGTERM(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "lobbyd.yaml")
	os.WriteFile(cfg, []byte("drain_spread_ms: 200\ndrain_timeout_ms: 5000\n"), 0o600)
	p := startLobbyd(t, []string{"LOBBY_JWT_SECRET=", "LOBBY_DEV="}, "--addr", "127.0.0.1:0", "--config", cfg)
	cmd, addr, stderr, logsDone := p.cmd, p.addr, &p.stderr, p.logsDone
	summary := regexp.MustCompile(`msg="lobbyd starting" version=\S.* mode=dev store=memory shard=\S+ `)
	if !summary.MatchString(stderr.String()) {
		t.Fatalf("no start-up summary line in %q", stderr.String())
	}

	resp, err := http.Post("http://"+addr+"/v1/auth/guest", "application/json", strings.NewReader(`{"name":"Bin"}`))
	if err != nil {
		t.Fatal(err)
	}
	var guest struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&guest)
	resp.Body.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws?token="+url.QueryEscape(guest.Token), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	c := &client{t: t, ws: ws, user: "bin", signal: make(chan struct{}, 1), done: make(chan struct{})}
	go c.readLoop()
	c.nextEvent("welcome")
	c.ok("ping", nil)

	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()

	cmd.Process.Signal(syscall.SIGTERM)
	c.nextEvent("server.draining")
	if code := c.waitClose(); code != 4010 {
		t.Fatalf("close code %d, want 4010", code)
	}
	done := make(chan error, 1)
	go func() { <-logsDone; done <- cmd.Wait() }() // Wait closes the pipe: read it to the end first
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v; stderr: %s", err, stderr.String())
		}
		if !strings.Contains(stderr.String(), "DEV MODE") || !strings.Contains(stderr.String(), "drained: every connection is gone") {
			t.Fatalf("no dev-mode warning or drain line in %q", stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("lobbyd did not exit after draining")
	}
}

// lockedLines collects a process's log lines from a reader goroutine.
type lockedLines struct {
	mu sync.Mutex
	b  strings.Builder
}

// logTrouble puts the process's last warnings and errors, and what it said
// of resumes, into a failed test's output: what CI shows of a shard that
// misbehaved.
func (p *lobbydProc) logTrouble(t *testing.T) {
	const most = 40
	var trouble []string
	for line := range strings.Lines(p.stderr.String()) {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") || strings.Contains(line, "resume") {
			trouble = append(trouble, strings.TrimSuffix(line, "\n"))
		}
	}
	if len(trouble) == 0 {
		return
	}
	t.Logf("lobbyd at %s, its last warnings and errors:\n%s", p.addr, strings.Join(trouble[max(0, len(trouble)-most):], "\n"))
}

func (l *lockedLines) add(line string) {
	l.mu.Lock()
	l.b.WriteString(line)
	l.b.WriteByte('\n')
	l.mu.Unlock()
}

func (l *lockedLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestBinaryVersion: `lobbyd --version` prints the build's module version
// (a tag, a pseudo-version or "(devel)") and exits 0, whatever else the
// environment says.
func TestBinaryVersion(t *testing.T) {
	bin, err := lobbydBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--version")
	cmd.Env = append(os.Environ(), "LOBBY_DEV=not-a-bool")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("--version: %v", err)
	}
	if !regexp.MustCompile(`^lobbyd (\(devel\)|v\d+\.\d+\.\d+\S*)( \(.*\))?\n$`).Match(out) {
		t.Fatalf("--version printed %q", out)
	}
}
