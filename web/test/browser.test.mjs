// The lobby page in headless Chromium (Debian's chromium, driven by
// playwright-core) against a real lobbyd: two pages make a lobby, chat,
// ready up and start; a page is matched in duel with a bot; a third page's
// lobby list follows without a reload; a cut socket shows "reconnecting…"
// and the page recovers with its chat intact. Each screen is saved under
// test-results/ (ignored by git) for people to look at.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { BOUND, EVENTUALLY_MS, connectClient, eventually, freePort, results, shots, startChatbot, startLobbyd, startProxy, useChromium } from "./harness.mjs";

const chrome = useChromium();
const needBrowser = (t) => chrome.need(t);

/** A page in its own browser context (its own storage: its own player). */
async function openPage(t, url) {
  const ctx = await chrome.browser.newContext({ viewport: { width: 1366, height: 860 } });
  t.after(() => ctx.close());
  const page = await ctx.newPage();
  page.setDefaultTimeout(EVENTUALLY_MS);
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  t.after(() => assert.deepEqual(errors, [], "errors in the page"));
  await page.goto(url);
  return page;
}

async function signIn(page, name) {
  await page.fill("[data-testid=name]", name);
  await page.click("[data-testid=play]");
  await page.waitForSelector("[data-testid=menu]");
  await page.waitForSelector("[data-testid=conn][data-state=open]");
}

const t0 = Date.now();
const shot = (page, name) => {
  if (process.env.LOBBYD_TEST_TRACE) console.log(`${name} at ${Date.now() - t0} ms`);
  return page.screenshot({ path: join(shots, `${name}.png`) });
};

/** The chat lines a page shows, as "name text". */
const chatLines = (page) =>
  page.$$eval("[data-testid=chat-line]", (els) =>
    els.map((e) => `${e.querySelector(".from").textContent} ${e.lastChild.textContent}`),
  );

async function say(page, text) {
  await page.fill("[data-testid=chat-input]", text);
  await page.press("[data-testid=chat-input]", "Enter");
}

test("two pages create and join a lobby, chat, ready up and start", BOUND, async (t) => {
  if (!needBrowser(t)) return;
  const s = await startLobbyd(t);
  const a = await openPage(t, s.url);
  await shot(a, "01-sign-in");
  await signIn(a, "Ada");
  await shot(a, "02-menu");
  await a.fill("[data-testid=lobby-name]", "Browser Brawl");
  await a.fill("#mode", "ffa");
  await a.click("[data-testid=create]");
  await a.waitForSelector("[data-testid=lobby]");
  const code = (await a.textContent("[data-testid=lobby-code]")).trim();
  assert.match(code, /^[A-Z0-9]{6}$/);

  const b = await openPage(t, s.url);
  await signIn(b, "Bo");
  await b.fill("[data-testid=join-code]", code);
  await b.click("[data-testid=join-by-code]");
  await b.waitForSelector("[data-testid=lobby]");
  await a.waitForFunction(() => document.querySelectorAll("[data-testid=member]").length === 2);
  // The host badge is on Ada's row, on both pages.
  for (const p of [a, b]) {
    const hostRow = await p.$eval("[data-testid=host-badge]", (e) => e.closest("[data-testid=member]").textContent);
    assert.match(hostRow, /Ada/);
  }

  await say(a, "gl hf");
  // Each page sends on Enter without waiting: b speaks once a's line is
  // back, or the two race for the lobby's order.
  await b.waitForFunction(() => document.querySelectorAll("[data-testid=chat-line]").length === 1);
  await say(b, "you too");
  for (const p of [a, b]) await p.waitForFunction(() => document.querySelectorAll("[data-testid=chat-line]").length === 2);
  assert.deepEqual(await chatLines(a), ["Ada gl hf", "Bo you too"]);
  assert.deepEqual(await chatLines(b), ["Ada gl hf", "Bo you too"]);

  // Start waits for everyone to be ready.
  assert.equal(await a.isDisabled("[data-testid=start]"), true);
  await b.click("[data-testid=ready]");
  await a.waitForSelector("[data-testid=member]:has-text('Bo') [data-testid=ready-mark][data-ready=true]");
  await shot(a, "03-lobby-host");
  await shot(b, "04-lobby-guest");
  await a.click("[data-testid=start]");
  for (const p of [a, b]) await p.waitForSelector("[data-testid=started]");
  await shot(b, "05-match-started");
});

test("one page is matched in duel with the Go bot (examples/chatbot -queue duel)", BOUND, async (t) => {
  if (!needBrowser(t)) return;
  const s = await startLobbyd(t);
  const p = await openPage(t, s.url);
  await signIn(p, "Duelist");
  await p.click("[data-testid=queue-duel]");
  await p.waitForSelector("[data-testid=searching]");
  await p.waitForSelector("[data-testid=cancel-queue]:not([disabled])");
  await shot(p, "06-duel-searching");
  const bot = await startChatbot(t, s, ["-name", "DuelBot", "-queue", "duel"], /queued:/);
  await p.waitForSelector("[data-testid=started]");
  const teams = await p.textContent("[data-testid=teams]");
  assert.match(teams, /Duelist/);
  assert.match(teams, /DuelBot/);
  await eventually(() => /matched: duel/.test(bot.output()), "the bot's side of the match");
  // The bot answers chat in the match lobby.
  await say(p, "!ping");
  await p.waitForSelector("[data-testid=chat-line]:has-text('DuelBot')");
  await shot(p, "07-duel-matched");
});

