// The lobby page lobbyd serves at /: sign in (a guest in dev mode, else a
// token), the live lobby list, create and join, the lobby with its members,
// chat, ready and start, and the matchmaking queues. It is built on the
// same LobbyClient and LobbyWatch that games use, so it is also their
// worked example: the page keeps its own copy of the lobby, applies the
// events to it, and re-reads it from the welcome when a session is reset.
//
// Rendering is plain DOM: every user-supplied string goes in through
// textContent (never innerHTML), so a lobby or player name cannot inject
// markup.
import { LobbyClient, ProtocolError, guestToken, queues as fetchQueues, watchLobbies } from "../index.js";
/** h builds an element: attributes (on* are listeners), then children. */
function h(tag, attrs = {}, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false)
            continue;
        if (k.startsWith("on") && typeof v === "function")
            el.addEventListener(k.slice(2), v);
        else if (k === "class")
            el.className = String(v);
        else if (k === "value")
            el.value = String(v);
        else if (k === "checked")
            el.checked = Boolean(v);
        else
            el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children)
        if (c !== null && c !== undefined && c !== false)
            el.append(c);
    return el;
}
const $ = (id) => document.getElementById(id);
/** A colour per user id, so a player keeps theirs on every screen. */
function hue(id) {
    let x = 0;
    for (let i = 0; i < id.length; i++)
        x = (x * 31 + id.charCodeAt(i)) >>> 0;
    return `hsl(${x % 360} 85% 62%)`;
}
function toast(text, kind = "") {
    const t = h("div", { class: `toast ${kind}`, "data-testid": "toast" }, text);
    $("toasts").append(t);
    setTimeout(() => t.remove(), 4500);
}
/** Words for an error, in a player's terms. */
function explain(e) {
    if (e instanceof ProtocolError) {
        const words = {
            not_found: "That lobby does not exist (or is private: use its code).",
            wrong_password: "Wrong password.",
            lobby_full: "That lobby is full.",
            lobby_locked: "That lobby is locked or already in game.",
            already_in_lobby: "Leave your lobby first.",
            not_in_lobby: "You are not in a lobby.",
            not_host: "Only the host can do that.",
            already_queued: "You are already in a queue.",
            rate_limited: "Slow down a little.",
            unavailable: "The server is busy; try again.",
        };
        return words[e.code] ?? `${e.code}: ${e.message}`;
    }
    return e instanceof Error ? e.message : String(e);
}
const S = {
    client: null,
    watch: null,
    me: null,
    lobby: null,
    chat: [],
    started: null,
    queue: null,
    match: null,
    mmNote: "",
    filter: { has_space: false, mode: "", region: "" },
    stats: [],
    names: new Map(), // user id -> display name, for chat lines of people who left
};
const server = location.origin;
// ---- sign in ----
function renderSignIn(needToken = false) {
    const name = h("input", {
        type: "text",
        id: "name",
        maxlength: 32,
        placeholder: "Your name",
        value: localStorage.getItem("lobbyd.name") ?? "",
        "data-testid": "name",
        autocomplete: "nickname",
    });
    const token = h("textarea", { id: "token", rows: 3, placeholder: "eyJhbGciOi…", "data-testid": "token" });
    const go = async (ev) => {
        ev.preventDefault();
        const btn = ev.target.querySelector("button");
        btn.disabled = true;
        try {
            if (needToken) {
                const t = token.value.trim();
                if (!t)
                    throw new Error("Paste a token first.");
                await start(t);
            }
            else {
                const n = name.value.trim() || "Player";
                localStorage.setItem("lobbyd.name", n);
                try {
                    const g = await guestToken(server, n);
                    sessionStorage.setItem("lobbyd.token", g.token);
                    await start(g.token);
                }
                catch (e) {
                    if (e instanceof ProtocolError && e.code === "not_found") {
                        // Not a dev server: guest tokens are off, a real token is needed.
                        renderSignIn(true);
                        toast("This server needs a token from your game's backend.", "err");
                        return;
                    }
                    throw e;
                }
            }
        }
        catch (e) {
            toast(explain(e), "err");
            btn.disabled = false;
        }
    };
    const card = h("form", { class: "panel signin", onsubmit: go }, h("h1", {}, "READY ", h("span", {}, "UP")), h("p", { class: "tag" }, needToken ? "Sign in with your player token." : "Pick a name and jump in. No account needed on a dev server."), needToken ? h("label", { for: "token" }, "Player token (JWT)") : h("label", { for: "name" }, "Callsign"), needToken ? token : name, h("button", { class: "btn huge", type: "submit", "data-testid": "play" }, needToken ? "Sign in" : "Play"), h("p", { class: "hint" }, needToken ? "Tokens are signed by your game's backend with the server's key." : "Dev mode: a guest token from POST /v1/auth/guest."));
    $("app").replaceChildren(h("div", { class: "hero" }, card));
    (needToken ? token : name).focus();
}
async function start(token) {
    const c = new LobbyClient({ url: server, token });
    S.client = c;
    window.lobbyd = c; // for the curious, and for the browser tests
    c.on("state", ({ state }) => renderConn(state));
    c.on("welcome", (w) => {
        S.me = w;
        S.names.set(w.user_id, w.name);
        const me = $("me");
        me.textContent = w.name;
        me.hidden = false;
        $("signout").hidden = false;
    });
    c.on("session_reset", (w) => {
        // The old session is gone; the server says which lobby we are still in.
        setLobby(w.lobby);
        S.queue = null;
        sys("Reconnected with a new session.");
        toast("Reconnected (new session)", "ok");
        render();
    });
    c.on("resumed", () => {
        toast("Reconnected", "ok");
    });
    c.on("closed", ({ code }) => {
        if (code === 4009) {
            toast("Signed in somewhere else: this page stopped.", "err");
            renderConn("closed");
        }
    });
    wireEvents(c);
    const w = await c.connect();
    setLobby(w.lobby);
    startWatch();
    pollQueues();
    setInterval(tick, 1000);
    render();
}
function renderConn(state) {
    const pill = $("conn");
    pill.dataset.state = state;
    const [cls, text] = state === "open"
        ? ["pill-on", "ONLINE"]
        : state === "reconnecting" || state === "connecting"
            ? ["pill-wait", state === "connecting" ? "CONNECTING" : "RECONNECTING"]
            : ["pill-off", "OFFLINE"];
    pill.className = `pill ${cls}`;
    pill.textContent = text;
    $("banner").hidden = state !== "reconnecting";
}
// ---- the lobby copy and its events ----
function setLobby(l) {
    const changed = (l?.id ?? null) !== (S.lobby?.id ?? null);
    S.lobby = l;
    if (l)
        for (const m of l.members)
            S.names.set(m.user_id, m.name);
    if (changed) {
        S.chat = [];
        S.started = l?.state === "in_game" ? { match_id: "" } : null;
    }
}
function sys(text) {
    S.chat.push({ from: "", name: "", text, sys: true });
}
function nameOf(id) {
    return S.names.get(id) ?? id;
}
function upsertMember(m) {
    if (!S.lobby)
        return;
    S.names.set(m.user_id, m.name);
    const i = S.lobby.members.findIndex((x) => x.user_id === m.user_id);
    if (i >= 0)
        S.lobby.members[i] = m;
    else
        S.lobby.members.push(m);
}
function setHost(id) {
    if (!S.lobby)
        return;
    S.lobby.host = id;
    for (const m of S.lobby.members)
        m.is_host = m.user_id === id;
}
function wireEvents(c) {
    c.on("lobby.member_joined", ({ member }) => {
        upsertMember(member);
        sys(`${member.name} joined`);
        render();
    });
    c.on("lobby.member_left", ({ user_id, reason }) => {
        if (!S.lobby)
            return;
        S.lobby.members = S.lobby.members.filter((m) => m.user_id !== user_id);
        sys(`${nameOf(user_id)} ${reason === "kicked" ? "was kicked" : reason === "disconnected" ? "dropped" : "left"}`);
        render();
    });
    c.on("lobby.member_updated", ({ member }) => {
        upsertMember(member);
        render();
    });
    c.on("lobby.updated", ({ lobby }) => {
        if (S.lobby)
            setLobby({ ...lobby, code: lobby.code ?? S.lobby.code });
        render();
    });
    c.on("lobby.host_changed", ({ host }) => {
        setHost(host);
        sys(`${nameOf(host)} is the host now`);
        render();
    });
    c.on("lobby.kicked", () => {
        setLobby(null);
        toast("You were kicked from the lobby.", "err");
        render();
    });
    c.on("lobby.chat", ({ from, text }) => {
        S.chat.push({ from, name: nameOf(from), text });
        if (S.chat.length > 500)
            S.chat.splice(0, S.chat.length - 500);
        renderChatLog();
    });
    c.on("lobby.started", ({ match_id }) => {
        if (S.lobby)
            S.lobby.state = "in_game";
        S.started = { match_id };
        sys("The match has started. GL HF!");
        render();
    });
    c.on("mm.queued", ({ ticket }) => {
        S.queue = { queue: ticket.queue, ticket, since: S.queue?.since ?? Date.now() };
        render();
    });
    c.on("mm.matched", (d) => {
        S.queue = null;
        S.match = { queue: d.queue, match_id: d.match_id, teams: d.teams };
        setLobby(d.lobby);
        S.started = { match_id: d.match_id };
        sys(`Matched in ${d.queue.toUpperCase()}: ${d.teams.map((t) => t.map(nameOf).join(" + ")).join("  vs  ")}`);
        render();
    });
    c.on("mm.cancelled", ({ reason }) => {
        S.queue = null;
        S.mmNote = reason === "timeout" ? "No match found in time." : reason === "disconnected" ? "Queue left: connection lost." : "";
        render();
    });
}
// ---- actions ----
async function act(fn, ok) {
    try {
        await fn();
        if (ok)
            toast(ok, "ok");
    }
    catch (e) {
        toast(explain(e), "err");
    }
    render();
}
const C = () => S.client;
function createLobby(form) {
    const f = new FormData(form);
    const pw = String(f.get("password") ?? "");
    const mode = String(f.get("mode") ?? "");
    return act(async () => {
        const { lobby } = await C().createLobby({
            name: String(f.get("lname") || `${S.me?.name ?? "My"}'s lobby`),
            max_players: Number(f.get("max") || 4),
            visibility: f.get("private") ? "private" : "public",
            ...(pw ? { password: pw } : {}),
            ...(mode ? { mode } : {}),
        });
        setLobby(lobby);
    });
}
function joinBy(d, password) {
    return act(async () => {
        const { lobby } = await C().joinLobby(password ? { ...d, password } : d);
        setLobby(lobby);
    });
}
function joinFromList(l) {
    if (l.has_password) {
        const pw = prompt(`Password for ${l.name}`);
        if (pw === null)
            return;
        return joinBy({ lobby_id: l.id }, pw);
    }
    return joinBy({ lobby_id: l.id });
}
function enqueue(queue) {
    S.match = null;
    S.mmNote = "";
    S.queue = { queue, ticket: null, since: Date.now() };
    render();
    return act(async () => {
        try {
            const { ticket } = await C().enqueue({ queue });
            // mm.queued may have come first; the ticket is the same.
            if (S.queue?.queue === queue)
                S.queue.ticket = ticket;
        }
        catch (e) {
            S.queue = null;
            throw e;
        }
    });
}
function cancelQueue() {
    const t = S.queue?.ticket;
    if (!t)
        return;
    return act(async () => {
        await C().cancelTicket(t.id);
        S.queue = null;
    });
}
// ---- the live list ----
function startWatch() {
    S.watch?.close();
    const f = { limit: 50 };
    if (S.filter.mode)
        f.mode = S.filter.mode;
    if (S.filter.region)
        f.region = S.filter.region;
    if (S.filter.has_space)
        f.has_space = true;
    const w = watchLobbies(server, f);
    S.watch = w;
    const redraw = () => renderList();
    w.on("sync", redraw);
    w.on("lobby", redraw);
    w.on("removed", redraw);
    w.on("state", redraw);
}
async function pollQueues() {
    try {
        S.stats = await fetchQueues(server);
        renderQueueStats();
    }
    catch {
        /* shown again at the next poll */
    }
    setTimeout(pollQueues, 3000);
}
function tick() {
    const el = document.querySelector("[data-testid=wait]");
    if (el && S.queue)
        el.textContent = clock(Date.now() - S.queue.since);
}
function clock(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}
// ---- rendering ----
function render() {
    if (!S.client)
        return;
    const app = $("app");
    const keep = document.activeElement instanceof HTMLInputElement ? document.activeElement.id : "";
    app.replaceChildren(S.lobby ? lobbyScreen(S.lobby) : menuScreen());
    if (keep)
        document.getElementById(keep)?.focus();
    renderChatLog();
    renderList();
    renderQueueStats();
}
function menuScreen() {
    return h("div", { class: "grid", "data-testid": "menu" }, h("div", { class: "stack" }, quickMatch(), createPanel(), joinPanel()), browserPanel());
}
function quickMatch() {
    const q = S.queue;
    const qb = (name, title, sub, cls) => h("button", { class: `qbtn ${cls}`, type: "button", disabled: !!q, "data-testid": `queue-${name}`, onclick: () => enqueue(name) }, h("span", { class: "stat", "data-queue-stat": name }), h("b", {}, title), h("small", {}, sub));
    return h("section", { class: "panel hot" }, h("h2", {}, "Quick match"), h("div", { class: "queues" }, qb("duel", "DUEL", "1 vs 1", "duel"), qb("squad", "SQUAD", "2 vs 2", "squad")), q &&
        h("div", { class: "searching", "data-testid": "searching" }, h("span", { class: "clock", "data-testid": "wait" }, clock(Date.now() - q.since)), h("span", { class: "what" }, `SEARCHING ${q.queue.toUpperCase()}…`), h("button", { class: "btn ghost small", type: "button", onclick: cancelQueue, disabled: !q.ticket, "data-testid": "cancel-queue" }, "Cancel")), !q && S.mmNote && h("div", { class: "result bad" }, h("b", {}, "NO MATCH"), h("div", {}, S.mmNote)));
}
function createPanel() {
    return h("form", {
        class: "panel",
        "data-testid": "create-form",
        onsubmit: (e) => {
            e.preventDefault();
            createLobby(e.target);
        },
    }, h("h2", {}, "Create a lobby"), h("label", { for: "lname" }, "Name"), h("input", { type: "text", id: "lname", name: "lname", maxlength: 64, placeholder: `${S.me?.name ?? "My"}'s lobby`, "data-testid": "lobby-name" }), h("div", { class: "row" }, h("div", {}, h("label", { for: "max" }, "Players"), h("input", { type: "number", id: "max", name: "max", min: 2, max: 256, value: 4 })), h("div", {}, h("label", { for: "mode" }, "Mode"), h("input", { type: "text", id: "mode", name: "mode", maxlength: 32, placeholder: "any", "data-testid": "lobby-mode" }))), h("label", { for: "cpw" }, "Password (optional)"), h("input", { type: "password", id: "cpw", name: "password", maxlength: 64, autocomplete: "new-password" }), h("label", { class: "check" }, h("input", { type: "checkbox", name: "private", "data-testid": "lobby-private" }), "Private: joinable by code only"), h("button", { class: "btn wide", type: "submit", "data-testid": "create" }, "Create lobby"));
}
function joinPanel() {
    const code = h("input", { type: "text", id: "jcode", maxlength: 6, placeholder: "ABC123", "data-testid": "join-code", style: "text-transform:uppercase;letter-spacing:.3em;font-weight:900" });
    const pw = h("input", { type: "password", id: "jpw", maxlength: 64, placeholder: "if any", autocomplete: "off" });
    return h("form", {
        class: "panel",
        onsubmit: (e) => {
            e.preventDefault();
            const c = code.value.trim().toUpperCase();
            if (c)
                joinBy({ code: c }, pw.value || undefined);
        },
    }, h("h2", {}, "Join by code"), h("div", { class: "row" }, h("div", {}, h("label", { for: "jcode" }, "Code"), code), h("div", {}, h("label", { for: "jpw" }, "Password"), pw)), h("button", { class: "btn ghost wide", type: "submit", "data-testid": "join-by-code" }, "Join"));
}
function browserPanel() {
    const refilter = () => startWatch();
    const mode = h("input", {
        type: "text",
        id: "fmode",
        placeholder: "any mode",
        value: S.filter.mode,
        "data-testid": "filter-mode",
        onchange: (e) => {
            S.filter.mode = e.target.value.trim();
            refilter();
        },
    });
    const region = h("input", {
        type: "text",
        id: "fregion",
        placeholder: "any region",
        value: S.filter.region,
        onchange: (e) => {
            S.filter.region = e.target.value.trim();
            refilter();
        },
    });
    const space = h("label", { class: "check" }, h("input", {
        type: "checkbox",
        checked: S.filter.has_space,
        "data-testid": "filter-space",
        onchange: (e) => {
            S.filter.has_space = e.target.checked;
            refilter();
        },
    }), "Has space");
    return h("section", { class: "panel" }, h("h2", {}, "Lobby browser", h("span", { class: "live", id: "live", "data-testid": "live", hidden: true }, "LIVE")), h("div", { class: "filters" }, h("div", {}, h("label", { for: "fmode" }, "Mode"), mode), h("div", {}, h("label", { for: "fregion" }, "Region"), region), space), h("div", { class: "list", id: "list", "data-testid": "lobby-list" }));
}
function renderList() {
    const list = document.getElementById("list");
    if (!list)
        return;
    const w = S.watch;
    const live = document.getElementById("live");
    if (live)
        live.hidden = !w?.live;
    const lobbies = w?.lobbies ?? [];
    if (!lobbies.length) {
        list.replaceChildren(h("div", { class: "empty" }, h("b", {}, w?.live ? "No open lobbies" : "Loading lobbies…"), w?.live ? "Create one, or queue for a quick match." : ""));
        return;
    }
    list.replaceChildren(...lobbies.map((l) => {
        const n = l.members?.length ?? 0;
        const full = n >= l.max_players;
        return h("div", { class: "lobby-row", "data-testid": "lobby-row", "data-lobby-id": l.id }, h("div", {}, h("div", { class: "name" }, l.name), h("div", { class: "meta" }, h("span", { class: "chip" }, l.mode || "any mode"), l.region && h("span", { class: "chip" }, l.region), l.has_password && h("span", { class: "chip lock" }, "password"), l.state === "in_game" && h("span", { class: "chip ingame" }, "in game"), h("span", { class: "chip" }, `host ${l.members?.find((m) => m.is_host)?.name ?? "—"}`))), h("div", { class: "fill" }, h("div", { class: "num" }, `${n}/${l.max_players}`), h("div", { class: "bar" }, h("i", { style: `width:${Math.min(100, (100 * n) / l.max_players)}%` }))), h("button", {
            class: "btn small",
            type: "button",
            disabled: full || l.state !== "open" || l.locked,
            "data-testid": "join",
            onclick: () => joinFromList(l),
        }, full ? "Full" : "Join"));
    }));
}
function renderQueueStats() {
    for (const el of document.querySelectorAll("[data-queue-stat]")) {
        const s = S.stats.find((q) => q.name === el.dataset.queueStat);
        el.textContent = s ? `${s.players} searching` : "";
    }
}
function lobbyScreen(l) {
    const me = S.me.user_id;
    const iAmHost = l.host === me;
    const mine = l.members.find((m) => m.user_id === me);
    const everyoneReady = l.members.length >= 2 && l.members.every((m) => m.ready || m.user_id === l.host);
    const head = h("div", { class: "lobby-head" }, h("div", {}, h("h1", { "data-testid": "lobby-title" }, l.name), h("div", { class: "sub" }, h("span", { class: "chip" }, l.mode || "any mode"), h("span", { class: "chip" }, l.visibility), l.has_password && h("span", { class: "chip lock" }, "password"), l.state === "in_game" && h("span", { class: "chip ingame" }, "in game"), `${l.members.length} / ${l.max_players} players`)), l.code &&
        h("div", { class: "code-box" }, h("small", {}, "INVITE CODE"), h("span", {
            class: "code",
            title: "Copy",
            "data-testid": "lobby-code",
            onclick: () => navigator.clipboard?.writeText(l.code).then(() => toast("Code copied", "ok")),
        }, l.code)));
    const banner = S.started &&
        h("div", { class: "started", "data-testid": "started" }, h("div", {}, h("b", {}, S.match ? "MATCH FOUND" : "MATCH STARTED"), h("br"), h("small", {}, S.started.match_id ? `match ${S.started.match_id}` : "in game")), S.match &&
            h("div", { class: "teams", "data-testid": "teams" }, h("div", { class: "team" }, (S.match.teams[0] ?? []).map(nameOf).join(" + ")), h("div", { class: "vs" }, "VS"), h("div", { class: "team" }, S.match.teams.slice(1).map((t) => t.map(nameOf).join(" + ")).join(" / "))));
    const members = h("div", { class: "members", "data-testid": "members" }, ...l.members.map((m) => memberRow(m, me, iAmHost)), ...Array.from({ length: Math.max(0, Math.min(l.max_players, 8) - l.members.length) }, () => h("div", { class: "slot" }, "Open slot")));
    const actions = h("div", { class: "actions" }, l.state === "open" &&
        h("button", {
            class: `btn ${mine?.ready ? "ghost" : "lime"}`,
            type: "button",
            "data-testid": "ready",
            onclick: () => act(async () => {
                const { member } = await C().setMember({ ready: !mine?.ready });
                upsertMember(member);
            }),
        }, mine?.ready ? "Not ready" : "Ready"), iAmHost &&
        l.state === "open" &&
        h("button", { class: "btn pink", type: "button", disabled: !everyoneReady, title: everyoneReady ? "" : "Everyone must be ready", "data-testid": "start", onclick: () => act(() => C().start()) }, "Start match"), h("button", {
        class: "btn ghost",
        type: "button",
        "data-testid": "leave",
        onclick: () => act(async () => {
            await C().leaveLobby();
            setLobby(null);
            S.match = null;
        }),
    }, "Leave"));
    return h("div", { "data-testid": "lobby" }, head, banner, h("div", { class: "grid" }, h("section", { class: "panel" }, h("h2", {}, "Players"), members, actions), chatPanel()));
}
function memberRow(m, me, iAmHost) {
    const you = m.user_id === me;
    return h("div", { class: `member${you ? " me-row" : ""}${m.connected ? "" : " away"}`, "data-testid": "member", "data-user": m.user_id }, h("div", { class: "avatar", style: `background:${hue(m.user_id)}` }, (m.name || "?").slice(0, 1).toUpperCase()), h("div", {}, h("div", { class: "who" }, m.name, m.is_host && h("span", { class: "badge host", "data-testid": "host-badge" }, "HOST"), you && h("span", { class: "badge you" }, "YOU")), h("div", { class: "status" }, m.connected ? "online" : "reconnecting…")), h("div", { class: "acts" }, h("span", { class: `ready-mark${m.ready ? " on" : ""}`, "data-testid": "ready-mark", "data-ready": String(m.ready) }, m.ready ? "✔ READY" : "NOT READY"), iAmHost &&
        !you &&
        h("button", { class: "btn ghost small", type: "button", title: "Make host", "data-testid": "transfer", onclick: () => act(() => C().transferHost(m.user_id).then(() => setHost(m.user_id))) }, "Promote"), iAmHost &&
        !you &&
        h("button", {
            class: "btn ghost small",
            type: "button",
            title: "Kick",
            "data-testid": "kick",
            onclick: () => act(async () => {
                await C().kick(m.user_id);
                if (S.lobby)
                    S.lobby.members = S.lobby.members.filter((x) => x.user_id !== m.user_id);
                sys(`${m.name} was kicked`);
            }),
        }, "Kick")));
}
function chatPanel() {
    const input = h("input", { type: "text", id: "say", maxlength: 500, placeholder: "Say something…", autocomplete: "off", "data-testid": "chat-input" });
    return h("section", { class: "panel chat" }, h("h2", {}, "Chat"), h("div", { class: "log", id: "log", "data-testid": "chat-log" }), h("form", {
        class: "say",
        onsubmit: (e) => {
            e.preventDefault();
            const text = input.value.trim();
            if (!text)
                return;
            input.value = "";
            // Sent even while reconnecting: the client holds it until the socket is back.
            C()
                .chat(text)
                .catch((err) => toast(explain(err), "err"));
        },
    }, input, h("button", { class: "btn", type: "submit", "data-testid": "chat-send" }, "Send")));
}
function renderChatLog() {
    const log = document.getElementById("log");
    if (!log)
        return;
    const me = S.me?.user_id;
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    log.replaceChildren(...S.chat.map((c) => c.sys
        ? h("div", { class: "msg sys" }, c.text)
        : h("div", { class: `msg${c.from === me ? " mine" : ""}`, "data-testid": "chat-line" }, h("span", { class: "from", style: `color:${hue(c.from)}` }, c.name), c.text)));
    if (atBottom || S.chat.at(-1)?.from === me)
        log.scrollTop = log.scrollHeight;
}
// ---- boot ----
$("signout").addEventListener("click", () => {
    sessionStorage.removeItem("lobbyd.token");
    S.client?.close();
    location.reload();
});
const saved = sessionStorage.getItem("lobbyd.token");
if (saved) {
    // A reload keeps the player: the same token, a new connection (the
    // server keeps the lobby membership for a new session of the same user).
    start(saved).catch(() => {
        sessionStorage.removeItem("lobbyd.token");
        renderSignIn();
    });
}
else
    renderSignIn();
