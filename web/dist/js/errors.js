// Errors a request can end with. Every request ends exactly once: with its
// reply, a ProtocolError (the server's refusal), or one of the client's own
// errors below, so a caller never waits on a request that silently vanished.
/** The server refused the request: `code` is one of docs/protocol.md §5. */
export class ProtocolError extends Error {
    code;
    op;
    name = "ProtocolError";
    constructor(code, msg, op) {
        super(`${op ? op + ": " : ""}${code}: ${msg}`);
        this.code = code;
        this.op = op;
    }
}
/**
 * The connection dropped after the request was sent and before its reply
 * came: the server may or may not have applied it. The client does not send
 * it again on its own (a second lobby.create or chat would not be the same
 * request); the caller decides, usually after re-reading its state.
 */
export class ConnectionLostError extends Error {
    op;
    name = "ConnectionLostError";
    code = "connection_lost";
    constructor(op) {
        super(`${op}: the connection dropped before the reply; the outcome is unknown`);
        this.op = op;
    }
}
/** The request's time ran out (while waiting for a connection, or for the reply). */
export class TimeoutError extends Error {
    op;
    sent;
    name = "TimeoutError";
    code = "timeout";
    constructor(op, sent) {
        super(`${op}: no reply in time${sent ? " (sent; the outcome is unknown)" : " (never sent: no connection)"}`);
        this.op = op;
        this.sent = sent;
    }
}
/** The client was closed (by close(), or by the server replacing the session with 4009). */
export class ClientClosedError extends Error {
    op;
    name = "ClientClosedError";
    code = "closed";
    constructor(op, reason) {
        super(`${op}: client closed (${reason})`);
        this.op = op;
    }
}
/** The caller's AbortSignal fired before the reply. */
export class AbortedError extends Error {
    op;
    sent;
    name = "AbortError";
    code = "aborted";
    constructor(op, sent) {
        super(`${op}: aborted${sent ? " after it was sent (the outcome is unknown)" : " before it was sent"}`);
        this.op = op;
        this.sent = sent;
    }
}
