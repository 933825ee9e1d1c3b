// The HTTP API of docs/protocol.md §4 that a client needs: guest tokens
// (dev mode), the lobby listing and the queues. Errors come back as
// ProtocolError with the server's code.

import { ProtocolError } from "./errors.js";
import type { LobbyFilter, LobbyView } from "./types.js";
import { httpBase } from "./url.js";

async function call<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  const body: any = await res.json().catch(() => null);
  if (!res.ok) {
    throw new ProtocolError(body?.error?.code ?? `http_${res.status}`, body?.error?.msg ?? res.statusText);
  }
  return body as T;
}

/** POST /v1/auth/guest: a guest token for `name` (dev-mode servers only). */
export function guestToken(server: string, name: string): Promise<{ token: string; user_id: string }> {
  return call(`${httpBase(server)}/v1/auth/guest`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name }),
  });
}

/** The query string of GET /v1/lobbies and /v1/lobbies/watch for a filter. */
export function filterQuery(f: LobbyFilter = {}, cursor?: string): string {
  const q = new URLSearchParams();
  if (f.mode) q.set("mode", f.mode);
  if (f.region) q.set("region", f.region);
  if (f.has_space) q.set("has_space", "true");
  if (f.state) q.set("state", f.state);
  if (f.limit) q.set("limit", String(f.limit));
  for (const [k, v] of Object.entries(f.attrs ?? {})) q.set(`attr.${k}`, String(v));
  if (cursor) q.set("cursor", cursor);
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** GET /v1/lobbies: one page of public lobbies, newest first. */
export function listLobbies(
  server: string,
  f: LobbyFilter = {},
  cursor?: string,
): Promise<{ lobbies: LobbyView[]; next_cursor: string | null }> {
  return call(`${httpBase(server)}/v1/lobbies${filterQuery(f, cursor)}`);
}

export interface QueueStats {
  name: string;
  tickets: number;
  players: number;
  oldest_wait_ms: number;
  matches_per_min: number;
}

/** GET /v1/queues. */
export function queues(server: string): Promise<QueueStats[]> {
  return call(`${httpBase(server)}/v1/queues`);
}
