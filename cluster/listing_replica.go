package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/lobby"
)

// The replica: one goroutine per shard loads the hash into a fresh
// lobby.Index, reads the log from the position the hash was taken at up to
// its head, swaps the index in, then follows the log with XREAD BLOCK.
// Log entries have ids <n>-1, n = 1, 2, 3, ... (INCR {idx}:n in the write
// script), so a replica knows the next id it must see: any other means the
// log was trimmed past it (it fell more than MaxLog behind) and it
// rebuilds. Every entry carries the listing's generation ({idx}:gen, set
// by the first write after the keys were lost); a different one means
// Redis lost the listing (restarted empty) and it rebuilds too, as it does
// when an idle check finds {idx}:n behind its position (Redis went back in
// time: failover to a stale replica, restore from an old snapshot).

// apply puts one record into idx unless idx holds the lobby at the same
// or a newer version, and keeps the cached view of a lobby that pages
// show up to date (the record carries it: no read later). It reports
// whether idx changed.
func (l *Listing) apply(idx *lobby.Index, id string, r *listingRecord) bool {
	src, _, held := idx.Source(id)
	if held && src.(*replicaEntry).version >= r.version {
		return false
	}
	if r.removed {
		if held {
			idx.Remove(id)
		}
		l.views.remove(id)
		return held
	}
	idx.Put(id, r.seq, r.listed, &replicaEntry{l: l, id: id, version: r.version})
	l.views.refresh(id, r.version, func() (string, bool) { return viewOfPayload(r.payload) })
	return true
}

// Start loads the listing and follows it until ctx ends or Close. Ready
// turns true once the first load has caught up with the log.
func (l *Listing) Start(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started {
		return errors.New("cluster: listing already started")
	}
	l.started = true
	ctx, l.cancel = context.WithCancel(ctx)
	l.done = make(chan struct{})
	go l.run(ctx)
	return nil
}

// Close stops the replica and waits for it, at most Block: a blocked XREAD
// is not interrupted by its context. The last index stays readable.
func (l *Listing) Close() error {
	l.mu.Lock()
	cancel, done := l.cancel, l.done
	l.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	return nil
}

