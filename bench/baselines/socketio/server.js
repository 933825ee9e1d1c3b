// Baseline for bench/: an Express + Socket.IO lobby relay, written the way
// lobby tutorials teach it (rooms via socket.join, relay via
// socket.to(room).emit). It speaks the same workload as lobbyd in Socket.IO's
// own terms:
//
//   connect   /socket.io/?EIO=4&transport=websocket&user=ID   (trivial auth)
//   "create" {name, max_players}  ack -> {ok, lobby: {id, ...}}
//   "join"   {lobby_id}           ack -> {ok, lobby} | {ok:false, err:{code}}
//   "leave"  {}                   ack -> {ok}
//   "send"   data (string)        -> others get "data" (from, data)
//   "chat"   text (string)        -> every member, the sender too, gets "chat" (from, text)
//   GET /v1/lobbies?limit=20      public lobbies, newest first
//   GET /metrics                  process_resident_memory_bytes only
//
// Bounds: names 1..64 chars, max_players 2..256, limit 1..100, 64 KiB messages.
//
// With REDIS_URL set, processes share rooms through @socket.io/redis-adapter
// as its README sets it up (node-redis pub and sub clients): socket.to(room)
// reaches the room's members on every process. A lobby's name and size live
// on the process that made it; a join checks the lobby across processes with
// io.in(room).fetchSockets() (the adapter asks the others), lobbies being of
// 8 there (CLUSTER_LOBBY).
'use strict';

const http = require('http');
const express = require('express');
const { Server } = require('socket.io');

const addr = process.env.ADDR || '127.0.0.1:3000';
const sep = addr.lastIndexOf(':');
const host = addr.slice(0, sep);
const port = Number(addr.slice(sep + 1));

const CLUSTER_LOBBY = 8;
const clustered = !!process.env.REDIS_URL;

const app = express();
const server = http.createServer(app);
const io = new Server(server, {
  maxHttpBufferSize: 65536,
  serveClient: false,
  cors: { origin: '*' },
});

if (clustered) {
  const { createClient } = require('redis');
  const { createAdapter } = require('@socket.io/redis-adapter');
  const pubClient = createClient({ url: process.env.REDIS_URL });
  const subClient = pubClient.duplicate();
  pubClient.on('error', (err) => console.error('redis', err.message));
  subClient.on('error', (err) => console.error('redis', err.message));
  Promise.all([pubClient.connect(), subClient.connect()]).then(() => {
    io.adapter(createAdapter(pubClient, subClient, { key: process.env.REDIS_PREFIX || 'socket.io' }));
    listen();
  });
}

// lobbies: id -> {id, name, host, max, members: Map(user -> joined at), createdAt}.
// order keeps ids in creation order so a listing walks from the newest end
// without sorting; deleted ids are skipped and compacted away now and then.
const lobbies = new Map();
let order = [];
let nextId = 1;
// Lobby ids are unique across processes.
const idPrefix = 'l' + process.pid.toString(36) + '-';

// view carries the fields of lobbyd's LobbyView (without code) and Member,
// so a listing or a join reply is the same work as lobbyd's: a client reads
// the same fields from each server. A player's name is its user id.
function view(l) {
  const members = [];
  for (const [u, joinedAt] of l.members) {
    members.push({
      user_id: u, name: u, ready: false, connected: true, is_host: u === l.host, data: {}, joined_at: joinedAt,
    });
  }
  return {
    id: l.id, name: l.name, host: l.host, mode: '', region: '', visibility: 'public',
    has_password: false, locked: false, state: 'open', max_players: l.max, attrs: {}, data: {},
    members, created_at: l.createdAt,
  };
}

function leaveCurrent(socket) {
  const id = socket.data.lobby;
  if (!id) return;
  socket.data.lobby = null;
  socket.leave(id);
  const l = lobbies.get(id);
  if (!l) {
    if (clustered) socket.to(id).emit('left', socket.data.user); // a lobby of another process
    return;
  }
  l.members.delete(socket.data.user);
  if (l.members.size === 0) {
    lobbies.delete(id);
    if (order.length > 2 * lobbies.size + 1024) order = order.filter((x) => lobbies.has(x));
  } else {
    socket.to(id).emit('left', socket.data.user);
  }
}

function fail(ack, code) {
  if (typeof ack === 'function') ack({ ok: false, err: { code } });
}

