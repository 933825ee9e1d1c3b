import { Emitter } from "./emitter.js";
import type { CreateLobby, Enqueue, JoinLobby, LobbyView, Member, OpName, Ops, ServerEvents, SetMember, Ticket, UpdateLobby, Welcome } from "./types.js";
/** Where the client is. "reconnecting" covers every wait between two connections. */
export type ConnState = "idle" | "connecting" | "open" | "reconnecting" | "closed";
/**
 * A token, or a function that returns one. The function is called for the
 * first connection and again whenever the server says the token is no good
 * (close 4001, or a 401 on the handshake); `reason` tells which.
 */
export type TokenSource = string | ((reason: "initial" | "expired") => string | Promise<string>);
/** The part of the WebSocket API the client uses (browsers' and `ws`'s both fit). */
export interface WebSocketLike {
    binaryType: string;
    readonly readyState: number;
    onopen: ((ev: unknown) => void) | null;
    onmessage: ((ev: {
        data: unknown;
    }) => void) | null;
    onclose: ((ev: {
        code: number;
        reason: string;
    }) => void) | null;
    onerror: ((ev: unknown) => void) | null;
    send(data: Uint8Array): void;
    close(code?: number, reason?: string): void;
    /** `ws` only: the HTTP answer of a refused handshake. */
    on?(event: string, fn: (...args: any[]) => void): unknown;
    /** `ws` only: drop the TCP connection without a close handshake. */
    terminate?(): void;
}
export type WebSocketCtor = new (url: string) => WebSocketLike;
export interface ClientOptions {
    /** The server: "http://host:port", "https://…", or a ws(s):// URL of /ws. */
    url: string;
    token: TokenSource;
    /** Default: globalThis.WebSocket. In Node 20: `import { WebSocket } from "ws"`. */
    WebSocket?: WebSocketCtor;
    /** Backoff: the first retry waits up to initialMs, doubling up to maxMs (full jitter). Defaults 250 and 15000. */
    backoff?: {
        initialMs?: number;
        maxMs?: number;
    };
    /** Default time a request may take, waiting for a connection included. Default 15000 ms. */
    requestTimeoutMs?: number;
    /** A handshake that has not produced a welcome in this time is dropped and retried. Default 10000 ms. */
    connectTimeoutMs?: number;
    /**
     * Browsers hide why a handshake failed; with this on, the client asks
     * with a plain GET of the same URL (no upgrade) to learn the status and
     * Retry-After. Default: on where the WebSocket cannot say (browsers).
     */
    probeFailedHandshakes?: boolean;
    /** For tests: the random source of the jitter. */
    random?: () => number;
}
/** Why a reconnect was scheduled. */
export type ReconnectReason = "dropped" | "draining" | "token_expired" | "unauthorized" | "retry_after" | "handshake_failed" | "unresponsive";
/** Events of the client itself, beside the server's (ServerEvents). */
export interface ClientEvents extends ServerEvents {
    /** Every welcome: the first, each resume, each new session. */
    welcome: Welcome;
    /** A resume was accepted: missed events follow, then new ones. */
    resumed: Welcome;
    /**
     * A resume was refused and a new session began: events of the old
     * session after the last one delivered are lost. `welcome.lobby` is the
     * lobby the user is still in (null if none): re-read state from it.
     */
    session_reset: Welcome;
    state: {
        state: ConnState;
        previous: ConnState;
    };
    /** server.draining: this connection will be closed (4010) after reconnect_after_ms. */
    draining: {
        reconnect_after_ms: number;
    };
    /** A reconnect was scheduled in delayMs. */
    reconnect: {
        attempt: number;
        delayMs: number;
        reason: ReconnectReason;
        status?: number;
    };
    /** The server broke the numbered stream (a seq gap): events were lost. Never expected. */
    gap: {
        expected: number;
        got: number;
    };
    /** The client stopped for good: close() (code 1000) or the server's 4009. */
    closed: {
        code: number;
        reason: string;
    };
}
export interface RequestOptions {
    /** Overrides ClientOptions.requestTimeoutMs; 0 waits without limit (then pass a signal). */
    timeoutMs?: number;
    signal?: AbortSignal;
}
/**
 * LobbyClient is one user's session. Create it, subscribe with on(), then
 * connect(). All methods may be called from any point of the event loop.
 */
export declare class LobbyClient extends Emitter<ClientEvents> {
    #private;
    constructor(opts: ClientOptions);
    /** Where the connection is. */
    get state(): ConnState;
    /** The latest welcome (user, session, shard), null before the first. */
    get welcome(): Welcome | null;
    /** The seq of the last event delivered to the application. */
    get lastSeq(): number;
    /** The HTTP base URL of the server (for the HTTP API and the watch stream). */
    get httpUrl(): string;
    /**
     * Opens the session. Resolves with the first welcome; rejects only if
     * the client is closed before one arrives (it keeps retrying otherwise).
     */
    connect(): Promise<Welcome>;
    /** Closes the session for good: the socket (1000), every waiting request, the timers. */
    close(): void;
    /**
     * Drops the current connection as if the network had (for tests and for
     * "reconnect now" buttons): the client reconnects and resumes.
     */
    reconnectNow(): void;
    ping(o?: RequestOptions): Promise<{
        t: number;
    }>;
    createLobby(d: CreateLobby, o?: RequestOptions): Promise<{
        lobby: LobbyView;
    }>;
    joinLobby(d: JoinLobby, o?: RequestOptions): Promise<{
        lobby: LobbyView;
    }>;
    leaveLobby(o?: RequestOptions): Promise<Record<string, never>>;
    updateLobby(d: UpdateLobby, o?: RequestOptions): Promise<{
        lobby: LobbyView;
    }>;
    setMember(d: SetMember, o?: RequestOptions): Promise<{
        member: Member;
    }>;
    kick(userId: string, o?: RequestOptions): Promise<Record<string, never>>;
    transferHost(userId: string, o?: RequestOptions): Promise<Record<string, never>>;
    chat(text: string, o?: RequestOptions): Promise<Record<string, never>>;
    start(o?: RequestOptions): Promise<Record<string, never>>;
    enqueue(d: Enqueue, o?: RequestOptions): Promise<{
        ticket: Ticket;
    }>;
    cancelTicket(ticketId: string, o?: RequestOptions): Promise<Record<string, never>>;
    /** lobby.send with a reply (errors reported). */
    send(data: Uint8Array, to?: string[], o?: RequestOptions): Promise<Record<string, never>>;
    /**
     * lobby.send with rid 0: no reply, nothing to wait for. Sent only if the
     * socket is open now; returns false otherwise (game data is perishable:
     * a stale position is worse than none).
     */
    sendUnreliable(data: Uint8Array, to?: string[]): boolean;
    /**
     * Sends an op and resolves with its reply's `d`, or rejects with
     * ProtocolError (the server's refusal), ConnectionLostError, TimeoutError,
     * AbortedError or ClientClosedError.
     */
    request<K extends OpName>(op: K, d: Ops[K][0], o?: RequestOptions): Promise<Ops[K][1]>;
}
