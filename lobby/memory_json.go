package lobby

import (
	"context"

	gojson "github.com/goccy/go-json"
)

// AppendListJSON is List written as JSON (JSONLister): each lobby's public
// view is encoded once and kept until the lobby next changes, so a page of
// lobbies that did not change costs a copy per lobby and no garbage. A lobby
// whose view cannot be encoded (the validators keep NaN and infinities out,
// so this would be a bug) is left out of the page and logged once per
// change: one lobby must never make a page unanswerable.
func (s *MemoryStore) AppendListJSON(_ context.Context, dst []byte, q ListQuery) ([]byte, error) {
	q, before, err := CheckListQuery(q)
	if err != nil {
		return dst, err
	}
	cands := s.candidates(&q, before)
	next := ""
	if len(cands) > q.Limit {
		cands = cands[:q.Limit]
		next = EncodeCursor(cands[len(cands)-1].Seq)
	}
	dst = append(dst, `{"lobbies":[`...)
	first := true
	for _, l := range cands {
		l.mu.Lock()
		if !l.gone && l.Public() && !l.viewUnlistable {
			if l.viewJSON == nil {
				b, err := gojson.Marshal(l.View(false))
				if err != nil {
					l.viewUnlistable = true
					l.mu.Unlock()
					s.log.Error("lobby left out of listings: its view cannot be written as JSON", "lobby", l.ID, "err", err)
					continue
				}
				l.viewJSON = b
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, l.viewJSON...)
		}
		l.mu.Unlock()
	}
	dst = append(dst, `],"next_cursor":`...)
	if next == "" {
		return append(dst, "null}"...), nil
	}
	// A cursor is URL-safe base64: nothing in it needs escaping.
	dst = append(dst, '"')
	dst = append(dst, next...)
	return append(dst, `"}`...), nil
}
