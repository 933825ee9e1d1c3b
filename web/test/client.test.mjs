// The TypeScript client against real lobbyd processes: typed ops and
// errors; a TCP connection cut mid-traffic; a drain onto another shard; a
// Retry-After on a full shard; a server restart (resume refused, new
// session signalled); a token that expires (4001) and is refreshed. Where
// the protocol keeps the session, every event must reach the application
// exactly once and in order, and no request may end without an answer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "ws";
import {
  ConnectionLostError,
  LobbyClient,
  ProtocolError,
  TimeoutError,
  guestToken,
  watchLobbies,
} from "../dist/js/index.js";
import {
  EVENTUALLY_MS,
  OPERATOR,
  connectClient,
  eventually,
  mintToken,
  startLobbyd,
  startProxy,
  testRedis,
  withTimeout,
  BOUND,
} from "./harness.mjs";

/** Records what a client delivers, to compare with what was sent. */
function record(c) {
  const r = { chats: [], welcomes: [], resumed: 0, resets: [], reconnects: [], gaps: [], states: [] };
  c.on("lobby.chat", (d) => r.chats.push(d.text));
  c.on("welcome", (w) => r.welcomes.push(w));
  c.on("resumed", () => r.resumed++);
  c.on("session_reset", (w) => r.resets.push(w));
  c.on("reconnect", (d) => r.reconnects.push(d));
  c.on("gap", (d) => r.gaps.push(d));
  c.on("state", (d) => r.states.push(d.state));
  return r;
}

/** The texts a sender sent, in order. */
const texts = (prefix, n) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** A lobby of `host` joined by `guest` (by code); resolves with the lobby. */
async function pairUp(host, guest) {
  const { lobby } = await host.createLobby({ name: "pair", max_players: 4, visibility: "private" });
  await guest.joinLobby({ code: lobby.code });
  return lobby;
}

test("typed ops, events and errors", BOUND, async (t) => {
  const s = await startLobbyd(t);
  const a = await connectClient(t, s.url, { name: "Ada" });
  const b = await connectClient(t, s.url, { name: "Bo" });
  assert.equal(a.state, "open");
  assert.equal(a.welcome.name, "Ada");
  const joined = a.once("lobby.member_joined");
  const { lobby } = await a.createLobby({ name: "Ada's room", max_players: 4, visibility: "public", mode: "ffa" });
  assert.equal(lobby.host, a.welcome.user_id);
  assert.match(lobby.code, /^[A-Z0-9]{6}$/);
  const j = await b.joinLobby({ lobby_id: lobby.id });
  assert.equal(j.lobby.members.length, 2);
  assert.equal((await joined).member.user_id, b.welcome.user_id);

  // A refusal is a ProtocolError with the protocol's code.
  await assert.rejects(b.joinLobby({ lobby_id: lobby.id }), (e) => e instanceof ProtocolError && e.code === "already_in_lobby");
  await assert.rejects(b.start(), (e) => e instanceof ProtocolError && e.code === "not_host");

  const updated = a.once("lobby.member_updated");
  const m = await b.setMember({ ready: true });
  assert.equal(m.member.ready, true);
  assert.equal((await updated).member.ready, true);

  // Chat goes to everyone, the sender included.
  const bGot = b.once("lobby.chat");
  await a.chat("gl hf");
  assert.equal((await bGot).text, "gl hf");

  const hostChanged = b.once("lobby.host_changed");
  await a.transferHost(b.welcome.user_id);
  assert.equal((await hostChanged).host, b.welcome.user_id);
  const kicked = a.once("lobby.kicked");
  await b.kick(a.welcome.user_id);
  assert.equal((await kicked).lobby_id, lobby.id);

  const data = b.once("lobby.data");
  const { lobby: l2 } = await a.createLobby({ name: "second", max_players: 2, visibility: "private" });
  await b.leaveLobby();
  await b.joinLobby({ code: l2.code });
  await a.send(new Uint8Array([1, 2, 3]));
  assert.deepEqual([...(await data).data], [1, 2, 3]);
  const pong = await a.ping();
  assert.ok(pong.t > 0);
  // close() fails what is still waiting and refuses new requests.
  a.close();
  assert.equal(a.state, "closed");
  await assert.rejects(a.ping(), (e) => e.code === "closed");
});