// Await waits until the replica has loaded and applied log position n (a
// Write's result), or ctx ends.
func (l *Listing) Await(ctx context.Context, n uint64) error {
	for {
		l.mu.Lock()
		moved := l.moved
		l.mu.Unlock()
		if l.ready.Load() && l.pos.Load() >= n {
			return nil
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (l *Listing) setPos(n uint64) {
	l.pos.Store(n)
	l.mu.Lock()
	close(l.moved)
	l.moved = make(chan struct{})
	l.mu.Unlock()
}

// errRebuild: the replica cannot continue from its position.
type errRebuild struct{ why string }

func (e errRebuild) Error() string { return "listing must be rebuilt: " + e.why }

// Retry pauses after a Redis failure, doubling up to the ceiling.
const (
	listingRetryMin = 50 * time.Millisecond
	listingRetryMax = 2 * time.Second
)

func (l *Listing) run(ctx context.Context) {
	defer close(l.done)
	rebuild, pause := true, listingRetryMin
	for ctx.Err() == nil {
		var err error
		if rebuild {
			if err = l.rebuild(ctx); err == nil {
				rebuild = false
			}
		} else {
			err = l.follow(ctx)
		}
		if err == nil || ctx.Err() != nil {
			continue
		}
		var rb errRebuild
		if errors.As(err, &rb) {
			l.log.Warn("listing: rebuilding from the hash", "why", rb.why)
			rebuild = true
			continue
		}
		l.health.Store(&err)
		l.log.Warn("listing: redis failed, retrying", "err", err, "in", pause)
		select {
		case <-time.After(pause):
		case <-ctx.Done():
		}
		pause = min(2*pause, listingRetryMax)
		continue
	}
}

// maxScanSteps bounds the HSCAN of one rebuild (1000 entries a step): far
// above any listing that fits a Redis.
const maxScanSteps = 1 << 20

// rebuild loads the hash into a fresh index, catches it up with the log
// and swaps it in.
func (l *Listing) rebuild(ctx context.Context) error {
	gen, n, err := l.head(ctx)
	if err != nil {
		return err
	}
	idx := lobby.NewIndex()
	views := l.ks.listingViews()
	var cursor uint64
	for step := 0; ; step++ {
		if step == maxScanSteps {
			return errors.New("listing: hash scan does not end")
		}
		kv, next, err := l.rdb.HScan(ctx, views, cursor, "", 1000).Result()
		if err != nil {
			return fmt.Errorf("listing: scan: %w", err)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			r, err := parseRecord(kv[i+1], false)
			if err != nil || r.removed {
				l.log.Error("listing: bad hash entry skipped", "lobby", kv[i], "err", err)
				continue
			}
			l.apply(idx, kv[i], &r)
		}
		if next == 0 {
			break
		}
		cursor = next
	}
	// Entries written since (gen, n) were read are in the hash scan or
	// not; replaying them is idempotent (versions), and it removes what
	// was deleted during the scan. Serve only once caught up.
	pos := n
	for {
		got, err := l.read(ctx, idx, &gen, &pos, -1)
		if err != nil {
			return err
		}
		if got == 0 {
			break
		}
	}
	l.gen = gen
	// Cached views are kept by version, but a rebuild may follow a Redis
	// that lost the listing: start afresh.
	l.views.clear()
	l.mu.Lock() // WatchListing sets the callback of the index it finds
	fn := l.onChange
	if fn != nil {
		idx.SetOnChange(fn)
	}
	l.index.Store(idx)
	l.mu.Unlock()
	if fn != nil {
		fn("") // every lobby may differ from what the old index held
	}
	l.health.Store(nil)
	l.ready.Store(true) // before setPos: Await's callers may list at once
	l.setPos(pos)
	l.log.Info("listing: loaded", "lobbies", idx.Len(), "position", pos)
	return nil
}

// head reads the generation and the last log position in one MULTI (one
// slot).
func (l *Listing) head(ctx context.Context) (gen string, n uint64, err error) {
	var g, c *redis.StringCmd
	_, err = l.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		g = p.Get(ctx, l.ks.listingGen())
		c = p.Get(ctx, l.ks.listingN())
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return "", 0, fmt.Errorf("listing: head: %w", err)
	}
	gen = g.Val()
	if s := c.Val(); s != "" {
		if n, err = strconv.ParseUint(s, 10, 64); err != nil {
			return "", 0, fmt.Errorf("listing: head: %q: %w", s, err)
		}
	}
	return gen, n, nil
}

// follow tails the log into the served index until an error.
func (l *Listing) follow(ctx context.Context) error {
	idx := l.index.Load()
	gen, pos := l.gen, l.pos.Load()
	for ctx.Err() == nil {
		got, err := l.read(ctx, idx, &gen, &pos, l.opts.Block)
		if err != nil {
			return err
		}
		l.health.Store(nil)
		if got > 0 {
			l.gen = gen
			l.setPos(pos)
			continue
		}
		// Idle: did Redis lose the listing or go back in time?
		g, n, err := l.head(ctx)
		if err != nil {
			return err
		}
		if g != gen {
			return errRebuild{"the listing's generation changed (redis restarted empty?)"}
		}
		if n < pos {
			return errRebuild{fmt.Sprintf("redis is at log position %d, behind this replica's %d", n, pos)}
		}
	}
	return nil
}

// read applies one XREAD of the log after *pos to idx (block < 0: do not
// block) and advances *pos. It returns how many entries it applied; 0
// after a block timeout.
func (l *Listing) read(ctx context.Context, idx *lobby.Index, gen *string, pos *uint64, block time.Duration) (int, error) {
	res, err := l.rdb.XRead(ctx, &redis.XReadArgs{
		Streams: []string{l.ks.listingLog(), strconv.FormatUint(*pos, 10) + "-1"},
		Count:   l.opts.Batch,
		Block:   block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("listing: read log: %w", err)
	}
	got := 0
	for _, s := range res {
		for _, m := range s.Messages {
			ns, _, _ := strings.Cut(m.ID, "-")
			n, err := strconv.ParseUint(ns, 10, 64)
			if err != nil {
				return got, errRebuild{"log entry id " + m.ID + " is not <n>-1"}
			}
			if n != *pos+1 {
				return got, errRebuild{fmt.Sprintf("log entry %d follows %d (trimmed past this replica)", n, *pos)}
			}
			g, _ := m.Values["g"].(string)
			if *gen == "" {
				*gen = g
			} else if g != *gen {
				return got, errRebuild{"log entry of another generation (redis restarted empty?)"}
			}
			id, _ := m.Values["i"].(string)
			rs, _ := m.Values["r"].(string)
			if r, err := parseRecord(rs, false); err != nil || id == "" {
				l.log.Error("listing: bad log entry skipped", "entry", m.ID, "err", err)
			} else {
				l.apply(idx, id, &r)
			}
			*pos = n
			got++
		}
	}
	l.applied.Add(uint64(got))
	return got, nil
}
