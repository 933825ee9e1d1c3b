// LobbyWatch: the live lobby list of GET /v1/lobbies/watch (docs/protocol.md
// §4, Server-Sent Events) kept as a map of lobbies, reconnecting on its own.
//
// It reads the stream with fetch rather than EventSource: EventSource gives
// up for good on a 503 (a draining shard, too many watchers) and cannot
// honour Retry-After, and Node 20 has fetch but no EventSource. The parser
// follows the SSE rules of the HTML standard (fields, multi-line data, CR,
// LF or CRLF line ends, comment lines).
//
// After a reconnect the server sends the list again; the client does not
// send Last-Event-ID, so it always gets the full list (always a correct
// answer, per the protocol) and replaces its map at `synced`: a lobby
// deleted while the stream was down disappears then.
import { Emitter } from "./emitter.js";
import { filterQuery } from "./http.js";
import { httpBase } from "./url.js";
export class LobbyWatch extends Emitter {
    #url;
    #initial;
    #max;
    #random;
    #lobbies = new Map();
    #abort = null;
    #timer;
    #attempt = 0;
    #closed = false;
    #synced = false;
    constructor(server, filter = {}, opts = {}) {
        super();
        this.#url = `${httpBase(server)}/v1/lobbies/watch${filterQuery(filter)}`;
        this.#initial = opts.backoff?.initialMs ?? 500;
        this.#max = opts.backoff?.maxMs ?? 15000;
        this.#random = opts.random ?? Math.random;
    }
    /** The lobbies now, newest first. */
    get lobbies() {
        return [...this.#lobbies.values()].sort((a, b) => b.created_at - a.created_at);
    }
    /** Whether the list is complete (synced) and the stream is up. */
    get live() {
        return this.#synced;
    }
    start() {
        if (!this.#abort && !this.#closed)
            void this.#run();
        return this;
    }
    close() {
        this.#closed = true;
        clearTimeout(this.#timer);
        this.#abort?.abort();
        this.emit("state", { state: "closed" });
    }
    async #run() {
        this.emit("state", { state: this.#attempt === 0 && !this.#synced ? "connecting" : "reconnecting" });
        this.#synced = false;
        const abort = (this.#abort = new AbortController());
        let retryAfter = 0;
        let reason = "ended";
        try {
            const res = await fetch(this.#url, { signal: abort.signal, headers: { accept: "text/event-stream" }, cache: "no-store" });
            if (!res.ok || !res.body) {
                retryAfter = Number(res.headers.get("retry-after")) * 1000 || 0;
                reason = `status ${res.status}`;
                await res.body?.cancel();
            }
            else {
                reason = await this.#read(res.body, abort);
            }
        }
        catch {
            reason = "network";
        }
        this.#abort = null;
        if (this.#closed)
            return;
        this.#synced = false;
        const cap = Math.min(this.#max, this.#initial * 2 ** Math.min(this.#attempt, 30));
        const delay = retryAfter + Math.floor(this.#random() * cap);
        this.#attempt++;
        this.emit("reconnect", { attempt: this.#attempt, delayMs: delay, reason });
        this.emit("state", { state: "reconnecting" });
        this.#timer = setTimeout(() => void this.#run(), delay);
    }
    /** Reads events until the stream ends; returns why it ended. */
    async #read(body, abort) {
        const reader = body.getReader();
        const dec = new TextDecoder();
        let buf = "";
        let event = "";
        let data = [];
        let fresh = new Map(); // the list being (re)sent, until synced
        const dispatch = () => {
            const name = event || "message";
            const text = data.join("\n");
            event = "";
            data = [];
            let d;
            try {
                d = text ? JSON.parse(text) : {};
            }
            catch {
                return null;
            }
            switch (name) {
                case "lobby":
                    if (!d?.id)
                        return null;
                    if (!this.#synced)
                        fresh.set(d.id, d);
                    else {
                        this.#lobbies.set(d.id, d);
                        this.emit("lobby", d);
                    }
                    return null;
                case "lobby_removed":
                    if (!d?.id)
                        return null;
                    if (!this.#synced)
                        fresh.delete(d.id);
                    else if (this.#lobbies.delete(d.id))
                        this.emit("removed", { id: d.id });
                    return null;
                case "synced":
                    this.#lobbies = fresh;
                    fresh = new Map();
                    this.#synced = true;
                    this.#attempt = 0;
                    this.emit("state", { state: "live" });
                    this.emit("sync", { lobbies: this.lobbies });
                    return null;
                case "overflow":
                    return "overflow";
                default:
                    return null;
            }
        };
        try {
            for (;;) {
                const { value, done } = await reader.read();
                if (done)
                    return "ended";
                buf += dec.decode(value, { stream: true });
                // Bound what an endless line can make us hold.
                if (buf.length > 1 << 20)
                    return "line too long";
                let m;
                const lineEnd = /\r\n|\r|\n/g;
                let start = 0;
                while ((m = lineEnd.exec(buf))) {
                    // A CR at the very end may be the first half of CRLF: wait for more.
                    if (m[0] === "\r" && m.index === buf.length - 1)
                        break;
                    const line = buf.slice(start, m.index);
                    start = m.index + m[0].length;
                    if (line === "") {
                        if (data.length || event) {
                            const end = dispatch();
                            if (end)
                                return end;
                        }
                        continue;
                    }
                    if (line.startsWith(":"))
                        continue; // comment (keep-alive)
                    const colon = line.indexOf(":");
                    const field = colon < 0 ? line : line.slice(0, colon);
                    let value = colon < 0 ? "" : line.slice(colon + 1);
                    if (value.startsWith(" "))
                        value = value.slice(1);
                    if (field === "event")
                        event = value;
                    else if (field === "data")
                        data.push(value);
                    // id and retry: not used (see the package comment).
                }
                buf = buf.slice(start);
            }
        }
        finally {
            abort.abort();
            reader.releaseLock?.();
        }
    }
}
/** Starts watching the public lobbies that match `filter`. */
export function watchLobbies(server, filter = {}, opts = {}) {
    return new LobbyWatch(server, filter, opts).start();
}
