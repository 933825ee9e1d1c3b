package harness

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lobbyd/lobbyd/bench/internal/client"
	"github.com/lobbyd/lobbyd/bench/internal/load"
)

// Kinds of server the harness can run.
const (
	Lobbyd     = "lobbyd"
	Gorilla    = "gorilla"
	SocketIO   = "socketio"
	Colyseus   = "colyseus"
	Centrifuge = "centrifuge"
	// WSFloor is the client floor (bench/baselines/wsfloor): not a server
	// compared, the least a relay spends per delivery with the load
	// generator's clients. compare measures it once per run.
	WSFloor = "wsfloor"
)

// Kinds lists every server, in report order.
var Kinds = []string{Lobbyd, Gorilla, SocketIO, Colyseus, Centrifuge}

// Env is where the harness builds and keeps its files.
type Env struct {
	Root string // repository root (holds the server's go.mod; see RepoRoot)
	Tmp  string // scratch directory for binaries, configs and logs
	Logf func(format string, args ...any)
	// MaxConns is the connection limit written into lobbyd's config.
	MaxConns int
}

func (e *Env) logf(format string, args ...any) {
	if e.Logf != nil {
		e.Logf(format, args...)
	}
}

// Prepared is a built server, ready to start any number of times.
type Prepared struct {
	Kind    string
	Argv    []string // program and fixed arguments
	Dir     string
	Version string   // what RESULTS.md names it by
	Config  string   // lobbyd's config file, shown in RESULTS.md
	Env     []string // more environment (KEY=value), e.g. a baseline's Redis
}

// RepoRoot is the lobbyd repository: the parent of the bench module, which
// has its own go.mod so that its plotting and baseline dependencies stay out
// of the server's module. Any directory inside bench/ works.
func RepoRoot() (string, error) {
	b, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	benchDir := filepath.Dir(strings.TrimSpace(string(b)))
	root := filepath.Dir(benchDir)
	if filepath.Base(benchDir) != "bench" {
		return "", fmt.Errorf("run bench inside the bench module (cd bench), not in %s", benchDir)
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "lobbyd")); err != nil {
		return "", fmt.Errorf("%s is not the lobbyd repository: %w", root, err)
	}
	return root, nil
}

// Prepare builds a server: go build for lobbyd and the Go baselines, npm ci
// for a Node baseline when its node_modules is missing.
func Prepare(ctx context.Context, e *Env, kind string) (*Prepared, error) {
	switch kind {
	case Lobbyd:
		bin := filepath.Join(e.Tmp, "lobbyd")
		if out, err := run(ctx, e.Root, "go", "build", "-o", bin, "./cmd/lobbyd"); err != nil {
			return nil, fmt.Errorf("lobbyd: go build ./cmd/lobbyd: %w\n%s", err, out)
		}
		cfg := filepath.Join(e.Tmp, "lobbyd.yaml")
		body := fmt.Sprintf("# written by bench: relay load needs far more than the dev rate limit,\n"+
			"# and thousands of players dial from one address\n"+
			"max_connections: %d\nrate_limit: {per_second: 100000, burst: 100000}\n"+
			"handshake_limit: {per_user: {per_second: 0}, per_address: {per_second: 0}}\n"+
			"drain_spread_ms: 0\ndrain_timeout_ms: 2000\n"+
			"# a step's players (new guests each step) are gone when they close: with\n"+
			"# a grace, their sessions would end, leaving their lobbies, inside the\n"+
			"# step measured 30 s later\n"+
			"resume_grace_ms: 0\n", e.MaxConns)
		if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
			return nil, err
		}
		return &Prepared{Kind: kind, Argv: []string{bin, "--dev", "--config", cfg}, Dir: e.Root,
			Version: gitVersion(ctx, e.Root), Config: body}, nil
	case Gorilla:
		bin := filepath.Join(e.Tmp, "gorilla")
		// The baseline belongs to the bench module, not the server's.
		if out, err := run(ctx, filepath.Join(e.Root, "bench"), "go", "build", "-o", bin, "./baselines/gorilla"); err != nil {
			return nil, fmt.Errorf("gorilla: go build: %w\n%s", err, out)
		}
		return &Prepared{Kind: kind, Argv: []string{bin}, Dir: e.Root, Version: modVersion("github.com/gorilla/websocket")}, nil
	case WSFloor:
		bin := filepath.Join(e.Tmp, "wsfloor")
		if out, err := run(ctx, filepath.Join(e.Root, "bench"), "go", "build", "-o", bin, "./baselines/wsfloor"); err != nil {
			return nil, fmt.Errorf("wsfloor: go build: %w\n%s", err, out)
		}
		return &Prepared{Kind: kind, Argv: []string{bin}, Dir: e.Root}, nil
	case SocketIO:
		dir := filepath.Join(e.Root, "bench", "baselines", "socketio")
		if err := npmCI(ctx, e, dir, "socket.io"); err != nil {
			return nil, err
		}
		nodeV, _ := run(ctx, dir, "node", "--version")
		return &Prepared{Kind: kind, Argv: []string{"node", "server.js"}, Dir: dir,
			Version: fmt.Sprintf("node %s, socket.io %s, express %s", bytes.TrimSpace(nodeV),
				npmVersion(dir, "socket.io"), npmVersion(dir, "express"))}, nil
	case Colyseus:
		dir := filepath.Join(e.Root, "bench", "baselines", "colyseus")
		if err := npmCI(ctx, e, dir, "colyseus"); err != nil {
			return nil, err
		}
		nodeV, _ := run(ctx, dir, "node", "--version")
		return &Prepared{Kind: kind, Argv: []string{"node", "server.js"}, Dir: dir,
			Version: fmt.Sprintf("node %s, colyseus %s (@colyseus/core %s, @colyseus/ws-transport %s, @colyseus/schema %s)",
				bytes.TrimSpace(nodeV), npmVersion(dir, "colyseus"), npmVersion(dir, "@colyseus/core"),
				npmVersion(dir, "@colyseus/ws-transport"), npmVersion(dir, "@colyseus/schema"))}, nil
	case Centrifuge:
		// Its own module (bench/baselines/centrifuge/go.mod): centrifuge's
		// Redis client and protocol stay out of the bench's go.sum.
		dir := filepath.Join(e.Root, "bench", "baselines", "centrifuge")
		bin := filepath.Join(e.Tmp, "centrifuge")
		if out, err := run(ctx, dir, "go", "build", "-o", bin, "."); err != nil {
			return nil, fmt.Errorf("centrifuge: go build: %w\n%s", err, out)
		}
		return &Prepared{Kind: kind, Argv: []string{bin}, Dir: dir,
			Version: goModVersion(filepath.Join(dir, "go.mod"), "github.com/centrifugal/centrifuge")}, nil
	}
	return nil, fmt.Errorf("unknown server %q", kind)
}

