// Package redistest gives tests a real Redis: the one on 127.0.0.1:6379 (or
// LOBBY_TEST_REDIS) when it answers, else a redis-server this process starts
// on a free port, and a three-master Redis Cluster started on demand. Each
// test gets its own key prefix, and its keys are deleted when it ends, so
// test packages running in parallel against one server never collide.
//
// Under CI (the CI environment variable set) a Redis that cannot be had
// fails the test; elsewhere the test is skipped with the reason, so `go test
// ./...` still works on a machine with no redis-server installed.
//
// Servers this package starts are children of the test binary that die with
// it (Pdeathsig), so an interrupted run leaves nothing behind.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultAddr is where the shared test Redis is looked for first.
const DefaultAddr = "127.0.0.1:6379"

var (
	sharedOnce sync.Once
	sharedAddr string
	sharedErr  error

	clusterOnce  sync.Once
	clusterAddrs []string
	clusterErr   error
)

// Addr returns the address of a Redis shared by every test of this process,
// starting one if none answers.
func Addr(t testing.TB) string {
	t.Helper()
	sharedOnce.Do(func() {
		addr := os.Getenv("LOBBY_TEST_REDIS")
		if addr == "" {
			addr = DefaultAddr
		}
		if ping(addr) == nil {
			sharedAddr = addr
			return
		}
		sharedAddr, sharedErr = startServer(nil)
	})
	if sharedErr != nil {
		unavailable(t, "no Redis at %s and could not start one: %v", DefaultAddr, sharedErr)
	}
	return sharedAddr
}

// Client returns a client of the shared Redis and a key prefix of the
// test's own ("t:<test name>:<random>:"). Every key under the prefix is
// deleted when the test ends, and the client closed.
func Client(t testing.TB) (*redis.Client, string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: Addr(t)})
	prefix := Prefix(t)
	t.Cleanup(func() {
		deletePrefix(c, prefix)
		c.Close()
	})
	return c, prefix
}

// Cluster returns a client of a three-master Redis Cluster started once per
// test process (redis-server --cluster-enabled yes ×3, joined with
// redis-cli --cluster create), and the test's own key prefix, cleaned up on
// every master when the test ends.
func Cluster(t testing.TB) (*redis.ClusterClient, string) {
	t.Helper()
	clusterOnce.Do(func() { clusterAddrs, clusterErr = startCluster() })
	if clusterErr != nil {
		unavailable(t, "could not start a Redis Cluster: %v", clusterErr)
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: clusterAddrs})
	prefix := Prefix(t)
	t.Cleanup(func() {
		_ = c.ForEachMaster(context.Background(), func(ctx context.Context, m *redis.Client) error {
			deletePrefix(m, prefix)
			return nil
		})
		c.Close()
	})
	return c, prefix
}

// Server starts a private redis-server for a test that must kill, pause or
// restart it, with extra arguments (e.g. "--appendonly", "yes"). The server
// is killed when the test ends. The returned Process can Stop, Pause,
// Resume and Restart it on the same port and data directory.
func Server(t testing.TB, args ...string) *Process {
	t.Helper()
	p := &Process{dir: t.TempDir(), args: args}
	port, err := freePort()
	if err != nil {
		unavailable(t, "no free port: %v", err)
	}
	p.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := p.start(); err != nil {
		unavailable(t, "could not start redis-server: %v", err)
	}
	t.Cleanup(p.Stop)
	return p
}

// Process is a redis-server started by Server.
type Process struct {
	Addr string
	dir  string
	args []string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Stop kills the server (SIGKILL) and waits for it.
func (p *Process) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	p.cmd = nil
}

// Pause stops the server with SIGSTOP: it keeps its sockets but answers
// nothing until Resume.
func (p *Process) Pause() { p.signal(syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT).
func (p *Process) Resume() { p.signal(syscall.SIGCONT) }

// Restart kills the server and starts it again on the same port and data
// directory (with AOF among its arguments it comes back with its data).
func (p *Process) Restart() error {
	p.Stop()
	return p.start()
}

func (p *Process) signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		_ = p.cmd.Process.Signal(sig)
	}
}

func (p *Process) start() error {
	_, port, _ := net.SplitHostPort(p.Addr)
	args := append([]string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--dir", p.dir}, p.args...)
	cmd, err := spawn("redis-server", args...)
	if err != nil {
		return err
	}
	if err := waitPing(p.Addr, 20*time.Second); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return err
	}
	p.mu.Lock()
	p.cmd = cmd
	p.mu.Unlock()
	return nil
}

