// lobbyd operator page: plain JavaScript on the operator API
// (docs/protocol.md §4). The operator token lives in one variable of this
// closure and nowhere else: not in storage, not in a cookie, not in the
// URL; reloading the page forgets it. Every value from the server is put
// into the page as text (textContent), never as HTML: lobby and player
// names come from players.
"use strict";
(() => {
  let token = null; // the operator token, in memory only
  let timer = 0;
  let lastOK = 0;
  let inflight = false;
  let cursor = null; // next page of lobbies
  let shown = 0; // lobbies loaded, kept on refresh
  let drawerID = null; // lobby in the details drawer
  let shardIDs = [];

  const $ = (id) => document.getElementById(id);

  // h builds an element: attributes (on* are listeners) and children
  // (strings become text nodes).
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "class") el.className = v;
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  const badge = (text, kind) => h("span", { class: "badge " + kind }, text);

  function duration(ms) {
    if (ms < 0) ms = 0;
    const s = Math.floor(ms / 1000);
    if (s < 1) return ms + " ms";
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " m " + (s % 60) + " s";
    if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " m";
    return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
  }
  const ago = (ms) => duration(Date.now() - ms) + " ago";

  class APIError extends Error {
    constructor(status, code, msg) {
      super(msg || code || "HTTP " + status);
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, path) {
    let r;
    try {
      r = await fetch(path, {
        method,
        headers: { Authorization: "Bearer " + token, Accept: "application/json" },
        cache: "no-store",
        credentials: "omit",
      });
    } catch (e) {
      throw new APIError(0, "unreachable", "the shard did not answer");
    }
    if (r.status === 204) return null;
    let body = null;
    try {
      body = await r.json();
    } catch (e) {
      body = null;
    }
    if (!r.ok) {
      const err = (body && body.error) || {};
      throw new APIError(r.status, err.code, err.msg);
    }
    return body;
  }

  function toast(text, bad) {
    const t = h("div", { class: "toast" + (bad ? " bad" : ""), role: "status" }, text);
    $("toasts").append(t);
    setTimeout(() => t.remove(), 5000);
  }

  // ---- sign-in ----

  async function signIn(ev) {
    ev.preventDefault();
    const input = $("token");
    const candidate = input.value.trim();
    if (!candidate) return;
    $("login-submit").disabled = true;
    $("login-error").hidden = true;
    token = candidate;
    try {
      await api("GET", "/admin/shards");
    } catch (e) {
      token = null;
      $("login-submit").disabled = false;
      $("login-error").textContent = e.status === 401 ? "This token is not the shard's operator token." : "Could not sign in: " + e.message;
      $("login-error").hidden = false;
      return;
    }
    input.value = "";
    $("login-submit").disabled = false;
    $("login").hidden = true;
    $("dashboard").hidden = false;
    $("session").hidden = false;
    refresh();
    schedule();
  }

  function lock(reason) {
    token = null;
    clearTimeout(timer);
    closeDrawer();
    $("dashboard").hidden = true;
    $("session").hidden = true;
    $("login").hidden = false;
    for (const id of ["shards-table", "queues-table", "lobbies-table"]) $(id).tBodies[0].replaceChildren();
    if (reason) {
      $("login-error").textContent = reason;
      $("login-error").hidden = false;
    }
    $("token").focus();
  }

  // ---- refreshing ----

  function schedule() {
    clearTimeout(timer);
    const every = Number($("interval").value);
    if (token && every > 0) timer = setTimeout(async () => { await refresh(); schedule(); }, every);
    liveState();
  }

  function liveState() {
    const el = $("live");
    const every = Number($("interval").value);
    el.className = "live";
    if (every === 0) {
      el.classList.add("paused");
      $("live-text").textContent = lastOK ? "paused · updated " + ago(lastOK) : "paused";
    } else if (!lastOK) {
      $("live-text").textContent = "connecting…";
    } else if (Date.now() - lastOK > Math.max(3 * every, 10000)) {
      el.classList.add("down");
      $("live-text").textContent = "no answer since " + ago(lastOK);
    } else {
      $("live-text").textContent = "live · updated " + ago(lastOK);
    }
  }

  function filters() {
    const q = new URLSearchParams();
    for (const el of $("filters").elements) {
      if (el.name && el.value.trim()) q.set(el.name, el.value.trim());
    }
    return q;
  }

  async function refresh() {
    if (!token || inflight) return;
    inflight = true;
    try {
      const q = filters();
      q.set("limit", String(Math.min(200, Math.max(50, shown))));
      const [shards, queues, page] = await Promise.all([
        api("GET", "/admin/shards"),
        api("GET", "/admin/queues"),
        api("GET", "/admin/lobbies?" + q),
      ]);
      renderShards(shards);
      renderQueues(queues);
      renderLobbies(page, false);
      if (drawerID) await loadDrawer(drawerID, true);
      lastOK = Date.now();
    } catch (e) {
      if (e.status === 401) {
        lock("The shard no longer accepts this token: sign in again.");
        return;
      }
      if (e.status !== 400) toast("Refresh failed: " + e.message, true);
      else toast("Filters refused: " + e.message, true);
    } finally {
      inflight = false;
      liveState();
    }
  }

  // ---- shards ----

  function renderShards(shards) {
    const body = $("shards-table").tBodies[0];
    const draining = shards.filter((s) => s.draining).length;
    $("stat-shards").textContent = String(shards.length);
    $("stat-shards-sub").textContent = draining ? draining + " draining" : "all serving";
    $("stat-conns").textContent = shards.reduce((n, s) => n + s.connections, 0).toLocaleString();
    const rows = shards.map((s) =>
      h("tr", { "data-shard": s.id },
        h("td", {}, h("strong", {}, s.id)),
        h("td", { class: "id" }, s.addr),
        h("td", { class: "num" }, s.connections.toLocaleString()),
        h("td", { class: "num" }, s.lobbies.toLocaleString()),
        h("td", {}, s.draining ? badge("draining", "warn") : badge("serving", "ok")),
        h("td", { class: "muted" }, ago(s.last_seen)),
        h("td", {}, (s.matchers || []).length ? s.matchers.map((m) => h("span", { class: "chip" }, m)) : h("span", { class: "muted" }, "–")),
        h("td", { class: "actions" },
          h("button", {
            type: "button", class: "btn danger", disabled: s.draining, "data-action": "drain",
            onclick: () => confirmDrain(s),
          }, s.draining ? "Draining" : "Drain")),
      ));
    body.replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { class: "empty", colspan: 8 }, "No live shard."))]));
    $("shards-note").textContent = shards.length === 1 ? "a single shard" : shards.length + " shards in this cluster";
    // The shard filter offers the live shards.
    const ids = shards.map((s) => s.id);
    if (ids.join("\n") !== shardIDs.join("\n")) {
      shardIDs = ids;
      const sel = $("shard-filter");
      const keep = sel.value;
      sel.replaceChildren(h("option", { value: "" }, "any"), ...ids.map((id) => h("option", { value: id }, id)));
      sel.value = ids.includes(keep) ? keep : "";
    }
  }

  // ---- queues ----

  function renderQueues(queues) {
    const body = $("queues-table").tBodies[0];
    const tickets = queues.reduce((n, q) => n + q.tickets, 0);
    const oldest = queues.reduce((m, q) => (q.tickets > 0 ? Math.max(m, q.oldest_wait_ms) : m), 0);
    $("stat-tickets").textContent = tickets.toLocaleString();
    $("stat-tickets-sub").textContent = tickets ? "oldest waiting " + duration(oldest) : "no one waiting";
    const rows = queues.map((q) =>
      h("tr", { "data-queue": q.name },
        h("td", {}, h("strong", {}, q.name)),
        h("td", { class: "num" }, q.tickets.toLocaleString()),
        h("td", { class: "num" }, q.players.toLocaleString()),
        h("td", {}, q.tickets ? duration(q.oldest_wait_ms) : h("span", { class: "muted" }, "–")),
        h("td", { class: "num" }, q.matches_per_min.toLocaleString()),
        h("td", {}, q.matcher ? h("span", { class: "chip" }, q.matcher) : badge("no matcher", "bad")),
      ));
    body.replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { class: "empty", colspan: 6 }, "No queue configured."))]));
  }

  // ---- lobbies ----

  function renderLobbies(page, append) {
    const body = $("lobbies-table").tBodies[0];
    const rows = page.lobbies.map(lobbyRow);
    if (append) body.append(...rows);
    else body.replaceChildren(...rows);
    shown = append ? shown + page.lobbies.length : page.lobbies.length;
    cursor = page.next_cursor;
    if (!shown) body.replaceChildren(h("tr", {}, h("td", { class: "empty", colspan: 8 }, "No lobby matches these filters.")));
    $("more").hidden = !cursor;
    $("stat-lobbies").textContent = shown.toLocaleString() + (cursor ? "+" : "");
  }

  function lobbyRow(l) {
    const away = l.members.filter((m) => !m.connected).length;
    const shards = [...new Set(l.members.map((m) => m.shard))].sort();
    const where = [l.mode, l.region].filter(Boolean).join(" · ");
    return h("tr", { "data-lobby": l.id },
      h("td", {},
        h("span", { class: "name", title: l.name }, l.name),
        h("span", { class: "id" }, l.id)),
      h("td", {},
        l.state === "in_game" ? badge("in game", "info") : badge("open", "ok"), " ",
        l.visibility === "private" ? badge("private", "plain") : null,
        l.locked ? badge("locked", "warn") : null),
      h("td", {}, where || h("span", { class: "muted" }, "–")),
      h("td", { class: "num" }, l.members.length + " / " + l.max_players, away ? h("span", { class: "away" }, "(" + away + " away)") : null),
      h("td", {}, hostCell(l)),
      h("td", {}, shards.map((s) => h("span", { class: "chip" }, s))),
      h("td", { class: "muted" }, duration(Date.now() - l.created_at)),
      h("td", { class: "actions" },
        h("button", { type: "button", class: "btn", "data-action": "details", onclick: () => openDrawer(l.id) }, "Details"),
        h("button", { type: "button", class: "btn danger", "data-action": "close", onclick: () => confirmClose(l) }, "Close")),
    );
  }

  // hostCell is the host's name with its user id under it.
  function hostCell(l) {
    const host = l.members.find((m) => m.user_id === l.host);
    if (!host) return h("span", { class: "muted" }, "–");
    if (!host.name) return host.user_id;
    return [host.name, h("span", { class: "sub id" }, host.user_id)];
  }

  async function loadMore() {
    if (!cursor || inflight) return;
    inflight = true;
    try {
      const q = filters();
      q.set("cursor", cursor);
      renderLobbies(await api("GET", "/admin/lobbies?" + q), true);
    } catch (e) {
      toast("Could not load more: " + e.message, true);
    } finally {
      inflight = false;
    }
  }

  // ---- lobby details ----

  async function openDrawer(id) {
    drawerID = id;
    $("drawer").hidden = false;
    await loadDrawer(id, false);
  }

  function closeDrawer() {
    drawerID = null;
    $("drawer").hidden = true;
  }

  async function loadDrawer(id, quiet) {
    let l;
    try {
      l = await api("GET", "/admin/lobbies/" + encodeURIComponent(id));
    } catch (e) {
      if (e.status === 404) {
        if (!quiet) toast("That lobby is gone.", true);
        closeDrawer();
        return;
      }
      throw e;
    }
    if (drawerID !== id) return;
    $("drawer-title").textContent = l.name;
    const facts = [
      ["Id", l.id],
      ["Code", l.code],
      ["State", l.state === "in_game" ? "in game" : "open"],
      ["Access", [l.visibility, l.has_password ? "password" : "", l.locked ? "locked" : ""].filter(Boolean).join(", ")],
      ["Mode · region", [l.mode || "–", l.region || "–"].join(" · ")],
      ["Players", l.members.length + " / " + l.max_players],
      ["Host", (() => { const m = l.members.find((x) => x.user_id === l.host); return m && m.name ? m.name + " (" + m.user_id + ")" : l.host || "–"; })()],
      ["Match", l.match_id || "–"],
      ["Created", new Date(l.created_at).toISOString().replace("T", " ").slice(0, 19) + " UTC (" + ago(l.created_at) + ")"],
      ["Version", String(l.version)],
      ["Attrs", Object.keys(l.attrs || {}).length ? Object.entries(l.attrs).map(([k, v]) => k + "=" + v).join("  ") : "–"],
    ];
    $("drawer-facts").replaceChildren(...facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
    $("members-table").tBodies[0].replaceChildren(...l.members.map((m) =>
      h("tr", { "data-member": m.user_id },
        h("td", {}, h("strong", {}, m.name || m.user_id), m.name ? h("span", { class: "id" }, m.user_id) : null),
        h("td", {}, m.is_host ? badge("host", "info") : "member"),
        h("td", {}, m.ready ? badge("ready", "ok") : h("span", { class: "muted" }, "no")),
        h("td", {}, m.connected ? badge("connected", "ok") : badge("away", "warn")),
        h("td", {}, h("span", { class: "chip" }, m.shard)),
        h("td", { class: "muted" }, ago(m.joined_at)),
      )));
    $("drawer-close-lobby").onclick = () => confirmClose(l);
  }

  // ---- confirmations and actions ----

  // confirm shows the dialog; expect, when set, must be typed first.
  function confirmAction({ title, text, action, expect }) {
    return new Promise((resolve) => {
      const dlg = $("confirm");
      $("confirm-title").textContent = title;
      $("confirm-text").textContent = text;
      $("confirm-ok").textContent = action;
      const input = $("confirm-input");
      input.value = "";
      $("confirm-type-label").hidden = !expect;
      $("confirm-expect").textContent = expect || "";
      const ok = $("confirm-ok");
      ok.disabled = !!expect;
      input.oninput = () => { ok.disabled = input.value.trim() !== expect; };
      const done = (v) => {
        ok.onclick = null;
        $("confirm-cancel").onclick = null;
        dlg.onclose = null;
        if (dlg.open) dlg.close();
        resolve(v);
      };
      ok.onclick = () => done(true);
      $("confirm-cancel").onclick = () => done(false);
      dlg.onclose = () => done(false);
      dlg.showModal();
      (expect ? input : $("confirm-cancel")).focus();
    });
  }

  async function confirmClose(l) {
    const sure = await confirmAction({
      title: "Close lobby “" + l.name + "”?",
      text: "Its " + l.members.length + " member" + (l.members.length === 1 ? "" : "s") +
        " will be told the lobby was closed (member_left, reason closed) and it will be deleted. This cannot be undone.",
      action: "Close lobby",
    });
    if (!sure) return;
    try {
      await api("DELETE", "/admin/lobbies/" + encodeURIComponent(l.id));
      toast("Closed lobby “" + l.name + "”.");
    } catch (e) {
      toast(e.status === 404 ? "That lobby was already gone." : "Close failed: " + e.message, true);
    }
    if (drawerID === l.id) closeDrawer();
    await refresh();
  }

  async function confirmDrain(s) {
    const sure = await confirmAction({
      title: "Drain shard " + s.id + "?",
      text: "It stops accepting players, tells its " + s.connections.toLocaleString() +
        " connected player" + (s.connections === 1 ? "" : "s") +
        " to reconnect elsewhere, closes their sockets within the drain spread, then exits. " +
        (shardIDs.length === 1 ? "This is the only shard: players will have nowhere to go until it is restarted." : ""),
      action: "Drain " + s.id,
      expect: s.id,
    });
    if (!sure) return;
    try {
      await api("POST", "/admin/shards/" + encodeURIComponent(s.id) + "/drain");
      toast("Shard " + s.id + " was told to drain.");
    } catch (e) {
      toast("Drain failed: " + e.message, true);
    }
    await refresh();
  }

  // ---- wiring ----

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", signIn);
    $("lock").addEventListener("click", () => lock(""));
    $("refresh-now").addEventListener("click", refresh);
    $("interval").addEventListener("change", schedule);
    $("more").addEventListener("click", loadMore);
    $("drawer-close").addEventListener("click", closeDrawer);
    $("filters").addEventListener("submit", (ev) => { ev.preventDefault(); shown = 0; refresh(); });
    $("filters").addEventListener("reset", () => setTimeout(() => { shown = 0; refresh(); }, 0));
    document.addEventListener("keydown", (ev) => { if (ev.key === "Escape" && !$("confirm").open) closeDrawer(); });
    setInterval(() => { if (token) liveState(); }, 1000);
    $("token").focus();
  });
})();
