package cluster

// Keyspace names the Redis keys of one cluster. Every key starts with
// Prefix (default DefaultPrefix), so several clusters, or parallel tests,
// can share one Redis. Each component adds its keys as methods in its own
// file; all of them go through tag so a group of keys shares a hash slot.
type Keyspace struct {
	Prefix string
}

// DefaultPrefix is the key prefix when none is configured.
const DefaultPrefix = "lobbyd:"

// NewKeyspace returns the keyspace of prefix ("" means DefaultPrefix).
func NewKeyspace(prefix string) Keyspace {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return Keyspace{Prefix: prefix}
}

// tag returns Prefix + "{" + kind + ":" + id + "}" + suffix: the hash tag
// {kind:id} puts every key of one object in one Redis Cluster slot.
func (k Keyspace) tag(kind, id, suffix string) string {
	return k.Prefix + "{" + kind + ":" + id + "}" + suffix
}
