// LobbyClient: one player's session with lobbyd over WebSocket
// (docs/protocol.md §1–§3), kept alive across dropped connections.
//
// What it guarantees, and how:
//   - Every numbered event reaches the application exactly once, in seq
//     order, across reconnects: it remembers the last seq it delivered and
//     resumes with it (`resume` + `last_seq`); the server replays what came
//     after, and anything at or below last_seq is dropped as a duplicate.
//   - When a resume is refused (token spent or expired, server restarted)
//     the server starts a new session; the client says so with the
//     "session_reset" event, whose welcome carries the lobby the user is
//     still in (or null). The application re-reads its state from it.
//   - Reconnects back off exponentially with full jitter, wait for the
//     drain's `reconnect_after_ms` and for a refused handshake's
//     Retry-After, and ask the token source again after 4001 or a 401.
//   - A request made while reconnecting waits for the connection (or its
//     timeout / AbortSignal); a request sent on a connection that dropped
//     before its reply fails with ConnectionLostError. None vanish.
//   - 4009 (another connection of the same user took over) is final: the
//     client closes instead of fighting the newer connection.
//
// It runs in browsers (the global WebSocket) and in Node (pass the `ws`
// package's WebSocket as options.WebSocket; Node 20 has no global one).
import { decode, encode } from "@msgpack/msgpack";
import { AbortedError, ClientClosedError, ConnectionLostError, ProtocolError, TimeoutError, } from "./errors.js";
import { Emitter } from "./emitter.js";
import { Close } from "./types.js";
import { httpBase, wsUrl } from "./url.js";
/**
 * LobbyClient is one user's session. Create it, subscribe with on(), then
 * connect(). All methods may be called from any point of the event loop.
 */
