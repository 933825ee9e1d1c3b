package examples

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lobbyd/lobbyd/app"
	"github.com/lobbyd/lobbyd/config"
	"github.com/lobbyd/lobbyd/examples/internal/miniclient"
)

// devServer starts an in-process shard as `lobbyd` with no flags starts
// one (dev mode, guest tokens), on a free port of 127.0.0.1.
func devServer(t *testing.T) string {
	t.Helper()
	cfg, err := config.Load(nil, func(string) string { return "" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = "127.0.0.1:0"
	a, err := app.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	go a.Serve()
	t.Cleanup(func() { a.Shutdown() })
	return a.Addr()
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
	buildOut  []byte
)

// binary builds every example once per test run and returns the path of
// the named one.
func binary(t *testing.T, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "lobbyd-examples-")
		if buildErr != nil {
			return
		}
		buildOut, buildErr = exec.Command("go", "build", "-o", binDir+string(filepath.Separator),
			"./quickstart", "./chatbot", "./matchpair").CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build: %v\n%s", buildErr, buildOut)
	}
	return filepath.Join(binDir, name)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// runExample runs an example to its end and returns its output.
func runExample(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t, name), args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\nstdout: %s\nstderr: %s", name, args, err, out, stderr.String())
	}
	return string(out)
}

func mustMatch(t *testing.T, out string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(out) {
			t.Errorf("output does not match %q:\n%s", p, out)
		}
	}
}

func TestQuickstart(t *testing.T) {
	addr := devServer(t)
	out := runExample(t, "quickstart", "-addr", addr)
	mustMatch(t, out,
		`(?m)^welcome: user guest-[0-9a-f]{16} on shard \S+$`,
		`(?m)^lobby.create: rid 1 ok, lobby "Ada's room" id [0-9a-f]{32} code [2-9A-HJKMNP-Z]{6}$`)
}

func TestMatchpair(t *testing.T) {
	addr := devServer(t)
	out := runExample(t, "matchpair", "-addr", addr)
	m := regexp.MustCompile(`(?m)^(Ada|Bob) matched: match (\S+), lobby ([0-9a-f]{32}) \(in_game\)`).FindAllStringSubmatch(out, -1)
	if len(m) != 2 || m[0][2] != m[1][2] || m[0][3] != m[1][3] {
		t.Fatalf("want both players in one match:\n%s", out)
	}
	mustMatch(t, out, `(?m)^Bob received from Ada: "move e2e4"$`, `(?m)^both left the match lobby$`)
}

// The chat bot joins a lobby the test's own player made, answers her
// commands in the chat, and leaves on SIGINT.
func TestChatbot(t *testing.T) {
	addr := devServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	token, err := miniclient.Guest(ctx, addr, "Ada")
	if err != nil {
		t.Fatal(err)
	}
	ada, err := miniclient.Dial(ctx, addr, token)
	if err != nil {
		t.Fatal(err)
	}
	defer ada.Close()
	var created struct {
		Lobby struct {
			Code string `msgpack:"code"`
		} `msgpack:"lobby"`
	}
	if err := ada.Call(ctx, "lobby.create", map[string]any{"name": "bot test", "max_players": 4, "visibility": "private"}, &created); err != nil {
		t.Fatal(err)
	}

	bot := startChatbot(ctx, t, "-addr", addr, "-code", created.Lobby.Code)
	bot.expectLine("ready: Botty in lobby ")

	// Ada sees the bot join; every chat line, hers included, comes back as
	// lobby.chat.
	var botID string
	nextEvent := func(name string) miniclient.Event {
		t.Helper()
		for {
			select {
			case ev, ok := <-ada.Events():
				if !ok {
					t.Fatalf("Ada's connection ended: %v", ada.Err())
				}
				if ev.Ev == name {
					return ev
				}
			case <-ctx.Done():
				t.Fatalf("Ada got no %s", name)
			}
		}
	}
	var joined struct {
		Member struct {
			UserID string `msgpack:"user_id"`
			Name   string `msgpack:"name"`
		} `msgpack:"member"`
	}
	if err := nextEvent("lobby.member_joined").Decode(&joined); err != nil || joined.Member.Name != "Botty" {
		t.Fatalf("member_joined %+v %v", joined, err)
	}
	botID = joined.Member.UserID
	botSays := func() string {
		t.Helper()
		for {
			var chat struct {
				From string `msgpack:"from"`
				Text string `msgpack:"text"`
			}
			if err := nextEvent("lobby.chat").Decode(&chat); err != nil {
				t.Fatal(err)
			}
			if chat.From == botID {
				return chat.Text
			}
		}
	}
	for cmdText, want := range map[string]string{"!ping": `^pong$`, "!roll": `^Ada rolled [1-6]$`, "!who": `^here: Ada, Botty$`} {
		if err := ada.Call(ctx, "lobby.chat", map[string]any{"text": cmdText}, nil); err != nil {
			t.Fatal(err)
		}
		if got := botSays(); !regexp.MustCompile(want).MatchString(got) {
			t.Fatalf("%s: bot said %q, want %s", cmdText, got, want)
		}
	}

	bot.interrupt()
	var left struct {
		UserID string `msgpack:"user_id"`
		Reason string `msgpack:"reason"`
	}
	if err := nextEvent("lobby.member_left").Decode(&left); err != nil || left.UserID != botID || left.Reason != "left" {
		t.Fatalf("member_left %+v %v", left, err)
	}
	bot.wait()
}

