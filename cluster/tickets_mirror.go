package cluster

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/lobbyd/lobbyd/matchmaking"
)

// maxMirrorDelta is the most changes a Waiting applies; a mirror further
// behind reloads the whole queue (one ZRANGE).
const maxMirrorDelta = 2000

// queueWaitingScript: KEYS waiting, log; ARGV last applied log id ("" =
// none), maxMirrorDelta. Returns {"d", changes} when the log still holds
// every change after that id and there are at most maxMirrorDelta of them,
// else {"f", all members in order, id of the last change}: a snapshot and
// the log position it stands at, read in one step.
var queueWaitingScript = redis.NewScript(`
local function newer(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am > bm or (am == bm and as > bs)
end
if ARGV[1] ~= '' then
  local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
  if first and not newer(first[1], ARGV[1]) then
    local ch = redis.call('XRANGE', KEYS[2], '(' .. ARGV[1], '+', 'COUNT', tonumber(ARGV[2]) + 1)
    if #ch <= tonumber(ARGV[2]) then return {'d', ch} end
  end
end
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)[1]
return {'f', redis.call('ZRANGE', KEYS[1], 0, -1), last and last[1] or ''}`)

// queueMirror is a shard's copy of one queue, in the queue's order, kept
// current from the queue's change stream: a matcher pass costs one script
// that returns what changed since the last pass, not the whole queue.
type queueMirror struct {
	mu   sync.Mutex // one Waiting at a time per queue; guards the rest
	last string     // id of the last change applied; "" before the first load
	byID map[string]*mirrorTicket
	list []*mirrorTicket // by (CreatedAt, add order), with removed entries until compaction
	dead int             // removed entries in list
}

type mirrorTicket struct {
	t    matchmaking.Ticket
	seq  uint64 // add order within the queue
	dead bool
}

func (s *TicketStore) mirror(queue string) *queueMirror {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.mirrors[queue]
	if m == nil {
		m = &queueMirror{byID: make(map[string]*mirrorTicket)}
		s.mirrors[queue] = m
	}
	return m
}

// Waiting implements matchmaking.TicketStore: one script brings the
// shard's mirror of the queue up to date (the changes since the last pass,
// or the whole queue when too far behind), and the mirror is copied out.
func (s *TicketStore) Waiting(ctx context.Context, queue string, dst []matchmaking.Ticket) ([]matchmaking.Ticket, error) {
	dst = dst[:0]
	m := s.mirror(queue)
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := queueWaitingScript.Run(ctx, s.rdb, []string{s.ks.queueWaiting(queue), s.ks.queueLog(queue)},
		m.last, maxMirrorDelta).Slice()
	if err != nil {
		return dst, redisFailure("tickets: waiting", err)
	}
	if err := m.apply(r); err != nil {
		return dst, err
	}
	dst = slices.Grow(dst, len(m.byID))
	for _, e := range m.list {
		if !e.dead {
			dst = append(dst, e.t)
		}
	}
	return dst, nil
}

// apply brings the mirror to the script's answer.
func (m *queueMirror) apply(r []any) error {
	kind, _ := r[0].(string)
	switch {
	case kind == "f" && len(r) == 3:
		members, _ := r[1].([]any)
		m.last, _ = r[2].(string)
		clear(m.byID)
		clear(m.list)
		m.list, m.dead = m.list[:0], 0
		for _, x := range members {
			mem, _ := x.(string)
			if e := newMirrorTicket(mem); e != nil {
				m.byID[e.t.ID] = e
				m.list = append(m.list, e)
			}
		}
		return nil
	case kind == "d" && len(r) == 2:
		changes, _ := r[1].([]any)
		for _, x := range changes {
			entry, _ := x.([]any)
			if len(entry) != 2 {
				return fmt.Errorf("cluster: queue change %v", x)
			}
			id, _ := entry[0].(string)
			fields, _ := entry[1].([]any)
			if len(fields) == 2 {
				f, _ := fields[0].(string)
				v, _ := fields[1].(string)
				switch f {
				case "a":
					m.add(v)
				case "r":
					m.remove(v)
				}
			}
			m.last = id
		}
		return nil
	}
	return fmt.Errorf("cluster: waiting script answered %v", r[0])
}

// newMirrorTicket decodes a zset member; nil for one that does not decode
// (it stays out of matching; not ours to repair here).
func newMirrorTicket(member string) *mirrorTicket {
	t, err := decodeMember(member)
	if err != nil {
		return nil
	}
	seq, _ := strconv.ParseUint(member[:16], 16, 64)
	return &mirrorTicket{t: t, seq: seq}
}

func (a *mirrorTicket) compare(b *mirrorTicket) int {
	if c := cmp.Compare(a.t.CreatedAt, b.t.CreatedAt); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

func (m *queueMirror) add(member string) {
	e := newMirrorTicket(member)
	if e == nil {
		return
	}
	m.remove(e.t.ID) // a ticket put back (Service.restore) after its removal
	m.byID[e.t.ID] = e
	if n := len(m.list); n == 0 || m.list[n-1].compare(e) < 0 {
		m.list = append(m.list, e)
		return
	}
	i, _ := slices.BinarySearchFunc(m.list, e, (*mirrorTicket).compare)
	m.list = slices.Insert(m.list, i, e)
}

// remove marks a ticket removed; the list drops removed entries from its
// front at once and compacts when half of it is removed, so removal is
// amortised O(1), as in the memory store.
func (m *queueMirror) remove(id string) {
	e := m.byID[id]
	if e == nil {
		return
	}
	delete(m.byID, id)
	e.dead = true
	m.dead++
	i := 0
	for i < len(m.list) && m.list[i].dead {
		i++
	}
	if i > 0 {
		clear(m.list[:i])
		m.list = m.list[i:]
		m.dead -= i
	}
	if m.dead > 64 && m.dead*2 > len(m.list) {
		m.list = slices.DeleteFunc(m.list, func(x *mirrorTicket) bool { return x.dead })
		m.dead = 0
	}
}

// cachedQueue answers queueOfAll from the mirrors: the queue whose mirror
// holds every id, or "". A mirror is at most one pass old; a ticket it
// still holds that is gone makes the claim script refuse, as it should.
func (s *TicketStore) cachedQueue(ids []string) string {
	s.mu.Lock()
	ms := make([]*queueMirror, 0, len(s.mirrors))
	qs := make([]string, 0, len(s.mirrors))
	for q, m := range s.mirrors {
		ms, qs = append(ms, m), append(qs, q)
	}
	s.mu.Unlock()
	for i, m := range ms {
		if m.holds(ids) {
			return qs[i]
		}
	}
	return ""
}

func (m *queueMirror) holds(ids []string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range ids {
		if _, ok := m.byID[id]; !ok {
			return false
		}
	}
	return true
}
