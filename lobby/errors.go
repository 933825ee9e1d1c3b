package lobby

import "github.com/lobbyd/lobbyd/protocol"

// Refusals shared by both stores. They are read-only: the hot paths return
// them without allocating.
var (
	ErrNotFound       = protocol.NewError(protocol.CodeNotFound, "lobby not found")
	ErrUserNotFound   = protocol.NewError(protocol.CodeNotFound, "user is not in the lobby")
	ErrAlreadyInLobby = protocol.NewError(protocol.CodeAlreadyInLobby, "already in a lobby")
	ErrNotInLobby     = protocol.NewError(protocol.CodeNotInLobby, "not in a lobby")
	ErrNotHost        = protocol.NewError(protocol.CodeNotHost, "only the host may do this")
	ErrLocked         = protocol.NewError(protocol.CodeLobbyLocked, "lobby is locked or in game")
	ErrWrongPassword  = protocol.NewError(protocol.CodeWrongPassword, "wrong password")
	ErrFull           = protocol.NewError(protocol.CodeLobbyFull, "lobby is full")
)

func badRequest(msg string) *protocol.Error {
	return protocol.NewError(protocol.CodeBadRequest, msg)
}
