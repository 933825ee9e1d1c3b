// Wire types of lobbyd's protocol version 1 (docs/protocol.md). Field names
// are the wire's snake_case: these are the decoded MessagePack maps as they
// arrive, so no copy or renaming happens between the socket and the caller.
/** Close codes of docs/protocol.md §5. */
export const Close = {
    Normal: 1000,
    ProtocolError: 1002,
    TextFrame: 1003,
    SlowConsumer: 1008,
    TooLarge: 1009,
    TokenExpired: 4001,
    RateLimited: 4008,
    Replaced: 4009,
    Draining: 4010,
};
