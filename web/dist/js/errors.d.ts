/** The server refused the request: `code` is one of docs/protocol.md §5. */
export declare class ProtocolError extends Error {
    readonly code: string;
    readonly op?: string | undefined;
    readonly name = "ProtocolError";
    constructor(code: string, msg: string, op?: string | undefined);
}
/**
 * The connection dropped after the request was sent and before its reply
 * came: the server may or may not have applied it. The client does not send
 * it again on its own (a second lobby.create or chat would not be the same
 * request); the caller decides, usually after re-reading its state.
 */
export declare class ConnectionLostError extends Error {
    readonly op: string;
    readonly name = "ConnectionLostError";
    readonly code = "connection_lost";
    constructor(op: string);
}
/** The request's time ran out (while waiting for a connection, or for the reply). */
export declare class TimeoutError extends Error {
    readonly op: string;
    readonly sent: boolean;
    readonly name = "TimeoutError";
    readonly code = "timeout";
    constructor(op: string, sent: boolean);
}
/** The client was closed (by close(), or by the server replacing the session with 4009). */
export declare class ClientClosedError extends Error {
    readonly op: string;
    readonly name = "ClientClosedError";
    readonly code = "closed";
    constructor(op: string, reason: string);
}
/** The caller's AbortSignal fired before the reply. */
export declare class AbortedError extends Error {
    readonly op: string;
    readonly sent: boolean;
    readonly name = "AbortError";
    readonly code = "aborted";
    constructor(op: string, sent: boolean);
}
