// Errors a request can end with. Every request ends exactly once: with its
// reply, a ProtocolError (the server's refusal), or one of the client's own
// errors below, so a caller never waits on a request that silently vanished.

/** The server refused the request: `code` is one of docs/protocol.md §5. */
export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
  constructor(
    readonly code: string,
    msg: string,
    readonly op?: string,
  ) {
    super(`${op ? op + ": " : ""}${code}: ${msg}`);
  }
}

/**
 * The connection dropped after the request was sent and before its reply
 * came: the server may or may not have applied it. The client does not send
 * it again on its own (a second lobby.create or chat would not be the same
 * request); the caller decides, usually after re-reading its state.
 */
export class ConnectionLostError extends Error {
  override readonly name = "ConnectionLostError";
  readonly code = "connection_lost";
  constructor(readonly op: string) {
    super(`${op}: the connection dropped before the reply; the outcome is unknown`);
  }
}

/** The request's time ran out (while waiting for a connection, or for the reply). */
export class TimeoutError extends Error {
  override readonly name = "TimeoutError";
  readonly code = "timeout";
  constructor(
    readonly op: string,
    readonly sent: boolean,
  ) {
    super(`${op}: no reply in time${sent ? " (sent; the outcome is unknown)" : " (never sent: no connection)"}`);
  }
}

/** The client was closed (by close(), or by the server replacing the session with 4009). */
export class ClientClosedError extends Error {
  override readonly name = "ClientClosedError";
  readonly code = "closed";
  constructor(readonly op: string, reason: string) {
    super(`${op}: client closed (${reason})`);
  }
}

/** The caller's AbortSignal fired before the reply. */
export class AbortedError extends Error {
  override readonly name = "AbortError";
  readonly code = "aborted";
  constructor(
    readonly op: string,
    readonly sent: boolean,
  ) {
    super(`${op}: aborted${sent ? " after it was sent (the outcome is unknown)" : " before it was sent"}`);
  }
}
