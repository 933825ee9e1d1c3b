package matchmaking

import "sync"

// QueueStats is one entry of GET /v1/queues.
type QueueStats struct {
	Name          string `json:"name" msgpack:"name"`
	Tickets       int    `json:"tickets" msgpack:"tickets"`
	Players       int    `json:"players" msgpack:"players"`
	OldestWaitMs  int64  `json:"oldest_wait_ms" msgpack:"oldest_wait_ms"`
	MatchesPerMin int    `json:"matches_per_min" msgpack:"matches_per_min"`
}

// rateWindow counts events over the last minute in one-second buckets: a
// sliding window accurate to a second, in constant memory.
type rateWindow struct {
	mu      sync.Mutex // guards the fields below
	buckets [60]int
	sec     [60]int64 // the unix second each bucket counts
}

func (r *rateWindow) add(nowMs int64, n int) {
	s := nowMs / 1000
	i := int(uint64(s) % 60)
	r.mu.Lock()
	if r.sec[i] != s {
		r.sec[i], r.buckets[i] = s, 0
	}
	r.buckets[i] += n
	r.mu.Unlock()
}

// perMinute is the count over the 60 seconds ending now.
func (r *rateWindow) perMinute(nowMs int64) int {
	s := nowMs / 1000
	n := 0
	r.mu.Lock()
	for i := range r.buckets {
		if age := s - r.sec[i]; age >= 0 && age < 60 {
			n += r.buckets[i]
		}
	}
	r.mu.Unlock()
	return n
}
