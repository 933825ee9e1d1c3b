// The operator page (/admin/, served by lobbyd from gateway/adminui) in
// headless Chromium (Debian's chromium, driven by playwright-core) against
// a real lobbyd: a test client makes a lobby; the page, once the operator
// token is typed in, shows it with its member, refreshes on its own, keeps
// the token out of every store a browser keeps, and closes the lobby through
// its button after a confirmation (a cancel first changes nothing). Each
// screen is saved under test-results/screens/ (ignored by git).
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { BOUND, EVENTUALLY_MS, OPERATOR, connectClient, eventually, shots, startLobbyd, useChromium } from "./harness.mjs";

const chrome = useChromium();
const needBrowser = (t) => chrome.need(t);

/** GET an operator endpoint with the token; returns the status. */
async function adminStatus(s, path) {
  const r = await fetch(s.url + path, { headers: { Authorization: `Bearer ${OPERATOR}` } });
  await r.arrayBuffer();
  return r.status;
}

test("the operator page shows a client's lobby and closes it after confirmation", BOUND, async (t) => {
  if (!needBrowser(t)) return;
  const s = await startLobbyd(t);
  const host = await connectClient(t, s.url, { name: "Ada" });
  const left = [];
  host.on("lobby.member_left", (d) => left.push(d));
  const { lobby } = await host.createLobby({ name: "Admin test lobby", max_players: 4, visibility: "private", mode: "ctf", region: "eu" });

  const ctx = await chrome.browser.newContext({ viewport: { width: 1366, height: 900 } });
  t.after(() => ctx.close());
  const page = await ctx.newPage();
  page.setDefaultTimeout(EVENTUALLY_MS);
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  t.after(() => assert.deepEqual(errors, [], "errors in the page"));
  await page.goto(s.url + "/admin/");

  // A wrong token is refused in the page.
  await page.fill("#token", "not-the-token");
  await page.click("#login-submit");
  await page.waitForSelector("#login-error:not([hidden])");
  assert.match(await page.textContent("#login-error"), /not the shard's operator token/);
  await page.screenshot({ path: join(shots, "admin-01-sign-in.png") });

  await page.fill("#token", OPERATOR);
  await page.click("#login-submit");
  const row = `#lobbies-table tr[data-lobby="${lobby.id}"]`;
  await page.waitForSelector(row);
  const text = await page.textContent(row);
  for (const want of ["Admin test lobby", "private", "open", "ctf · eu", "1 / 4", "Ada"]) assert.ok(text.includes(want), `lobby row shows ${want}: ${text}`);
  assert.equal(await page.locator("#shards-table tbody tr[data-shard]").count(), 1);
  assert.ok((await page.locator("#queues-table tbody tr[data-queue]").count()) >= 1);
  assert.equal(await page.inputValue("#token"), "", "the token field is emptied");

  // The token is in the tab's memory only.
  const kept = await page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length, cookie: document.cookie, url: location.href }));
  assert.deepEqual({ ...kept, url: undefined }, { local: 0, session: 0, cookie: "", url: undefined });
  assert.ok(!kept.url.includes(OPERATOR), "the token is not in the URL");
  assert.deepEqual(await ctx.cookies(), []);

  // It refreshes on its own: a lobby made now shows up with no click.
  const other = await connectClient(t, s.url, { name: "Grace" });
  const { lobby: second } = await other.createLobby({ name: "Made later", max_players: 2, visibility: "public" });
  await page.waitForSelector(`#lobbies-table tr[data-lobby="${second.id}"]`);
  await page.screenshot({ path: join(shots, "admin-02-dashboard.png"), fullPage: true });

  // Details: the member, connected, on this shard.
  await page.click(`${row} button[data-action=details]`);
  await page.waitForSelector("#members-table tbody tr[data-member]");
  const member = await page.textContent("#members-table tbody tr[data-member]");
  assert.ok(member.includes("Ada") && member.includes("host") && member.includes("connected"), member);
  assert.ok((await page.textContent("#drawer-facts")).includes(lobby.code), "the drawer shows the code");
  await page.screenshot({ path: join(shots, "admin-03-details.png") });
  await page.click("#drawer-close");

  // Close asks first; Cancel changes nothing.
  await page.click(`${row} button[data-action=close]`);
  await page.waitForSelector("#confirm[open]");
  assert.match(await page.textContent("#confirm-title"), /Admin test lobby/);
  await page.screenshot({ path: join(shots, "admin-04-confirm.png") });
  await page.click("#confirm-cancel");
  await page.waitForSelector("#confirm", { state: "hidden" });
  assert.equal(await adminStatus(s, `/admin/lobbies/${lobby.id}`), 200, "cancel leaves the lobby");

  await page.click(`${row} button[data-action=close]`);
  await page.waitForSelector("#confirm[open]");
  await page.click("#confirm-ok");
  await page.waitForSelector(row, { state: "detached" });
  assert.equal(await adminStatus(s, `/admin/lobbies/${lobby.id}`), 404, "the lobby is gone");
  await eventually(() => left.some((d) => d.reason === "closed"), "Ada told the lobby closed");
  await page.waitForSelector(".toast");
  await page.screenshot({ path: join(shots, "admin-05-closed.png"), fullPage: true });
});
