// Package client is the Go SDK of lobbyd: one Client is one player's
// session, over a WebSocket that the Client keeps open on its own.
//
//	c, err := client.Dial(ctx, "ws://127.0.0.1:8080/ws", client.StaticToken(jwt), nil)
//	lv, err := c.CreateLobby(ctx, protocol.CreateLobby{Name: "duel", MaxPlayers: 2, Visibility: "public"})
//	for ev := range c.Events() {
//		switch d := ev.Data.(type) {
//		case *protocol.ChatEv:
//			fmt.Println(d.From, d.Text)
//		case *client.SessionReset:
//			// the server did not resume the session: re-read the lobby (d.Welcome.Lobby)
//		}
//	}
//
// What it does for the application (docs/clients.md has the whole story):
//
//   - Every op of docs/protocol.md §3 is a method that returns the typed
//     reply, or a *protocol.Error with the server's code.
//   - Events arrive on one channel, typed (Event.Data), exactly once and in
//     the server's order, across reconnects: the Client resumes with the
//     last seq it delivered and drops what it already delivered.
//   - A lost connection is re-dialled with exponential backoff and full
//     jitter; server.draining's reconnect_after_ms and a 503's Retry-After
//     are honoured; an expired token (close 4001, or 401) is replaced by
//     asking the TokenSource again.
//   - When the server cannot resume the session (it restarted, or the
//     grace period passed), the Client says so with a SessionReset event:
//     events may have been lost, and the application must re-read its
//     lobby (SessionReset.Welcome.Lobby).
//   - A request made while the Client reconnects waits for the new
//     connection, or fails when its context ends. A request whose
//     connection dropped before its reply fails with ErrConnectionLost: it
//     may or may not have taken effect; nothing is retried behind the
//     application's back.
//
// Watch follows the live lobby list (GET /v1/lobbies/watch) over HTTP.
//
// Concurrency: every method of a Client is safe to call from any goroutine.
// The Client runs one goroutine that reads and reconnects and one that
// hands events to the channel; writes are serialised by a mutex.
package client