// chatbotRun is examples/chatbot running under a test: the lines of its
// output, and its stderr for the failure message.
type chatbotRun struct {
	t      *testing.T
	ctx    context.Context
	cmd    *exec.Cmd
	lines  chan string
	stderr *lockedBuffer // written by exec's copying goroutine, read here
}

// startChatbot runs the chatbot with args until ctx ends or the test does.
func startChatbot(ctx context.Context, t *testing.T, args ...string) *chatbotRun {
	t.Helper()
	b := &chatbotRun{t: t, ctx: ctx, cmd: exec.CommandContext(ctx, binary(t, "chatbot"), args...),
		lines: make(chan string, 64), stderr: &lockedBuffer{}}
	stdout, _ := b.cmd.StdoutPipe()
	b.cmd.Stderr = b.stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.cmd.Process.Kill() })
	go func() {
		defer close(b.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			b.lines <- sc.Text()
		}
	}()
	return b
}

// expectLine waits for the bot's next line starting with prefix (skipping
// others) and returns it.
func (b *chatbotRun) expectLine(prefix string) string {
	b.t.Helper()
	for {
		select {
		case l, ok := <-b.lines:
			if !ok {
				b.t.Fatalf("chatbot ended before %q; stderr: %s", prefix, b.stderr.String())
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-b.ctx.Done():
			b.t.Fatalf("no line %q from the chatbot", prefix)
		}
	}
}

// interrupt sends the bot SIGINT and waits for its goodbye.
func (b *chatbotRun) interrupt() {
	b.t.Helper()
	b.cmd.Process.Signal(syscall.SIGINT)
	b.expectLine("bye")
}

// wait reads the bot's output to its end (before Wait closes the pipe) and
// checks that it exited cleanly.
func (b *chatbotRun) wait() {
	b.t.Helper()
	for range b.lines {
	}
	if err := b.cmd.Wait(); err != nil {
		b.t.Fatalf("chatbot exit: %v; stderr: %s", err, b.stderr.String())
	}
}

// snippetMarker precedes the README's Go block that is the quickstart's
// marked region.
const snippetMarker = "<!-- snippet: examples/quickstart/main.go README:begin..README:end -->"

// The README's first client is the quickstart's code between its README
// markers, character for character (one level of indentation removed).
func TestReadmeSnippetIsTheExample(t *testing.T) {
	src, err := os.ReadFile("quickstart/main.go")
	if err != nil {
		t.Fatal(err)
	}
	region := regexp.MustCompile(`(?s)\n[ \t]*// README:begin\n(.*?)\n[ \t]*// README:end\n`).FindSubmatch(src)
	if region == nil {
		t.Fatal("no README:begin/README:end region in quickstart/main.go")
	}
	var want []string
	for _, l := range strings.Split(string(region[1]), "\n") {
		want = append(want, strings.TrimPrefix(l, "\t"))
	}

	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), snippetMarker+"\n")
	if !ok {
		t.Fatalf("README.md has no %s", snippetMarker)
	}
	block := regexp.MustCompile("(?s)^```go\n(.*?)\n```\n").FindStringSubmatch(after)
	if block == nil {
		t.Fatal("README.md: no ```go block right after the snippet marker")
	}
	if got := block[1]; got != strings.Join(want, "\n") {
		t.Fatalf("README.md's snippet differs from quickstart/main.go's region; paste this:\n```go\n%s\n```", strings.Join(want, "\n"))
	}
}

// lockedBuffer is a strings.Builder safe to read while a process's output
// is being copied into it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
