// Package examples holds runnable lobbyd clients, one program per
// directory: quickstart (the README's first client), chatbot (lobby events
// and chat) and matchpair (matchmaking and game-data relay). Its test
// builds each of them and runs it against a real shard, and checks that the
// README's snippet is the quickstart's code, so neither can drift from the
// server.
//
// The programs speak the wire protocol of docs/protocol.md with a generic
// WebSocket and MessagePack library, as a client in any language would;
// internal/miniclient is the little plumbing two of them share.
package examples
