// @lobbyd/client: the TypeScript client of lobbyd (docs/clients.md).
export { LobbyClient } from "./client.js";
export { Emitter } from "./emitter.js";
export { AbortedError, ClientClosedError, ConnectionLostError, ProtocolError, TimeoutError } from "./errors.js";
export { filterQuery, guestToken, listLobbies, queues } from "./http.js";
export { LobbyWatch, watchLobbies } from "./watch.js";
export { Close } from "./types.js";