io.use((socket, next) => {
  const user = socket.handshake.query.user;
  if (typeof user !== 'string' || user.length < 1 || user.length > 64) return next(new Error('unauthorized'));
  socket.data.user = user;
  socket.data.lobby = null;
  next();
});

io.on('connection', (socket) => {
  socket.on('create', (d, ack) => {
    if (typeof ack !== 'function' || !d || typeof d !== 'object') return;
    const name = typeof d.name === 'string' ? d.name : '';
    let max = Number.isInteger(d.max_players) ? d.max_players : 8;
    if (name.length < 1 || name.length > 64 || max < 2 || max > 256) return fail(ack, 'bad_request');
    if (socket.data.lobby) return fail(ack, 'already_in_lobby');
    if (clustered) max = CLUSTER_LOBBY;
    const id = idPrefix + (nextId++);
    const now = Date.now();
    const l = { id, name, host: socket.data.user, max, members: new Map([[socket.data.user, now]]), createdAt: now };
    lobbies.set(id, l);
    order.push(id);
    socket.join(id);
    socket.data.lobby = id;
    ack({ ok: true, lobby: view(l) });
  });

  socket.on('join', async (d, ack) => {
    if (typeof ack !== 'function' || !d || typeof d !== 'object') return;
    if (typeof d.lobby_id !== 'string' || d.lobby_id.length > 64) return fail(ack, 'bad_request');
    if (socket.data.lobby) return fail(ack, 'already_in_lobby');
    const l = lobbies.get(d.lobby_id);
    if (clustered) {
      // Members may be on any process: ask the adapter. The check and the
      // join are not atomic; the bench never fills a lobby past its size.
      let n;
      try {
        n = (await io.in(d.lobby_id).fetchSockets()).length;
      } catch (e) {
        return fail(ack, 'internal');
      }
      if (n === 0) return fail(ack, 'not_found');
      if (n >= CLUSTER_LOBBY) return fail(ack, 'lobby_full');
      if (socket.data.lobby || !socket.connected) return fail(ack, 'already_in_lobby');
      if (l) l.members.set(socket.data.user, Date.now());
      socket.join(d.lobby_id);
      socket.data.lobby = d.lobby_id;
      socket.to(d.lobby_id).emit('joined', socket.data.user);
      return ack({ ok: true, lobby: { id: d.lobby_id } });
    }
    if (!l) return fail(ack, 'not_found');
    if (l.members.size >= l.max) return fail(ack, 'lobby_full');
    l.members.set(socket.data.user, Date.now());
    socket.join(l.id);
    socket.data.lobby = l.id;
    socket.to(l.id).emit('joined', socket.data.user);
    ack({ ok: true, lobby: view(l) });
  });

  socket.on('leave', (_d, ack) => {
    if (!socket.data.lobby) return fail(ack, 'not_in_lobby');
    leaveCurrent(socket);
    if (typeof ack === 'function') ack({ ok: true });
  });

  socket.on('send', (data) => {
    const id = socket.data.lobby;
    if (!id || (typeof data !== 'string' && !Buffer.isBuffer(data))) return;
    socket.to(id).emit('data', socket.data.user, data);
  });

  socket.on('chat', (text) => {
    const id = socket.data.lobby;
    if (!id || typeof text !== 'string' || text.length > 256) return;
    io.to(id).emit('chat', socket.data.user, text);
  });

  socket.on('disconnect', () => leaveCurrent(socket));
});

app.get('/v1/lobbies', (req, res) => {
  const limit = req.query.limit === undefined ? 20 : Number(req.query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
    return res.status(400).json({ error: { code: 'bad_request', msg: 'limit must be 1..100' } });
  }
  const out = [];
  for (let i = order.length - 1; i >= 0 && out.length < limit; i--) {
    const l = lobbies.get(order[i]);
    if (l) out.push(view(l));
  }
  res.json({ lobbies: out, next_cursor: null });
});

app.get('/healthz', (_req, res) => res.json({ ok: true }));

app.get('/metrics', (_req, res) => {
  res.type('text/plain').send(`process_resident_memory_bytes ${process.memoryUsage().rss}\n`);
});

function listen() {
  server.listen(port, host, () => {
    console.log(`socketio baseline listening on ${host}:${port}${clustered ? ' (redis adapter)' : ''}`);
  });
}
if (!clustered) listen();
process.on('SIGTERM', () => process.exit(0));
