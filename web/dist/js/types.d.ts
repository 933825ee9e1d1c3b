/** A lobby member (docs/protocol.md §3, Member). Times are unix ms. */
export interface Member {
    user_id: string;
    name: string;
    ready: boolean;
    connected: boolean;
    is_host: boolean;
    data?: Record<string, unknown> | null;
    joined_at: number;
}
/** LobbyView: `code` is present only for members. */
export interface LobbyView {
    id: string;
    name: string;
    host: string;
    mode: string;
    region: string;
    visibility: "public" | "private";
    code?: string;
    has_password: boolean;
    locked: boolean;
    state: "open" | "in_game";
    max_players: number;
    attrs?: Record<string, string | number> | null;
    data?: Record<string, unknown> | null;
    members: Member[];
    created_at: number;
}
export interface Ticket {
    id: string;
    queue: string;
    members: string[];
    skill: number;
    region: string;
    created_at: number;
    state: "queued" | "matched" | "cancelled";
}
export interface Welcome {
    session_id: string;
    user_id: string;
    name: string;
    resume_token: string;
    resumed: boolean;
    shard: string;
    heartbeat_ms: number;
    lobby: LobbyView | null;
}
/** Events of the session's numbered stream, by name, with their `d`. */
export interface ServerEvents {
    "lobby.member_joined": {
        member: Member;
    };
    "lobby.member_left": {
        user_id: string;
        reason: "left" | "kicked" | "disconnected" | "closed";
    };
    "lobby.updated": {
        lobby: LobbyView;
    };
    "lobby.member_updated": {
        member: Member;
    };
    "lobby.kicked": {
        lobby_id: string;
    };
    "lobby.host_changed": {
        host: string;
    };
    "lobby.chat": {
        from: string;
        text: string;
        ts: number;
    };
    "lobby.data": {
        from: string;
        data: Uint8Array;
    };
    "lobby.started": {
        lobby_id: string;
        match_id: string;
    };
    "mm.queued": {
        ticket: Ticket;
    };
    "mm.matched": {
        ticket_id: string;
        match_id: string;
        queue: string;
        lobby: LobbyView;
        teams: string[][];
    };
    "mm.cancelled": {
        ticket_id: string;
        reason: "cancelled" | "timeout" | "disconnected";
    };
}
export type ServerEventName = keyof ServerEvents;
/** Request payloads and replies, by op. */
export interface CreateLobby {
    name: string;
    max_players: number;
    visibility: "public" | "private";
    password?: string;
    mode?: string;
    region?: string;
    attrs?: Record<string, string | number>;
    data?: Record<string, unknown>;
}
export type JoinLobby = {
    lobby_id: string;
    password?: string;
} | {
    code: string;
    password?: string;
};
export interface UpdateLobby {
    name?: string;
    max_players?: number;
    visibility?: "public" | "private";
    password?: string;
    locked?: boolean;
    attrs?: Record<string, string | number>;
    data?: Record<string, unknown>;
}
export interface SetMember {
    ready?: boolean;
    data?: Record<string, unknown>;
}
export interface Enqueue {
    queue: string;
    skill?: number;
    region?: string;
    attrs?: Record<string, string | number>;
    party?: boolean;
}
export interface Ops {
    ping: [Record<string, never>, {
        t: number;
    }];
    "lobby.create": [CreateLobby, {
        lobby: LobbyView;
    }];
    "lobby.join": [JoinLobby, {
        lobby: LobbyView;
    }];
    "lobby.leave": [Record<string, never>, Record<string, never>];
    "lobby.update": [UpdateLobby, {
        lobby: LobbyView;
    }];
    "lobby.set_member": [SetMember, {
        member: Member;
    }];
    "lobby.kick": [{
        user_id: string;
    }, Record<string, never>];
    "lobby.transfer_host": [{
        user_id: string;
    }, Record<string, never>];
    "lobby.chat": [{
        text: string;
    }, Record<string, never>];
    "lobby.send": [{
        data: Uint8Array;
        to?: string[];
    }, Record<string, never>];
    "lobby.start": [Record<string, never>, Record<string, never>];
    "mm.enqueue": [Enqueue, {
        ticket: Ticket;
    }];
    "mm.cancel": [{
        ticket_id: string;
    }, Record<string, never>];
}
export type OpName = keyof Ops;
/** Filters of GET /v1/lobbies and /v1/lobbies/watch. */
export interface LobbyFilter {
    mode?: string;
    region?: string;
    has_space?: boolean;
    state?: "open" | "in_game";
    attrs?: Record<string, string | number>;
    limit?: number;
}
/** Close codes of docs/protocol.md §5. */
export declare const Close: {
    readonly Normal: 1000;
    readonly ProtocolError: 1002;
    readonly TextFrame: 1003;
    readonly SlowConsumer: 1008;
    readonly TooLarge: 1009;
    readonly TokenExpired: 4001;
    readonly RateLimited: 4008;
    readonly Replaced: 4009;
    readonly Draining: 4010;
};
