package cluster

import (
	"context"
	"errors"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/protocol"
)

// redisFailure wraps a Redis error of operation op so that it reads as the
// client-facing code unavailable (docs/protocol.md §5a: a request that needs
// Redis while Redis is away is answered unavailable) while keeping the
// cause for logs: errors.As(err, &*protocol.Error) finds the code,
// errors.Is finds the cause.
func redisFailure(op string, err error) error {
	if err == nil {
		return nil
	}
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return err
	}
	return &unavailableError{op: op, err: err}
}

type unavailableError struct {
	op  string
	err error
}

var errUnavailable = protocol.NewError(protocol.CodeUnavailable, "store unavailable")

func (e *unavailableError) Error() string { return "cluster: " + e.op + ": " + e.err.Error() }
func (e *unavailableError) Unwrap() error { return e.err }

// As lets errors.As find the protocol error this failure answers with.
func (e *unavailableError) As(target any) bool {
	if p, ok := target.(**protocol.Error); ok {
		*p = errUnavailable
		return true
	}
	return false
}

// scriptCall is one run of a script in runPipelined.
type scriptCall struct {
	keys []string
	args []any
}

// runPipelined runs sc once per call in one pipeline of EVALSHA, and the
// calls Redis did not have the script for (a restarted server, a node of a
// cluster that never ran it) again with EVAL: one round trip, two on a cold
// script cache. Each call's result or error is in its Cmd.
func runPipelined(ctx context.Context, rdb redis.UniversalClient, sc *redis.Script, calls []scriptCall) []*redis.Cmd {
	cmds := make([]*redis.Cmd, len(calls))
	pipe := rdb.Pipeline()
	for i, c := range calls {
		cmds[i] = sc.EvalSha(ctx, pipe, c.keys, c.args...)
	}
	_, _ = pipe.Exec(ctx)
	var again []int
	for i, c := range cmds {
		if err := c.Err(); err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
			again = append(again, i)
		}
	}
	if len(again) > 0 {
		pipe := rdb.Pipeline()
		for _, i := range again {
			cmds[i] = sc.Eval(ctx, pipe, calls[i].keys, calls[i].args...)
		}
		_, _ = pipe.Exec(ctx)
	}
	return cmds
}