test("the TCP connection dropped mid-traffic: every chat exactly once, in order", BOUND, async (t) => {
  const s = await startLobbyd(t);
  const proxy = await startProxy(t, s.port);
  const a = await connectClient(t, proxy.url, { name: "cut" });
  const b = await connectClient(t, s.url, { name: "sender" });
  const ra = record(a);
  await pairUp(a, b);

  // a's own requests while its connection is cut: each ends with its reply
  // or with ConnectionLostError, never silently.
  const mine = [];
  let pinging = true;
  const pinger = (async () => {
    while (pinging) {
      mine.push(
        a.ping({ timeoutMs: EVENTUALLY_MS }).then(
          () => "ok",
          (e) => (e instanceof ConnectionLostError ? "lost" : `other: ${e}`),
        ),
      );
      await new Promise((r) => setTimeout(r, 5));
    }
  })();

  const n = 300;
  const want = texts("m", n);
  for (let i = 0; i < n; i++) {
    await b.chat(want[i]);
    if (i % 60 === 30) proxy.cut();
  }
  pinging = false;
  await pinger;
  await eventually(() => ra.chats.length >= n, "every chat at a").catch((e) => {
    // What a failure in CI needs to tell a lost resume from a slow one.
    throw new Error(
      `${e.message}: ${ra.chats.length} of ${n}, resumed ${ra.resumed} times, ` +
        `resets ${JSON.stringify(ra.resets)}, gaps ${JSON.stringify(ra.gaps)}; lobbyd: ` +
        s.log().split("\n").filter((l) => l.includes("resume")).slice(-5).join(" | "),
    );
  });
  assert.deepEqual(ra.chats, want);
  assert.ok(ra.resumed >= 1, "resumed after the cuts");
  assert.equal(ra.resets.length, 0);
  assert.deepEqual(ra.gaps, []);
  const outcomes = await withTimeout(Promise.all(mine), EVENTUALLY_MS, "every ping settled");
  assert.deepEqual(outcomes.filter((o) => o !== "ok" && o !== "lost"), []);
  assert.ok(outcomes.includes("ok"));
});

