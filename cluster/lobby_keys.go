package cluster

// The lobby store's keys (docs/cluster.md, "Keys"). Every key of one lobby
// carries the hash tag {l:ID}, so the commit script touches one slot.

// lobbyDoc is the lobby's hash: v version, o last event offset, d the
// lobby.Doc (msgpack), s the shards with members.
func (k Keyspace) lobbyDoc(id string) string { return k.tag("l", id, ":doc") }

// lobbyLog is the lobby's event log: a stream, entry id <offset>-1.
func (k Keyspace) lobbyLog(id string) string { return k.tag("l", id, ":log") }

// lobbyDeliveries is the lobby's delivery records: a stream of what each
// shard's sessions numbered from each message, field s the shard
// (deliveries.go). One key for every shard: a stream costs a few KiB
// before its first entries.
func (k Keyspace) lobbyDeliveries(id string) string { return k.tag("l", id, ":dl") }

// lobbyCode maps a code to its lobby id, unique cluster-wide (SET NX).
func (k Keyspace) lobbyCode(code string) string { return k.tag("c", code, "") }

// userLobby is the id of the user's lobby: a hint, checked against the
// lobby's document.
func (k Keyspace) userLobby(userID string) string { return k.tag("u", userID, "") }

// userLock is held while a user is added to a lobby.
func (k Keyspace) userLock(userID string) string { return k.tag("u", userID, ":lock") }

// lobbySeq gives creation sequences (listing order and cursors).
func (k Keyspace) lobbySeq() string { return k.Prefix + "{idx}:seq" }

// lobbiesCreated is a sorted set of every live lobby id by creation
// sequence: what the store's own List walks until the listing replica
// serves listings.
func (k Keyspace) lobbiesCreated() string { return k.Prefix + "{idx}:created" }

// shardChannel is the pub/sub channel of one shard.
func (k Keyspace) shardChannel(shardID string) string { return k.Prefix + "shard:" + shardID }