export class LobbyClient extends Emitter {
    #opts;
    #WS;
    #probe;
    #state = "idle";
    #ws = null;
    #token = "";
    #tokenStale = true; // ask the token source before the next handshake
    #resumeToken = "";
    #lastSeq = 0;
    #welcome = null;
    #attempt = 0;
    #drainAt = 0; // when the server said it would close us (ms since epoch), 0: not draining
    #handshakeStatus = 0; // HTTP status of a refused handshake (ws only), 0: unknown
    #handshakeRetryAfter = 0; // its Retry-After in ms
    #timer;
    #watchdog;
    #lastHeard = 0;
    #rid = 0;
    #queued = []; // waiting for a connection, in order
    #inflight = new Map(); // sent on the current connection
    #firstWelcome = null;
    constructor(opts) {
        super();
        const WS = opts.WebSocket ?? globalThis.WebSocket;
        if (!WS) {
            throw new Error("lobbyd client: no WebSocket; in Node 20 pass options.WebSocket (the ws package)");
        }
        this.#WS = WS;
        this.#opts = {
            url: opts.url,
            token: opts.token,
            requestTimeoutMs: opts.requestTimeoutMs ?? 15000,
            connectTimeoutMs: opts.connectTimeoutMs ?? 10000,
            random: opts.random ?? Math.random,
            backoffInitial: opts.backoff?.initialMs ?? 250,
            backoffMax: opts.backoff?.maxMs ?? 15000,
        };
        this.#probe = opts.probeFailedHandshakes ?? (opts.WebSocket === undefined && typeof fetch === "function");
    }
    /** Where the connection is. */
    get state() {
        return this.#state;
    }
    /** The latest welcome (user, session, shard), null before the first. */
    get welcome() {
        return this.#welcome;
    }
    /** The seq of the last event delivered to the application. */
    get lastSeq() {
        return this.#lastSeq;
    }
    /** The HTTP base URL of the server (for the HTTP API and the watch stream). */
    get httpUrl() {
        return httpBase(this.#opts.url);
    }
    /**
     * Opens the session. Resolves with the first welcome; rejects only if
     * the client is closed before one arrives (it keeps retrying otherwise).
     */
    connect() {
        if (this.#state === "closed")
            return Promise.reject(new ClientClosedError("connect", "closed"));
        if (this.#welcome && this.#state === "open")
            return Promise.resolve(this.#welcome);
        const p = new Promise((resolve, reject) => {
            const prev = this.#firstWelcome;
            this.#firstWelcome = {
                resolve: (w) => {
                    prev?.resolve(w);
                    resolve(w);
                },
                reject: (e) => {
                    prev?.reject(e);
                    reject(e);
                },
            };
        });
        if (this.#state === "idle")
            void this.#dial();
        return p;
    }
    /** Closes the session for good: the socket (1000), every waiting request, the timers. */
    close() {
        this.#finish(Close.Normal, "closed by the application");
    }
    /**
     * Drops the current connection as if the network had (for tests and for
     * "reconnect now" buttons): the client reconnects and resumes.
     */
    reconnectNow() {
        if (this.#ws)
            this.#dropSocket("dropped");
        else if (this.#state === "reconnecting") {
            clearTimeout(this.#timer);
            void this.#dial();
        }
    }
    // ---- typed operations (docs/protocol.md §3) ----
    ping(o) {
        return this.request("ping", {}, o);
    }
    createLobby(d, o) {
        return this.request("lobby.create", d, o);
    }
    joinLobby(d, o) {
        return this.request("lobby.join", d, o);
    }
    leaveLobby(o) {
        return this.request("lobby.leave", {}, o);
    }
    updateLobby(d, o) {
        return this.request("lobby.update", d, o);
    }
    setMember(d, o) {
        return this.request("lobby.set_member", d, o);
    }
    kick(userId, o) {
        return this.request("lobby.kick", { user_id: userId }, o);
    }
    transferHost(userId, o) {
        return this.request("lobby.transfer_host", { user_id: userId }, o);
    }
    chat(text, o) {
        return this.request("lobby.chat", { text }, o);
    }
    start(o) {
        return this.request("lobby.start", {}, o);
    }
    enqueue(d, o) {
        return this.request("mm.enqueue", d, o);
    }
    cancelTicket(ticketId, o) {
        return this.request("mm.cancel", { ticket_id: ticketId }, o);
    }
    /** lobby.send with a reply (errors reported). */
    send(data, to, o) {
        return this.request("lobby.send", to ? { data, to } : { data }, o);
    }
    /**
     * lobby.send with rid 0: no reply, nothing to wait for. Sent only if the
     * socket is open now; returns false otherwise (game data is perishable:
     * a stale position is worse than none).
     */
    sendUnreliable(data, to) {
        if (this.#state !== "open" || !this.#ws)
            return false;
        this.#ws.send(encode({ op: "lobby.send", rid: 0, d: to ? { data, to } : { data } }));
        return true;
    }
    /**
     * Sends an op and resolves with its reply's `d`, or rejects with
     * ProtocolError (the server's refusal), ConnectionLostError, TimeoutError,
     * AbortedError or ClientClosedError.
     */
    request(op, d, o = {}) {
        if (this.#state === "closed")
            return Promise.reject(new ClientClosedError(op, "closed"));
        if (o.signal?.aborted)
            return Promise.reject(new AbortedError(op, false));
        this.#rid = this.#rid >= 0xffffffff ? 1 : this.#rid + 1;
        const rid = this.#rid;
        return new Promise((resolve, reject) => {
            const p = {
                op,
                rid,
                frame: encode({ op, rid, d }),
                sent: false,
                done: false,
                resolve,
                reject,
                timer: undefined,
                cleanup: () => { },
            };
            const timeout = o.timeoutMs ?? this.#opts.requestTimeoutMs;
            if (timeout > 0) {
                p.timer = setTimeout(() => this.#settle(p, new TimeoutError(op, p.sent)), timeout);
            }
            if (o.signal) {
                const onAbort = () => this.#settle(p, new AbortedError(op, p.sent));
                o.signal.addEventListener("abort", onAbort, { once: true });
                p.cleanup = () => o.signal.removeEventListener("abort", onAbort);
            }
            if (this.#state === "open" && this.#ws)
                this.#transmit(p);
            else {
                this.#queued.push(p);
                if (this.#state === "idle")
                    void this.#dial();
            }
        });
    }
    // ---- connection life ----
    #setState(s) {
        if (s === this.#state)
            return;
        const previous = this.#state;
        this.#state = s;
        this.emit("state", { state: s, previous });
    }
    async #dial() {
        if (this.#state === "closed")
            return;
        this.#setState(this.#welcome ? "reconnecting" : "connecting");
        if (this.#tokenStale || !this.#token) {
            try {
                const src = this.#opts.token;
                this.#token = typeof src === "string" ? src : await src(this.#token ? "expired" : "initial");
                this.#tokenStale = false;
            }
            catch {
                // The token source failed (its own server down?): try again later.
                this.#schedule("unauthorized");
                return;
            }
            if (this.#state === "closed")
                return; // close() while we waited
        }
        let url = wsUrl(this.#opts.url) + "?token=" + encodeURIComponent(this.#token);
        if (this.#resumeToken) {
            url += "&resume=" + encodeURIComponent(this.#resumeToken) + "&last_seq=" + this.#lastSeq;
        }
        this.#handshakeStatus = 0;
        this.#handshakeRetryAfter = 0;
        let ws;
        try {
            ws = new this.#WS(url);
        }
        catch {
            this.#schedule("handshake_failed");
            return;
        }
        ws.binaryType = "arraybuffer";
        this.#ws = ws;
        let welcomed = false;
        const connectTimer = setTimeout(() => {
            if (!welcomed && this.#ws === ws)
                this.#dropSocket("handshake_failed");
        }, this.#opts.connectTimeoutMs);
        // `ws` (Node) tells why a handshake was refused; browsers do not.
        ws.on?.("unexpected-response", (_req, res) => {
            this.#handshakeStatus = res?.statusCode ?? 0;
            this.#handshakeRetryAfter = parseRetryAfter(res?.headers?.["retry-after"]);
            res?.resume?.();
            // ws aborts the request itself and reports an error then a close (1006).
        });
        ws.onerror = () => { };
        ws.onmessage = (ev) => {
            if (this.#ws !== ws)
                return;
            this.#lastHeard = Date.now();
            if (!(ev.data instanceof ArrayBuffer))
                return; // text: never sent by the server
            let msg;
            try {
                msg = decode(new Uint8Array(ev.data));
            }
            catch {
                return; // not MessagePack: nothing the client can act on
            }
            if (msg === null || typeof msg !== "object")
                return;
            if (typeof msg.ev === "string") {
                if (msg.ev === "welcome") {
                    welcomed = true;
                    clearTimeout(connectTimer);
                    this.#onWelcome(msg.d);
                }
                else
                    this.#onEvent(msg.ev, Number(msg.seq ?? 0), msg.d ?? {});
            }
            else if (typeof msg.rid === "number")
                this.#onReply(msg);
        };
        ws.onclose = (ev) => {
            clearTimeout(connectTimer);
            if (this.#ws !== ws)
                return;
            this.#onClose(ev.code, welcomed);
        };
    }
    #onWelcome(w) {
        const wasResuming = this.#resumeToken !== "";
        this.#resumeToken = w.resume_token;
        this.#welcome = w;
        this.#attempt = 0;
        this.#drainAt = 0;
        if (!w.resumed)
            this.#lastSeq = 0; // a new session numbers from 1
        this.#lastHeard = Date.now();
        this.#startWatchdog(w.heartbeat_ms);
        this.#setState("open");
        this.emit("welcome", w);
        if (wasResuming)
            this.emit(w.resumed ? "resumed" : "session_reset", w);
        const first = this.#firstWelcome;
        this.#firstWelcome = null;
        first?.resolve(w);
        // Requests that waited for a connection go out in the order they were made.
        const q = this.#queued;
        this.#queued = [];
        for (const p of q)
            if (this.#state === "open")
                this.#transmit(p);
            else
                this.#queued.push(p);
    }
    #onEvent(name, seq, d) {
        if (name === "server.draining") {
            const after = Number(d.reconnect_after_ms ?? 0);
            this.#drainAt = Date.now() + after;
            this.emit("draining", { reconnect_after_ms: after });
            return;
        }
        if (seq > 0) {
            if (seq <= this.#lastSeq)
                return; // replayed and already delivered
            if (seq !== this.#lastSeq + 1)
                this.emit("gap", { expected: this.#lastSeq + 1, got: seq });
            this.#lastSeq = seq;
        }
        this.emit(name, d);
    }
    #onReply(msg) {
        const p = this.#inflight.get(msg.rid);
        if (!p)
            return; // timed out or aborted already, or rid 0
        if (msg.ok)
            this.#settle(p, null, msg.d ?? {});
        else
            this.#settle(p, new ProtocolError(String(msg.err?.code ?? "internal"), String(msg.err?.msg ?? ""), p.op));
    }
    #transmit(p) {
        p.sent = true;
        this.#inflight.set(p.rid, p);
        try {
            this.#ws.send(p.frame);
        }
        catch {
            // The socket is closing: onclose fails it as lost.
        }
    }
    #settle(p, err, d) {
        if (p.done)
            return;
        p.done = true;
        clearTimeout(p.timer);
        p.cleanup();
        this.#inflight.delete(p.rid);
        const i = this.#queued.indexOf(p);
        if (i >= 0)
            this.#queued.splice(i, 1);
        if (err)
            p.reject(err);
        else
            p.resolve(d);
    }
    #onClose(code, welcomed) {
        this.#ws = null;
        this.#stopWatchdog();
        // Requests sent on this connection have no reply coming.
        for (const p of [...this.#inflight.values()])
            this.#settle(p, new ConnectionLostError(p.op));
        if (this.#state === "closed")
            return;
        if (code === Close.Replaced) {
            this.#finish(Close.Replaced, "replaced by a newer connection of the same user");
            return;
        }
        if (code === Close.TokenExpired) {
            this.#tokenStale = true;
            this.#schedule("token_expired", 0);
            return;
        }
        if (this.#drainAt > 0) {
            // server.draining came first: its reconnect_after_ms is already
            // spread over the players, so no jitter of our own.
            this.#schedule("draining", Math.max(0, this.#drainAt - Date.now()));
            this.#drainAt = 0;
            return;
        }
        if (code === Close.Draining) {
            // 4010 without server.draining (a shard that lost its store closes
            // everyone at once): back off with jitter, or they all come back together.
            this.#schedule("draining");
            return;
        }
        if (!welcomed) {
            void this.#handshakeRefused();
            return;
        }
        this.#schedule("dropped");
    }
    /** A handshake that never reached welcome: learn why if we can, then wait. */
    async #handshakeRefused() {
        let status = this.#handshakeStatus;
        let retryAfter = this.#handshakeRetryAfter;
        if (status === 0 && this.#probe) {
            try {
                const res = await fetch(wsUrl(this.#opts.url).replace(/^ws/, "http") + "?token=" + encodeURIComponent(this.#token), {
                    cache: "no-store",
                });
                status = res.status;
                retryAfter = parseRetryAfter(res.headers.get("retry-after"));
                await res.body?.cancel();
            }
            catch {
                // server unreachable: plain backoff
            }
            if (this.#state === "closed")
                return;
        }
        if (status === 401) {
            this.#tokenStale = true;
            this.#schedule("unauthorized", undefined, status);
        }
        else if ((status === 503 || status === 429) && retryAfter > 0) {
            // Wait what the server asked, plus jitter so that a crowd refused
            // together does not come back together.
            this.#schedule("retry_after", retryAfter + this.#jitter(), status);
        }
        else
            this.#schedule("handshake_failed", undefined, status || undefined);
    }
    #jitter() {
        const cap = Math.min(this.#opts.backoffMax, this.#opts.backoffInitial * 2 ** Math.min(this.#attempt, 30));
        return Math.floor(this.#opts.random() * cap);
    }
    /** Schedules the next dial: after `delay` if given, else exponential backoff with full jitter. */
    #schedule(reason, delay, status) {
        if (this.#state === "closed")
            return;
        this.#setState(this.#welcome ? "reconnecting" : "connecting");
        const ms = delay ?? this.#jitter();
        this.#attempt++;
        this.emit("reconnect", { attempt: this.#attempt, delayMs: ms, reason, ...(status ? { status } : {}) });
        clearTimeout(this.#timer);
        this.#timer = setTimeout(() => void this.#dial(), ms);
    }
    /**
     * The server pings at the WebSocket level, which browsers answer without
     * telling the page; a connection that went silent (a half-open TCP after
     * a network change) is found with an application ping when nothing has
     * been heard for a heartbeat interval.
     */
    #startWatchdog(heartbeatMs) {
        this.#stopWatchdog();
        const every = Math.max(1000, heartbeatMs || 15000);
        this.#watchdog = setInterval(() => {
            if (this.#state !== "open" || Date.now() - this.#lastHeard < every)
                return;
            const ws = this.#ws;
            this.ping({ timeoutMs: every * 2 }).catch(() => {
                if (this.#ws === ws && ws)
                    this.#dropSocket("unresponsive");
            });
        }, every);
    }
    #stopWatchdog() {
        clearInterval(this.#watchdog);
        this.#watchdog = undefined;
    }
    /** Drops the socket now, without waiting for a close handshake, and goes on as after a drop. */
    #dropSocket(_why) {
        const ws = this.#ws;
        if (!ws)
            return;
        const welcomed = this.#state === "open";
        this.#ws = null;
        ws.onclose = ws.onmessage = ws.onopen = null;
        try {
            if (ws.terminate)
                ws.terminate();
            else
                ws.close();
        }
        catch {
            /* closing a socket that is not open yet throws in some runtimes */
        }
        this.#onClose(1006, welcomed);
    }
    #finish(code, reason) {
        if (this.#state === "closed")
            return;
        this.#setState("closed");
        clearTimeout(this.#timer);
        this.#stopWatchdog();
        const ws = this.#ws;
        this.#ws = null;
        if (ws) {
            ws.onclose = ws.onmessage = null;
            try {
                ws.close(1000);
            }
            catch {
                /* not open yet */
            }
        }
        for (const p of [...this.#inflight.values(), ...this.#queued])
            this.#settle(p, new ClientClosedError(p.op, reason));
        this.#firstWelcome?.reject(new ClientClosedError("connect", reason));
        this.#firstWelcome = null;
        this.emit("closed", { code, reason });
    }
}
/** Retry-After in ms: seconds, or an HTTP date; 0 when absent or unreadable. */
function parseRetryAfter(v) {
    if (typeof v !== "string" || v === "")
        return 0;
    const s = Number(v);
    if (Number.isFinite(s))
        return Math.max(0, s * 1000);
    const t = Date.parse(v);
    return Number.isFinite(t) ? Math.max(0, t - Date.now()) : 0;
}
