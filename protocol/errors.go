package protocol

import "net/http"

// Code is an error code of docs/protocol.md §5. The same codes travel in socket
// replies (err.code) and HTTP error bodies (error.code).
type Code string

// Error codes, each with a fixed HTTP status (see Status).
const (
	CodeBadRequest     Code = "bad_request"
	CodeUnknownOp      Code = "unknown_op"
	CodeUnauthorized   Code = "unauthorized"
	CodeForbidden      Code = "forbidden"
	CodeNotHost        Code = "not_host"
	CodeWrongPassword  Code = "wrong_password"
	CodeNotFound       Code = "not_found"
	CodeQueueUnknown   Code = "queue_unknown"
	CodeAlreadyInLobby Code = "already_in_lobby"
	CodeNotInLobby     Code = "not_in_lobby"
	CodeLobbyFull      Code = "lobby_full"
	CodeLobbyLocked    Code = "lobby_locked"
	CodeAlreadyQueued  Code = "already_queued"
	CodeTooLarge       Code = "too_large"
	CodeRateLimited    Code = "rate_limited"
	CodeInternal       Code = "internal"
	CodeUnavailable    Code = "unavailable"
)

// Status is the HTTP status that goes with the code; unknown codes are 500.
func (c Code) Status() int {
	switch c {
	case CodeBadRequest, CodeUnknownOp:
		return http.StatusBadRequest
	case CodeUnauthorized:
		return http.StatusUnauthorized
	case CodeForbidden, CodeNotHost, CodeWrongPassword:
		return http.StatusForbidden
	case CodeNotFound, CodeQueueUnknown:
		return http.StatusNotFound
	case CodeAlreadyInLobby, CodeNotInLobby, CodeLobbyFull, CodeLobbyLocked, CodeAlreadyQueued:
		return http.StatusConflict
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeRateLimited:
		return http.StatusTooManyRequests
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// Error is a client-facing error: a stable code and a human message. Domain
// packages return *Error for every refusal a client can cause, so the gateway
// can answer with the right code without string matching.
type Error struct {
	Code Code
	Msg  string
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Msg }

// Errorf-free constructor: messages are constant strings on hot paths.
func NewError(code Code, msg string) *Error { return &Error{Code: code, Msg: msg} }

// The application's WebSocket close codes (docs/protocol.md §5). The RFC 6455
// codes it lists (1000, 1002, 1003, 1009) and the ones lobbyd adds where it
// is silent (1001 idle, 1008 slow consumer, 1011) belong to the transport:
// netcode.Close*.
const (
	CloseTokenExpired uint16 = 4001
	CloseRateLimited  uint16 = 4008
	CloseReplaced     uint16 = 4009
	CloseDraining     uint16 = 4010
)
