import type { LobbyFilter, LobbyView } from "./types.js";
/** POST /v1/auth/guest: a guest token for `name` (dev-mode servers only). */
export declare function guestToken(server: string, name: string): Promise<{
    token: string;
    user_id: string;
}>;
/** The query string of GET /v1/lobbies and /v1/lobbies/watch for a filter. */
export declare function filterQuery(f?: LobbyFilter, cursor?: string): string;
/** GET /v1/lobbies: one page of public lobbies, newest first. */
export declare function listLobbies(server: string, f?: LobbyFilter, cursor?: string): Promise<{
    lobbies: LobbyView[];
    next_cursor: string | null;
}>;
export interface QueueStats {
    name: string;
    tickets: number;
    players: number;
    oldest_wait_ms: number;
    matches_per_min: number;
}
/** GET /v1/queues. */
export declare function queues(server: string): Promise<QueueStats[]>;
