package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestBinaryDevServerDrainsOnSIGTERM builds cmd/lobbyd, starts it as
// operators do (flags only, dev mode), plays a little, then sends SIGTERM:
// the client must get server.draining and close 4010, and the process must
// exit 0.
func TestBinaryDevServerDrainsOnSIGTERM(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "lobbyd")
	build := exec.Command("go", "build", "-o", bin, "github.com/lobbyd/lobbyd/cmd/lobbyd")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cfg := filepath.Join(t.TempDir(), "lobbyd.yaml")
	os.WriteFile(cfg, []byte("drain_spread_ms: 200\ndrain_timeout_ms: 5000\n"), 0o600)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--addr", "127.0.0.1:0", "--config", cfg)
	cmd.Env = append(os.Environ(), "LOBBY_JWT_SECRET=", "LOBBY_DEV=")
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("no address line: %v", err)
	}
	m := regexp.MustCompile(`http://(\S+)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("address line %q", line)
	}
	addr := m[1]

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

	cmd.Process.Signal(syscall.SIGTERM)
	c.nextEvent("server.draining")
	if code := c.waitClose(); code != 4010 {
		t.Fatalf("close code %d, want 4010", code)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v; stderr: %s", err, stderr.String())
		}
		if !strings.Contains(stderr.String(), "DEV MODE") {
			t.Fatalf("no dev-mode warning in %q", stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("lobbyd did not exit after draining")
	}
}