test("a drain moves the session to another shard: resumed, nothing lost", BOUND, async (t) => {
  const redis = await testRedis();
  if (!redis) {
    if (process.env.CI) assert.fail("no Redis at 127.0.0.1:6379 (or LOBBYD_TEST_REDIS_URL) under CI");
    t.skip("no Redis answers: the drain test needs two shards on one Redis");
    return;
  }
  const cluster = ["--redis", redis.url, "--redis-prefix", redis.prefix];
  const s1 = await startLobbyd(t, { args: [...cluster, "--shard-id", "web-a"] });
  const s2 = await startLobbyd(t, { args: [...cluster, "--shard-id", "web-b"] });
  const proxy = await startProxy(t, s1.port); // the "load balancer"
  const a = await connectClient(t, proxy.url, { name: "drained" });
  const b = await connectClient(t, s2.url, { name: "sender" });
  assert.equal(a.welcome.shard, "web-a");
  const ra = record(a);
  const drains = [];
  a.on("draining", (d) => {
    drains.push(d);
    proxy.setTarget(s2.port); // the load balancer takes the draining shard out
  });
  await pairUp(a, b);

  // Chat through the drain until a has resumed on the other shard, then some more.
  const want = [];
  const say = async () => {
    want.push(`d${want.length}`);
    await b.chat(want[want.length - 1]);
  };
  for (let i = 0; i < 40; i++) await say();
  const r0 = await fetch(`${s1.url}/admin/drain`, { method: "POST", headers: { authorization: `Bearer ${OPERATOR}` } });
  assert.equal(r0.status, 202);
  await eventually(async () => {
    await say();
    return ra.resumed + ra.resets.length >= 1;
  }, "the reconnect to the other shard");
  for (let i = 0; i < 40; i++) await say();
  const n = want.length;
  await eventually(() => ra.chats.at(-1) === want.at(-1), "the last chat at a");
  assert.equal(drains.length, 1);
  assert.equal(a.welcome.shard, "web-b");
  if (ra.resets.length === 0) {
    // The protocol's promise: resumed on the other shard, nothing lost.
    assert.equal(ra.resumed, 1);
    assert.deepEqual(ra.chats, want);
  } else {
    // Today a drained shard may exit before the other shard has taken the
    // session over (docs/clients.md, "Known server gaps"); then the client
    // must say so, keep the lobby from the new welcome, and still deliver
    // no event twice and none out of order.
    t.diagnostic("the server refused the resume after the drain: session_reset");
    assert.equal(ra.resets.length, 1);
    assert.equal(ra.resets[0].lobby?.members.length, 2);
    const idx = ra.chats.map((c) => want.indexOf(c));
    assert.ok(idx.every((v, k) => v >= 0 && (k === 0 || v > idx[k - 1])), "in order, no duplicates");
    assert.ok(ra.chats.length >= 80 && ra.chats.length <= n);
  }
  assert.deepEqual(ra.gaps, []);
  // The reconnect waited for the time the server gave, not a backoff of its own.
  const r = ra.reconnects.find((x) => x.reason === "draining");
  assert.ok(r, JSON.stringify(ra.reconnects));
  assert.ok(r.delayMs <= drains[0].reconnect_after_ms);
  // The drained shard exits on its own once its connections are gone.
  const exit = await withTimeout(s1.exited, EVENTUALLY_MS, "drained shard exits");
  assert.equal(exit.code, 0);
});

test("a full shard's 503 Retry-After is honoured", BOUND, async (t) => {
  const s = await startLobbyd(t, { config: { max_connections: 1 } });
  const x = await connectClient(t, s.url, { name: "first" });
  const tok = (await guestToken(s.url, "second")).token;
  const y = new LobbyClient({ url: s.url, token: tok, WebSocket, backoff: { initialMs: 100, maxMs: 1000 } });
  t.after(() => y.close());
  const ry = record(y);
  const connected = y.connect();
  await eventually(() => ry.reconnects.length >= 1, "a refused handshake");
  const r = ry.reconnects[0];
  assert.equal(r.reason, "retry_after");
  assert.equal(r.status, 503);
  assert.ok(r.delayMs >= 5000, `waited ${r.delayMs} ms, Retry-After is 5 s`);
  x.close();
  await withTimeout(connected, EVENTUALLY_MS, "connect after the slot frees");
  assert.equal(y.state, "open");
});