// SharedPrefix returns the shared Redis's address (Addr) and a key prefix
// of the test's own whose keys are deleted there when the test ends: for a
// test that hands both to lobbyd processes (or a store) of its own making.
// The deletion is registered first, so it runs after the cleanups the
// test registers later (its servers stop before their keys go).
func SharedPrefix(t testing.TB) (addr, prefix string) {
	t.Helper()
	addr, prefix = Addr(t), Prefix(t)
	t.Cleanup(func() {
		c := redis.NewClient(&redis.Options{Addr: addr})
		defer c.Close()
		deletePrefix(c, prefix)
	})
	return addr, prefix
}

// Prefix is a key prefix unique to the test: "t:<name>:<random>:". Its
// keys are the test's to delete (Client and SharedPrefix do; a private
// Server dies with them).
func Prefix(t testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := regexp.MustCompile(`[^A-Za-z0-9_]+`).ReplaceAllString(t.Name(), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	return "t:" + name + ":" + hex.EncodeToString(b[:]) + ":"
}

func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("redis required under CI: %s", msg)
	}
	t.Skipf("redis unavailable (install redis-server; under CI this fails): %s", msg)
}

func deletePrefix(c *redis.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			unlinkEach(ctx, c, batch)
			batch = batch[:0]
		}
	}
	unlinkEach(ctx, c, batch)
}

// unlinkEach removes keys one by one: in a cluster a multi-key UNLINK must
// stay within one slot.
func unlinkEach(ctx context.Context, c *redis.Client, keys []string) {
	if len(keys) == 0 {
		return
	}
	pipe := c.Pipeline()
	for _, k := range keys {
		pipe.Unlink(ctx, k)
	}
	_, _ = pipe.Exec(ctx)
}

func ping(addr string) error {
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 500 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

func waitPing(addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		err := ping(addr)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func startServer(extra []string) (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "lobbyd-redis-")
	if err != nil {
		return "", err
	}
	args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", dir}, extra...)
	if _, err := spawn("redis-server", args...); err != nil {
		return "", err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return addr, waitPing(addr, 20*time.Second)
}

func startCluster() ([]string, error) {
	var addrs []string
	for range 3 {
		addr, err := startServer([]string{"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"})
		if err != nil {
			return nil, err
		}
		addrs = append(addrs, addr)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("redis-cli --cluster create: %v: %s", err, out)
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	defer c.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		info, err := c.ClusterInfo(ctx).Result()
		cancel()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			// Every master must also agree on the slots before tests use it.
			if err := c.ForEachMaster(context.Background(), func(ctx context.Context, m *redis.Client) error {
				i, err := m.ClusterInfo(ctx).Result()
				if err == nil && !strings.Contains(i, "cluster_state:ok") {
					err = fmt.Errorf("%s not ok yet", m.Options().Addr)
				}
				return err
			}); err == nil {
				return addrs, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("cluster not ok after 15s: %v %s", err, info)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// spawner runs every child process from one goroutine locked to its OS
// thread for the life of the test binary: Pdeathsig fires when the thread
// that started a child exits, so that thread must never exit.
var spawner = sync.OnceValue(func() chan<- spawnReq {
	ch := make(chan spawnReq)
	go func() {
		runtime.LockOSThread() // never unlocked: this thread lives as long as the process
		for r := range ch {
			cmd := exec.Command(r.name, r.args...)
			cmd.SysProcAttr = dieWithParent()
			cmd.Dir = os.TempDir()
			if d := dirArg(r.args); d != "" {
				cmd.Dir = d
			}
			err := cmd.Start()
			r.done <- spawnRes{cmd, err}
		}
	}()
	return ch
})

type spawnReq struct {
	name string
	args []string
	done chan spawnRes
}

type spawnRes struct {
	cmd *exec.Cmd
	err error
}

func spawn(name string, args ...string) (*exec.Cmd, error) {
	if _, err := exec.LookPath(name); err != nil {
		return nil, err
	}
	done := make(chan spawnRes, 1)
	spawner() <- spawnReq{name, args, done}
	r := <-done
	return r.cmd, r.err
}

func dirArg(args []string) string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--dir" {
			return filepath.Clean(args[i+1])
		}
	}
	return ""
}
