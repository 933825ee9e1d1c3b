package cluster

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Open connects to the Redis named by rawURL, in one of three forms:
//
//	redis://[user:password@]host:port[/db][?options]      one node (rediss:// for TLS)
//	redis+sentinel://[user:password@]host:port[/db]?master_name=NAME[&addr=host:port...]
//	redis+cluster://[user:password@]host:port[?addr=host:port...]
//
// (rediss+sentinel:// and rediss+cluster:// for TLS). The options are
// go-redis's URL options (dial_timeout, read_timeout, pool_size, ...).
// Open does not dial: the first command does.
func Open(rawURL string) (redis.UniversalClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	base, kind, _ := strings.Cut(u.Scheme, "+")
	if base != "redis" && base != "rediss" {
		return nil, fmt.Errorf("redis url: scheme %q: want redis, rediss, redis+sentinel or redis+cluster", u.Scheme)
	}
	u.Scheme = base
	plain := u.String()
	switch kind {
	case "":
		o, err := redis.ParseURL(plain)
		if err != nil {
			return nil, fmt.Errorf("redis url: %w", err)
		}
		return redis.NewClient(o), nil
	case "sentinel":
		o, err := redis.ParseFailoverURL(plain)
		if err != nil {
			return nil, fmt.Errorf("redis url: %w", err)
		}
		if o.MasterName == "" {
			return nil, fmt.Errorf("redis url: redis+sentinel needs ?master_name=NAME")
		}
		return redis.NewFailoverClient(o), nil
	case "cluster":
		o, err := redis.ParseClusterURL(plain)
		if err != nil {
			return nil, fmt.Errorf("redis url: %w", err)
		}
		return redis.NewClusterClient(o), nil
	}
	return nil, fmt.Errorf("redis url: scheme %q: want redis, rediss, redis+sentinel or redis+cluster", u.Scheme)
}
