// Test harness: real lobbyd processes on free ports of 127.0.0.1, a TCP proxy
// in front of them that a test can cut or re-point, HS256 tokens, and
// bounded waits. Every process started here is killed by its PID when the
// test ends (t.after), and every wait has a limit.
//
// The lobbyd binary: $LOBBYD_BIN (the Go test web/web_test.go builds it and
// sets it), else built here with `go build -o` into test-results/.
import assert from "node:assert/strict";
import { after, before } from "node:test";
import { spawn, execFileSync } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import net from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { WebSocket } from "ws";
import { LobbyClient, guestToken } from "../dist/js/index.js";

// Every test ends its clients, proxies and servers in t.after; should a
// handle still hold the process a while after the last test (it has
// happened, rarely, after the restart test), list the handles on stderr and
// exit with the tests' verdict, rather than hang the suite until its timeout.
after(() => {
  setTimeout(() => {
    const hs = process._getActiveHandles().map((h) => `${h.constructor.name} ${h.remotePort ?? ""} ${h.pid ?? ""}`);
    process._rawDebug(`test process still held after its tests by: ${JSON.stringify(hs)}`);
    process.exit(process.exitCode ?? 0);
  }, 5000).unref();
});

const web = join(dirname(fileURLToPath(import.meta.url)), "..");
export const results = join(web, "test-results");

/** Waits of "eventually" must survive a loaded machine (HELPERS.md): 20 s. */
export const EVENTUALLY_MS = 20000;

/** Each test's own bound (node:test's timeout option): its waits, many times over. */
export const BOUND = { timeout: 300_000 };

let bin = process.env.LOBBYD_BIN || "";
export function lobbydBin() {
  if (bin) return bin;
  mkdirSync(results, { recursive: true });
  bin = join(results, `lobbyd-${process.pid}`);
  execFileSync("go", ["build", "-o", bin, "./cmd/lobbyd"], { cwd: join(web, ".."), stdio: "inherit" });
  return bin;
}

let botBin = process.env.LOBBYD_CHATBOT_BIN || "";
/** The Go bot of examples/chatbot: $LOBBYD_CHATBOT_BIN (web_test.go builds it), else built here. */
export function chatbotBin() {
  if (botBin) return botBin;
  mkdirSync(results, { recursive: true });
  botBin = join(results, `chatbot-${process.pid}`);
  execFileSync("go", ["build", "-o", botBin, "./examples/chatbot"], { cwd: join(web, ".."), stdio: "inherit" });
  return botBin;
}