test("a server restart: resume refused, a new session signalled, waiting requests answered", BOUND, async (t) => {
  const s1 = await startLobbyd(t);
  const proxy = await startProxy(t, s1.port);
  const a = await connectClient(t, proxy.url, { name: "survivor" });
  const ra = record(a);
  await a.createLobby({ name: "lost on restart", max_players: 4, visibility: "public" });
  await a.chat("before");
  assert.ok(a.lastSeq >= 1);

  await s1.kill("SIGKILL");
  proxy.cut();
  await eventually(() => a.state === "reconnecting", "reconnecting");
  // Made while there is no server: one with a short time fails as never
  // sent; one with time enough waits for the new session and is answered.
  await assert.rejects(a.ping({ timeoutMs: 200 }), (e) => e instanceof TimeoutError && e.sent === false);
  const waiting = a.chat("after").then(
    () => "ok",
    (e) => e,
  );

  const s2 = await startLobbyd(t);
  proxy.setTarget(s2.port);
  await eventually(() => ra.resets.length === 1, "session_reset");
  const w = ra.resets[0];
  assert.equal(w.resumed, false);
  assert.equal(w.lobby, null, "the restarted in-memory server has no lobby for us");
  assert.equal(a.lastSeq, 0);
  const outcome = await withTimeout(waiting, EVENTUALLY_MS, "the waiting chat");
  assert.ok(outcome instanceof ProtocolError && outcome.code === "not_in_lobby", String(outcome));

  // The new session numbers its events from 1 and they are delivered.
  const b = await connectClient(t, s2.url, { name: "newcomer" });
  const { lobby } = await a.createLobby({ name: "again", max_players: 4, visibility: "private" });
  const joined = a.once("lobby.member_joined");
  await b.joinLobby({ code: lobby.code });
  await withTimeout(joined, EVENTUALLY_MS, "member_joined in the new session");
  assert.equal(a.lastSeq, 1);
});

test("an expired token (4001) is refreshed and the session resumed", BOUND, async (t) => {
  const s = await startLobbyd(t);
  const asked = [];
  const uid = "expiring-" + Date.now();
  const a = await connectClient(t, s.url, {
    token: (reason) => {
      asked.push(reason);
      // The first token lives 3 s; the refreshed one an hour.
      return mintToken(uid, "Exp", reason === "initial" ? 3 : 3600);
    },
  });
  const b = await connectClient(t, s.url, { token: mintToken("sender-" + Date.now(), "Snd") });
  const ra = record(a);
  const closes = [];
  a.on("reconnect", (d) => closes.push(d.reason));
  await pairUp(a, b);
  const want = [];
  let i = 0;
  // Chat until the token has expired and a has resumed, then a few more.
  await eventually(
    async () => {
      want.push(`e${i}`);
      await b.chat(`e${i++}`);
      return ra.resumed >= 1 && i > 20;
    },
    "the 4001 and the resume",
    EVENTUALLY_MS,
  );
  for (let k = 0; k < 20; k++) {
    want.push(`e${i}`);
    await b.chat(`e${i++}`);
  }
  await eventually(() => ra.chats.length >= want.length, "every chat at a");
  assert.deepEqual(ra.chats, want);
  assert.deepEqual(asked, ["initial", "expired"]);
  assert.ok(closes.includes("token_expired"), JSON.stringify(closes));
  assert.equal(ra.resets.length, 0);
  assert.deepEqual(ra.gaps, []);
});

test("watch: the live lobby list follows creates, joins and deletes", BOUND, async (t) => {
  const s = await startLobbyd(t);
  const a = await connectClient(t, s.url, { name: "host" });
  const b = await connectClient(t, s.url, { name: "guest" });
  await a.createLobby({ name: "old one", max_players: 4, visibility: "public", mode: "ffa" });
  const w = watchLobbies(s.url, { mode: "ffa" });
  t.after(() => w.close());
  const synced = await withTimeout(w.once("sync"), EVENTUALLY_MS, "sync");
  assert.deepEqual(synced.lobbies.map((l) => l.name), ["old one"]);

  const { lobby } = await b.createLobby({ name: "new one", max_players: 4, visibility: "public", mode: "ffa" });
  await eventually(() => w.lobbies.some((l) => l.id === lobby.id), "the new lobby in the list");
  assert.deepEqual(w.lobbies.map((l) => l.name), ["new one", "old one"]);
  await a.leaveLobby();
  await a.joinLobby({ lobby_id: lobby.id });
  await eventually(() => w.lobbies.find((l) => l.id === lobby.id)?.members.length === 2, "the join in the list");
  await eventually(() => w.lobbies.length === 1, "the emptied lobby removed");
  await a.leaveLobby();
  await b.leaveLobby();
  await eventually(() => w.lobbies.length === 0, "the last lobby removed");
});
