package cluster

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"io"
	"slices"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/internal/redistest"
)

// lostReply is a go-redis hook that lets a command run in Redis and then
// fails it with io.EOF, as when Redis dies after running a command and
// before its reply is read (TestRedisRestartedWithData's crash instant).
// It does so to the next n commands that match, once armed. Redis itself
// is real (internal/redistest): only the reply is lost. Armed with drop,
// the command fails with io.EOF without reaching Redis (a connection that
// broke before it was written).
type lostReply struct {
	mu    sync.Mutex
	match func(cmd redis.Cmder) bool
	n     int
	drop  bool
	lost  int // replies lost (or commands dropped) so far
}

// lostReplyClient is a client of the test Redis, under a key prefix of the
// test's own, with a lostReply hook (unarmed) on it.
func lostReplyClient(t testing.TB) (*redis.Client, string, *lostReply) {
	rdb, prefix := redistest.Client(t)
	hook := &lostReply{}
	rdb.AddHook(hook)
	return rdb, prefix, hook
}

// arm makes the next n commands that match lose their replies.
func (h *lostReply) arm(n int, match func(cmd redis.Cmder) bool) {
	h.mu.Lock()
	h.match, h.n, h.drop = match, n, false
	h.mu.Unlock()
}

// armDrop makes the next n commands that match fail without running.
func (h *lostReply) armDrop(n int, match func(cmd redis.Cmder) bool) {
	h.mu.Lock()
	h.match, h.n, h.drop = match, n, true
	h.mu.Unlock()
}

func (h *lostReply) dropping() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.drop
}

// take reports whether cmd's reply is to be lost.
func (h *lostReply) take(cmd redis.Cmder) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n == 0 || h.match == nil || !h.match(cmd) {
		return false
	}
	h.n--
	h.lost++
	return true
}

// reset forgets the replies lost so far.
func (h *lostReply) reset() {
	h.mu.Lock()
	h.lost = 0
	h.mu.Unlock()
}

func (h *lostReply) lostCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lost
}

func (h *lostReply) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *lostReply) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.dropping() {
			if !h.take(cmd) {
				return next(ctx, cmd)
			}
			cmd.SetErr(io.EOF)
			return io.EOF
		}
		if err := next(ctx, cmd); err != nil || !h.take(cmd) {
			return err
		}
		cmd.SetErr(io.EOF)
		return io.EOF
	}
}

func (h *lostReply) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if err := next(ctx, cmds); err != nil {
			return err
		}
		var lost error
		for _, cmd := range cmds {
			if cmd.Err() == nil && h.take(cmd) {
				cmd.SetErr(io.EOF)
				lost = io.EOF
			}
		}
		return lost
	}
}

// isScript matches a run of sc (EVALSHA, or the EVAL go-redis's
// Script.Run falls back to when Redis does not have it yet).
func isScript(sc *redis.Script) func(cmd redis.Cmder) bool {
	return func(cmd redis.Cmder) bool {
		args := cmd.Args()
		if len(args) < 2 {
			return false
		}
		switch cmd.Name() {
		case "evalsha":
			return args[1] == sc.Hash()
		case "eval": // the script's first run, after NOSCRIPT
			src, _ := args[1].(string)
			sum := sha1.Sum([]byte(src))
			return hex.EncodeToString(sum[:]) == sc.Hash()
		}
		return false
	}
}

// isCommand matches a command by any of its names (lower case).
func isCommand(names ...string) func(cmd redis.Cmder) bool {
	return func(cmd redis.Cmder) bool { return slices.Contains(names, cmd.Name()) }
}
