import { Emitter } from "./emitter.js";
import type { LobbyFilter, LobbyView } from "./types.js";
export interface WatchEvents {
    /** The full list, after the first `synced` and after each reconnect's. */
    sync: {
        lobbies: LobbyView[];
    };
    /** A lobby appeared or changed (after sync). */
    lobby: LobbyView;
    /** A lobby was deleted or stopped matching (after sync). */
    removed: {
        id: string;
    };
    state: {
        state: "connecting" | "live" | "reconnecting" | "closed";
    };
    reconnect: {
        attempt: number;
        delayMs: number;
        reason: string;
    };
}
export interface WatchOptions {
    backoff?: {
        initialMs?: number;
        maxMs?: number;
    };
    random?: () => number;
}
export declare class LobbyWatch extends Emitter<WatchEvents> {
    #private;
    constructor(server: string, filter?: LobbyFilter, opts?: WatchOptions);
    /** The lobbies now, newest first. */
    get lobbies(): LobbyView[];
    /** Whether the list is complete (synced) and the stream is up. */
    get live(): boolean;
    start(): this;
    close(): void;
}
/** Starts watching the public lobbies that match `filter`. */
export declare function watchLobbies(server: string, filter?: LobbyFilter, opts?: WatchOptions): LobbyWatch;
