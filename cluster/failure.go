package cluster

import (
	"errors"

	"github.com/lobbyd/lobbyd/protocol"
)

// redisFailure wraps a Redis error of operation op so that it reads as the
// client-facing code unavailable (PROTOCOL.md §5a: a request that needs
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
