// Baseline for bench/: Colyseus lobby rooms, written the way the Colyseus
// docs teach them (defineServer + defineRoom, a Room with a schema state,
// onMessage handlers, broadcast(..., { except: client }) for the relay, the
// default WebSocket transport, static onAuth with @colyseus/auth's JWT).
//
// The workload in Colyseus's own terms (every player speaks its SDK's
// protocol; bench/internal/client/colyseus.go):
//
//   POST /matchmake/create/lobby   {name, max_players}, Authorization: Bearer JWT
//   POST /matchmake/joinById/ID    {}                   -> seat reservation
//   WS   /PROCESS/ROOM?sessionId=  the seat: JOIN_ROOM, state, then messages
//   "send" bytes                   -> the other members get "data" {from, data}
//   LEAVE_ROOM                     leaves (and closes the room's connection)
//   GET /v1/lobbies?limit=20       matchMaker.query: public lobbies, newest first
//   GET /healthz, GET /metrics     (process_resident_memory_bytes only)
//
// A Colyseus client holds one WebSocket per room it is in: create and join
// open one, leave closes it. That is how Colyseus works, not a shortcut.
'use strict';

const { defineServer, defineRoom, Room, matchMaker, JWT } = require('colyseus');
const { schema, t } = require('@colyseus/schema');

const addr = process.env.ADDR || '127.0.0.1:2567';
const sep = addr.lastIndexOf(':');
const host = addr.slice(0, sep);
const port = Number(addr.slice(sep + 1));

// The members, synchronised to every member by Colyseus's state patches
// (the lobby's member list, as lobbyd sends it on join and leave).
const Player = schema({ id: t.string() });
const LobbyState = schema({ players: t.map(Player) });

class LobbyRoom extends Room {
  // Authentication happens at the matchmaking request (the seat
  // reservation), with the token the SDK sends as Authorization: Bearer.
  static async onAuth(token) {
    return await JWT.verify(token);
  }

  onCreate(options) {
    const name = typeof options.name === 'string' ? options.name : '';
    const max = Number.isInteger(options.max_players) ? options.max_players : 8;
    if (name.length < 1 || name.length > 64 || max < 2 || max > 256) throw new Error('bad_request');
    this.maxClients = max;
    this.state = new LobbyState();
    this.setMetadata({ name });
    this.onMessage('send', (client, data) => {
      if (!(data instanceof Uint8Array) || data.byteLength > 65536) return;
      this.broadcast('data', { from: client.auth.sub, data }, { except: client });
    });
  }

  onJoin(client, _options, auth) {
    const p = new Player();
    p.id = String(auth.sub);
    this.state.players.set(client.sessionId, p);
  }

  onLeave(client) {
    this.state.players.delete(client.sessionId);
  }
}

const server = defineServer({
  greet: false,
  rooms: { lobby: defineRoom(LobbyRoom) },
  express: (app) => {
    app.get('/v1/lobbies', async (req, res) => {
      const limit = req.query.limit === undefined ? 20 : Number(req.query.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
        return res.status(400).json({ error: { code: 'bad_request', msg: 'limit must be 1..100' } });
      }
      const rooms = await matchMaker.query({ name: 'lobby', private: false }, { createdAt: -1 });
      res.json({
        // The fields of lobbyd's LobbyView (without code) that Colyseus's
        // room cache holds: it keeps a count of clients, not the members,
        // so members is that count.
        lobbies: rooms.slice(0, limit).map((r) => ({
          id: r.roomId, name: r.metadata?.name, mode: '', region: '', visibility: 'public',
          has_password: false, locked: !!r.locked, state: 'open', max_players: r.maxClients,
          attrs: {}, data: {}, members: r.clients, created_at: r.createdAt,
        })),
        next_cursor: null,
      });
    });
    app.get('/healthz', (_req, res) => res.json({ ok: true }));
    app.get('/metrics', (_req, res) => {
      res.type('text/plain').send(`process_resident_memory_bytes ${process.memoryUsage().rss}\n`);
    });
  },
});

server.listen(port, host).then(() => {
  console.log(`colyseus baseline listening on ${host}:${port}`);
});
process.on('SIGTERM', () => process.exit(0));