// npmCI installs a Node baseline's locked dependencies when pkg is missing
// from its node_modules.
func npmCI(ctx context.Context, e *Env, dir, pkg string) error {
	if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg)); err == nil {
		return nil
	}
	e.logf("%s: npm ci (node_modules missing)", filepath.Base(dir))
	if out, err := run(ctx, dir, "npm", "ci", "--no-audit", "--no-fund"); err != nil {
		return fmt.Errorf("%s: npm ci: %w\n%s", filepath.Base(dir), err, out)
	}
	return nil
}

// Server is a running server process.
type Server struct {
	Target *load.Target
	cmd    *exec.Cmd
	done   chan struct{}
	log    *os.File
}

// Start runs p on a free loopback port and waits for GET /healthz.
func Start(ctx context.Context, e *Env, p *Prepared, logf func(string, ...any)) (*Server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	argv := append([]string(nil), p.Argv...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = p.Dir
	cmd.Env = append(os.Environ(), p.Env...)
	t := &load.Target{Name: p.Kind, Addr: addr, Logf: logf}
	switch p.Kind {
	case Lobbyd:
		tok := randomToken()
		cmd.Args = append(cmd.Args, "--addr", addr, "--operator-token", tok)
		t.Dialer = &client.MsgpackDialer{Addr: addr, GuestAuth: true}
		t.MetricsURL, t.MetricsToken = "http://"+addr+"/metrics", tok
	case Gorilla:
		cmd.Args = append(cmd.Args, "-addr", addr)
		t.Dialer = &client.MsgpackDialer{Addr: addr}
		t.MetricsURL = "http://" + addr + "/metrics"
	case WSFloor:
		cmd.Args = append(cmd.Args, "-addr", addr)
		t.Dialer = &client.MsgpackDialer{Addr: addr}
	case SocketIO:
		cmd.Env = append(cmd.Env, "ADDR="+addr, "NODE_ENV=production")
		t.Dialer = &client.SocketIODialer{Addr: addr}
	case Colyseus:
		secret := randomToken()
		cmd.Env = append(cmd.Env, "ADDR="+addr, "NODE_ENV=production", "JWT_SECRET="+secret)
		t.Dialer = &client.ColyseusDialer{Addr: addr, Secret: []byte(secret)}
	case Centrifuge:
		secret := randomToken()
		cmd.Args = append(cmd.Args, "-addr", addr)
		cmd.Env = append(cmd.Env, "JWT_SECRET="+secret)
		t.Dialer = &client.CentrifugeDialer{Addr: addr, Secret: []byte(secret)}
		t.MetricsURL = "http://" + addr + "/metrics"
	}
	_, port, _ := net.SplitHostPort(addr)
	logFile, err := os.Create(filepath.Join(e.Tmp, p.Kind+"-"+port+".log")) // several shards of one kind may run
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Own process group: a stop reaches node's or go's children too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("%s: start: %w", p.Kind, err)
	}
	s := &Server{Target: t, cmd: cmd, done: make(chan struct{}), log: logFile}
	t.PID = cmd.Process.Pid
	go func() { _ = cmd.Wait(); close(s.done) }()
	// A bound, not a wait: healthy servers answer within a second; Node
	// loading Colyseus's module graph on a loaded machine takes tens.
	if err := waitHealthy(ctx, addr, s.done, 90*time.Second); err != nil {
		s.Stop()
		tail, _ := os.ReadFile(logFile.Name())
		return nil, fmt.Errorf("%s: %w\n%s", p.Kind, err, lastBytes(tail, 2000))
	}
	return s, nil
}

// Stop sends SIGTERM, waits up to 10 s, then kills the process group.
func (s *Server) Stop() {
	defer s.log.Close()
	select {
	case <-s.done:
		return
	default:
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

// Exited reports whether the server process has ended.
func (s *Server) Exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func waitHealthy(ctx context.Context, addr string, exited <-chan struct{}, bound time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	hc := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("exited before it was healthy")
		case <-ctx.Done():
			return fmt.Errorf("not healthy at %s within %s", addr, bound)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// freeAddr picks a free loopback port. A fresh port per start also keeps
// client ports in TIME_WAIT from an earlier run out of the way.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}

func randomToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func run(ctx context.Context, dir, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	return cmd.CombinedOutput()
}

func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