test("the lobby list updates live in a third page, without a reload", BOUND, async (t) => {
  if (!needBrowser(t)) return;
  const s = await startLobbyd(t);
  const viewer = await openPage(t, s.url);
  await signIn(viewer, "Viewer");
  await viewer.waitForSelector("[data-testid=live]:not([hidden])");
  const loads = [];
  viewer.on("load", () => loads.push(Date.now()));

  const host = await connectClient(t, s.url, { name: "Host" });
  const guest = await connectClient(t, s.url, { name: "Guest" });
  const { lobby } = await host.createLobby({ name: "Live Arena", max_players: 4, visibility: "public", mode: "ctf" });
  const row = `[data-testid=lobby-row][data-lobby-id="${lobby.id}"]`;
  await viewer.waitForSelector(row);
  await guest.joinLobby({ lobby_id: lobby.id });
  await viewer.waitForSelector(`${row}:has-text("2/4")`);
  await shot(viewer, "08-lobby-list-live");
  // A filter narrows the list, live too.
  await viewer.fill("[data-testid=filter-mode]", "dm");
  await viewer.press("[data-testid=filter-mode]", "Tab");
  await viewer.waitForSelector(row, { state: "detached" });
  await viewer.fill("[data-testid=filter-mode]", "ctf");
  await viewer.press("[data-testid=filter-mode]", "Tab");
  await viewer.waitForSelector(row);
  await host.leaveLobby();
  await guest.leaveLobby();
  await viewer.waitForSelector(row, { state: "detached" });
  assert.deepEqual(loads, [], "the page was never reloaded");
});

test("a cut socket shows reconnecting… and the page recovers with its chat intact", BOUND, async (t) => {
  if (!needBrowser(t)) return;
  const s = await startLobbyd(t);
  const proxy = await startProxy(t, s.port);
  const p = await openPage(t, proxy.url);
  await signIn(p, "Flaky");
  await p.fill("[data-testid=lobby-name]", "Bad Wi-Fi");
  await p.check("[data-testid=lobby-private]");
  await p.click("[data-testid=create]");
  const code = (await p.textContent("[data-testid=lobby-code]")).trim();
  const friend = await connectClient(t, s.url, { name: "Friend" });
  await friend.joinLobby({ code });
  await say(p, "before the cut");
  // The page sends on Enter without waiting: let its line come back before
  // the friend chats, or the two race for the lobby's order.
  await p.waitForFunction(() => document.querySelectorAll("[data-testid=chat-line]").length === 1);
  await friend.chat("one");
  await p.waitForFunction(() => document.querySelectorAll("[data-testid=chat-line]").length === 2);

  // The network goes away: connections cut, new ones refused for a while.
  const dead = await freePort();
  proxy.setTarget(dead);
  proxy.cut();
  await p.waitForSelector("[data-testid=reconnecting]:not([hidden])");
  await friend.chat("two, while you were away");
  await say(p, "typed while reconnecting");
  await shot(p, "09-reconnecting");
  proxy.setTarget(s.port);
  await p.waitForSelector("[data-testid=reconnecting]", { state: "hidden" });
  await p.waitForSelector("[data-testid=conn][data-state=open]");
  await p.waitForFunction(() => document.querySelectorAll("[data-testid=chat-line]").length === 4);
  assert.deepEqual(await chatLines(p), [
    "Flaky before the cut",
    "Friend one",
    "Friend two, while you were away",
    "Flaky typed while reconnecting",
  ]);
  await shot(p, "10-recovered");
});

test("the browser example (examples/browser) chats through the built client", BOUND, async (t) => {
  if (!needBrowser(t)) return;
  const s = await startLobbyd(t);
  // The example names the dev server's default address; here it is served
  // from another origin with the test server's address put in.
  const html = readFileSync(join(results, "..", "..", "examples", "browser", "index.html"), "utf8").replaceAll("http://127.0.0.1:8080", s.url);
  const ctx = await chrome.browser.newContext();
  t.after(() => ctx.close());
  // A static server of its own on loopback: a page from a public (or
  // made-up) origin may not load loopback scripts (Chromium's local
  // network access rules).
  const files = createServer((req, res) => res.writeHead(200, { "content-type": "text/html" }).end(html));
  await new Promise((r) => files.listen(0, "127.0.0.1", r));
  t.after(() => files.close());
  const origin = `http://127.0.0.1:${files.address().port}/`;
  const page = await ctx.newPage();
  page.setDefaultTimeout(EVENTUALLY_MS);
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  await page.goto(origin);
  await page
    .waitForFunction(() => /^[A-Z0-9]{6}$/.test(document.getElementById("code").textContent))
    .catch((e) => assert.fail(`${e.message}; page errors: ${errors.join("; ")}`));
  await page.fill("#text", "hello from the example");
  await page.press("#text", "Enter");
  await page.waitForSelector("li:has-text('hello from the example')");
  assert.equal(await page.textContent("#state"), "open");
  await shot(page, "11-browser-example");
  assert.deepEqual(errors, []);
});
