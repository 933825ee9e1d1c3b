// Package cluster is everything shards share through Redis: the lobby store
// with its event logs and cross-shard delivery, the public listing replica,
// sessions for resume on any shard, the ticket store, the shard registry and
// the matcher leases. The design, every key and what each operation costs in
// Redis commands are in docs/cluster.md.
//
// Nothing here holds state only in memory: what a shard keeps locally (the
// followed lobbies' last offsets and cached documents, the listing replica) is
// a cache of Redis that a shard can always rebuild.
//
// Every key starts with a Keyspace prefix, and every key of one lobby (queue,
// user, session) shares one hash tag, so each Lua script touches a single
// slot and the same code runs on one Redis node, Sentinel, or Redis Cluster.
//
// Concurrency: every exported type is safe for concurrent use. Locks:
// docs/locks.md.
package cluster
