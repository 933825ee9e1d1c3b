package client

import (
	"context"

	"github.com/lobbyd/lobbyd/protocol"
)

// The ops of docs/protocol.md §3, typed. Each returns the reply, or a
// *protocol.Error with the server's code, or ErrConnectionLost, ErrClosed
// or ctx's error.

// Ping asks the server's time (unix milliseconds).
func (c *Client) Ping(ctx context.Context) (int64, error) {
	var r struct {
		T int64 `msgpack:"t"`
	}
	err := c.Call(ctx, protocol.OpPing, nil, &r)
	return r.T, err
}

// CreateLobby makes a lobby with the caller as host (lobby.create).
func (c *Client) CreateLobby(ctx context.Context, p protocol.CreateLobby) (protocol.LobbyView, error) {
	var r protocol.LobbyReply
	err := c.Call(ctx, protocol.OpLobbyCreate, p, &r)
	return r.Lobby, err
}

// JoinLobby joins a lobby by LobbyID or Code (lobby.join).
func (c *Client) JoinLobby(ctx context.Context, p protocol.JoinLobby) (protocol.LobbyView, error) {
	var r protocol.LobbyReply
	err := c.Call(ctx, protocol.OpLobbyJoin, p, &r)
	return r.Lobby, err
}

// LeaveLobby leaves the caller's lobby (lobby.leave).
func (c *Client) LeaveLobby(ctx context.Context) error {
	return c.Call(ctx, protocol.OpLobbyLeave, nil, nil)
}

// UpdateLobby changes the fields of p that are set (lobby.update, host
// only).
func (c *Client) UpdateLobby(ctx context.Context, p protocol.UpdateLobby) (protocol.LobbyView, error) {
	var r protocol.LobbyReply
	err := c.Call(ctx, protocol.OpLobbyUpdate, p, &r)
	return r.Lobby, err
}

// SetMember changes the caller's ready mark and/or data
// (lobby.set_member).
func (c *Client) SetMember(ctx context.Context, p protocol.SetMember) (protocol.Member, error) {
	var r protocol.MemberReply
	err := c.Call(ctx, protocol.OpLobbySetMember, p, &r)
	return r.Member, err
}

// SetReady is SetMember with the ready mark only.
func (c *Client) SetReady(ctx context.Context, ready bool) (protocol.Member, error) {
	return c.SetMember(ctx, protocol.SetMember{Ready: &ready})
}

// Kick removes userID from the caller's lobby (lobby.kick, host only).
func (c *Client) Kick(ctx context.Context, userID string) error {
	return c.Call(ctx, protocol.OpLobbyKick, protocol.UserTarget{UserID: userID}, nil)
}

// TransferHost makes userID the host (lobby.transfer_host, host only).
func (c *Client) TransferHost(ctx context.Context, userID string) error {
	return c.Call(ctx, protocol.OpLobbyTransferHost, protocol.UserTarget{UserID: userID}, nil)
}

// Chat says text in the lobby (lobby.chat); it comes back to the caller
// too, as a lobby.chat event.
func (c *Client) Chat(ctx context.Context, text string) error {
	return c.Call(ctx, protocol.OpLobbyChat, protocol.Chat{Text: text}, nil)
}

// sendBody is lobby.send's d.
type sendBody struct {
	Data []byte   `msgpack:"data"`
	To   []string `msgpack:"to,omitempty"`
}

// Send relays data to the other members, or only to the users in to
// (lobby.send), and waits for the server's acknowledgement.
func (c *Client) Send(ctx context.Context, data []byte, to ...string) error {
	return c.Call(ctx, protocol.OpLobbySend, sendBody{Data: data, To: to}, nil)
}

// Start puts the lobby in game (lobby.start, host only); every member,
// the caller included, gets lobby.started with the match id.
func (c *Client) Start(ctx context.Context) error {
	return c.Call(ctx, protocol.OpLobbyStart, nil, nil)
}

// Enqueue queues the caller (or, with Party, their lobby) for a match
// (mm.enqueue).
func (c *Client) Enqueue(ctx context.Context, p protocol.Enqueue) (protocol.Ticket, error) {
	var r protocol.TicketReply
	err := c.Call(ctx, protocol.OpMatchmakingEnqueue, p, &r)
	return r.Ticket, err
}

// CancelTicket takes a ticket out of its queue (mm.cancel).
func (c *Client) CancelTicket(ctx context.Context, ticketID string) error {
	return c.Call(ctx, protocol.OpMatchmakingCancel, protocol.CancelTicket{TicketID: ticketID}, nil)
}