/** Starts the Go chatbot against `srv` with flags; resolves when it printed `until` (a regexp). */
export async function startChatbot(t, srv, args, until) {
  const proc = spawn(chatbotBin(), ["-addr", `127.0.0.1:${srv.port}`, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout.on("data", (b) => (out += b));
  proc.stderr.on("data", (b) => (out += b));
  t.after(() => {
    if (proc.exitCode === null && proc.signalCode === null) process.kill(proc.pid, "SIGKILL");
  });
  await eventually(() => {
    if (proc.exitCode !== null) throw new Error(`chatbot exited ${proc.exitCode}: ${out}`);
    return until.test(out);
  }, `chatbot output ${until}`);
  return { pid: proc.pid, output: () => out };
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export const SECRET = "web-test-secret-" + randomBytes(8).toString("hex");
export const OPERATOR = "op-" + randomBytes(8).toString("hex");

/**
 * Starts lobbyd. `config` is merged into the test defaults (a short drain
 * spread, generous handshake limits so reconnect loops of a test are not
 * refused) and written as a JSON config file.
 */
export async function startLobbyd(t, { config = {}, args = [], port } = {}) {
  port ??= await freePort();
  mkdirSync(results, { recursive: true });
  const cfgFile = join(results, `config-${process.pid}-${port}-${Date.now()}.json`);
  writeFileSync(
    cfgFile,
    JSON.stringify({
      drain_spread_ms: 1000,
      drain_timeout_ms: 20000,
      // The tests send as fast as replies come; the server's limits are not what they test.
      rate_limit: { per_second: 5000, burst: 10000 },
      handshake_limit: { per_user: { per_second: 100, burst: 200 }, per_address: { per_second: 500, burst: 1000 } },
      ...config,
    }),
  );
  const proc = spawn(
    lobbydBin(),
    ["--addr", `127.0.0.1:${port}`, "--dev", "--jwt-secret", SECRET, "--operator-token", OPERATOR, "--config", cfgFile, ...args],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let log = "";
  proc.stderr.on("data", (b) => {
    log += b;
    if (log.length > 1 << 20) log = log.slice(-(1 << 19));
  });
  const exited = new Promise((resolve) => proc.on("exit", (code, signal) => resolve({ code, signal })));
  const srv = {
    port,
    url: `http://127.0.0.1:${port}`,
    pid: proc.pid,
    exited,
    log: () => log,
    kill(sig = "SIGKILL") {
      if (proc.exitCode === null && proc.signalCode === null) process.kill(proc.pid, sig);
      return exited;
    },
  };
  t.after(() => srv.kill());
  await eventually(async () => {
    if (proc.exitCode !== null) throw new Error(`lobbyd exited ${proc.exitCode}: ${log}`);
    const r = await fetch(`${srv.url}/healthz`);
    return r.ok;
  }, "lobbyd /healthz");
  return srv;
}

/**
 * A TCP proxy on a free port forwarding to `target` (a port). cut() drops
 * every connection through it at once (both sides destroyed, as a broken
 * network would); setTarget() re-points new connections.
 */
export async function startProxy(t, target) {
  const conns = new Set();
  let to = target;
  const server = net.createServer((c) => {
    const up = net.connect(to, "127.0.0.1");
    const pair = { c, up };
    conns.add(pair);
    const drop = () => {
      conns.delete(pair);
      c.destroy();
      up.destroy();
    };
    c.on("error", drop).on("close", drop);
    up.on("error", drop).on("close", drop);
    c.pipe(up);
    up.pipe(c);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const port = server.address().port;
  const p = {
    port,
    url: `http://127.0.0.1:${port}`,
    get connections() {
      return conns.size;
    },
    setTarget(t) {
      to = t;
    },
    cut() {
      for (const { c, up } of conns) {
        // destroy, not resetAndDestroy: with Node 20 a socket reset that
        // way can leave a handle whose close never completes, and the test
        // process then spins in its exit cleanup (seen after the browser
        // tests, all passed, at 95% CPU until the suite's deadline). The
        // client side sees its connection drop either way.
        c.destroy();
        up.destroy();
      }
      conns.clear();
    },
    close() {
      p.cut();
      server.close();
    },
  };
  t.after(() => p.close());
  return p;
}

const b64url = (b) => Buffer.from(b).toString("base64url");

/** An HS256 JWT signed with the test servers' secret, valid for ttlSec. */
export function mintToken(sub, name, ttlSec = 3600) {
  const now = Math.floor(Date.now() / 1000);
  const head = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const body = b64url(JSON.stringify({ sub, name, iat: now, exp: now + ttlSec }));
  const sig = createHmac("sha256", SECRET).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}

/** A client of `url` with a guest token (or `token`), connected, closed at test end. */
export async function connectClient(t, url, { name = "p", token, ...opts } = {}) {
  const tok = token ?? (await guestToken(url, name)).token;
  const c = new LobbyClient({ url, token: tok, WebSocket, backoff: { initialMs: 100, maxMs: 2000 }, ...opts });
  t.after(() => c.close());
  await withTimeout(c.connect(), EVENTUALLY_MS, "connect");
  return c;
}

/** Polls fn until it returns truthy (bounded); returns its value. */
export async function eventually(fn, what = "condition", ms = EVENTUALLY_MS) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? ": " + last.message : ""}`);
    await sleep(25);
  }
}

export function withTimeout(p, ms, what) {
  let timer;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
    }),
  ]);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Whether a Redis answers at host:port. */
export async function redisUp(host, port) {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    const done = (v) => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(2000, () => done(false));
    s.on("error", () => done(false));
    s.on("connect", () => s.write("PING\r\n"));
    s.on("data", (b) => done(b.toString().startsWith("+PONG")));
  });
}

/**
 * The Redis for cluster tests: $LOBBYD_TEST_REDIS_URL with its prefix
 * $LOBBYD_TEST_REDIS_PREFIX (web_test.go gives both, and deletes the
 * prefix's keys after), else the shared 127.0.0.1:6379 with a fresh prefix.
 * null when none answers: the caller skips, or fails under CI.
 */
export async function testRedis() {
  const url = process.env.LOBBYD_TEST_REDIS_URL || "redis://127.0.0.1:6379/0";
  const u = new URL(url);
  if (!(await redisUp(u.hostname, Number(u.port || 6379)))) return null;
  const prefix = (process.env.LOBBYD_TEST_REDIS_PREFIX || "lobbyd-webtest:") + randomBytes(4).toString("hex") + ":";
  return { url, prefix };
}

/** Debian's Chromium, which the page tests drive. */
export const CHROMIUM = "/usr/bin/chromium";

/** Where the page tests write their screenshots. */
export const shots = join(results, "screens");

/**
 * Headless Chromium for the page tests of one file: launched before its
 * tests, closed after them. `need(t)` skips a test (fails it under CI)
 * when Chromium is not installed.
 */
export function useChromium() {
  const c = {
    browser: null,
    need(t) {
      if (c.browser) return true;
      if (process.env.CI) assert.fail(`${CHROMIUM} is missing (Debian package chromium)`);
      t.skip(`${CHROMIUM} is missing: install the Debian package chromium`);
      return false;
    },
  };
  before(async () => {
    if (!existsSync(CHROMIUM)) return;
    mkdirSync(shots, { recursive: true });
    c.browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
  });
  after(() => c.browser?.close());
  return c;
}
