package watch

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

// wait bounds every "eventually": long enough for a loaded machine.
const wait = 20 * time.Second

// stream runs w.Stream into a pipe and returns a reader of its events.
type stream struct {
	t      *testing.T
	events chan [2]string // event, data
	done   chan struct{}
}

func runStream(t *testing.T, w *Watcher) *stream {
	pr, pw := io.Pipe()
	s := &stream{t: t, events: make(chan [2]string, 4096), done: make(chan struct{})}
	go func() {
		bw := bufio.NewWriter(pw)
		w.Stream(bw, nil)
		pw.Close()
		close(s.done)
	}()
	go func() {
		defer close(s.events)
		sc := bufio.NewScanner(pr)
		sc.Buffer(nil, 1<<20)
		var ev, data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev != "" {
					s.events <- [2]string{ev, data}
				}
				ev, data = "", ""
			case strings.HasPrefix(line, "event: "):
				ev = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				data = line[len("data: "):]
			}
		}
	}()
	t.Cleanup(func() { pr.Close() })
	return s
}

func (s *stream) next() [2]string {
	s.t.Helper()
	select {
	case e, ok := <-s.events:
		if !ok {
			s.t.Fatal("stream ended")
		}
		return e
	case <-time.After(wait):
		s.t.Fatal("no event")
	}
	return [2]string{}
}

func (s *stream) sync() int {
	s.t.Helper()
	n := 0
	for {
		e := s.next()
		if e[0] == "synced" {
			return n
		}
		n++
	}
}

func newStore() *lobby.MemoryStore { return lobby.NewMemoryStore(nil, lobby.MemoryOptions{}) }

func create(t *testing.T, st *lobby.MemoryStore, user string) string {
	t.Helper()
	v, err := st.Create(context.Background(), lobby.Actor{UserID: user, Name: user},
		protocol.CreateLobby{Name: "l-" + user, MaxPlayers: 8, Visibility: protocol.VisibilityPublic})
	if err != nil {
		t.Fatal(err)
	}
	return v.ID
}

// Many changes of one lobby within a round reach a watcher as few events,
// the last of which shows the last state.
func TestCoalescesChangesOfOneLobby(t *testing.T) {
	st := newStore()
	h := New(st, Options{Coalesce: 200 * time.Millisecond})
	defer h.Close()
	create(t, st, "host")
	w, err := h.Add(lobby.ListQuery{})
	if err != nil {
		t.Fatal(err)
	}
	s := runStream(t, w)
	if n := s.sync(); n != 1 {
		t.Fatalf("initial list: %d lobbies", n)
	}
	const changes = 200
	for i := range changes {
		if _, err := st.Update(context.Background(), "host", protocol.UpdateLobby{Name: ptr(fmt.Sprintf("name %d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	for {
		e := s.next()
		got++
		if strings.Contains(e[1], fmt.Sprintf(`"name":"name %d"`, changes-1)) {
			break
		}
	}
	if got >= changes {
		t.Fatalf("%d changes gave %d events: not coalesced", changes, got)
	}
}

func ptr[T any](v T) *T { return &v }

// A watcher whose queue grows over MaxQueued (it is not read) gets
// event: overflow, and its stream ends.
func TestSlowWatcherOverflows(t *testing.T) {
	st := newStore()
	h := New(st, Options{MaxQueued: 2048, Coalesce: time.Millisecond})
	defer h.Close()
	w, err := h.Add(lobby.ListQuery{})
	if err != nil {
		t.Fatal(err)
	}
	// Nobody streams w yet: its queue only grows.
	for i := range 64 {
		create(t, st, fmt.Sprint("u", i))
	}
	deadline := time.Now().Add(wait)
	for {
		w.mu.Lock()
		state := w.state
		w.mu.Unlock()
		if state == stateOverflow {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the unread watcher never overflowed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	s := runStream(t, w)
	var last [2]string
	for e := range s.events {
		last = e
	}
	if last[0] != "overflow" {
		t.Fatalf("last event %v, want overflow", last)
	}
	<-s.done
	if n := h.Len(); n != 0 {
		t.Fatalf("%d streams open after the overflow", n)
	}
}

// A watcher is told of at most MaxTracked lobbies; one more is an
// overflow (the client reconnects for a fresh, limited list).
func TestTrackedBound(t *testing.T) {
	st := newStore()
	h := New(st, Options{MaxTracked: 3, Coalesce: time.Millisecond})
	defer h.Close()
	w, err := h.Add(lobby.ListQuery{})
	if err != nil {
		t.Fatal(err)
	}
	s := runStream(t, w)
	s.sync()
	for i := range 4 {
		create(t, st, fmt.Sprint("u", i))
	}
	var names []string
	for e := range s.events {
		names = append(names, e[0])
	}
	if len(names) == 0 || names[len(names)-1] != "overflow" || len(names) > 4 {
		t.Fatalf("events %v, want at most 3 lobbies then overflow", names)
	}
}

// MaxWatchers bounds Add; Close of a watcher that never streamed frees
// its place; Drain and Close end streams and refuse new ones.
func TestBoundsAndEnd(t *testing.T) {
	st := newStore()
	h := New(st, Options{MaxWatchers: 1})
	w, err := h.Add(lobby.ListQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Add(lobby.ListQuery{}); err != ErrFull {
		t.Fatalf("over MaxWatchers: %v", err)
	}
	w.Close()
	if _, err := h.Add(lobby.ListQuery{Limit: 500}); err == nil {
		t.Fatal("limit 500 accepted")
	}
	w, err = h.Add(lobby.ListQuery{})
	if err != nil {
		t.Fatal(err)
	}
	s := runStream(t, w)
	s.sync()
	h.Drain(0)
	select {
	case <-s.done:
	case <-time.After(wait):
		t.Fatal("drain did not end the stream")
	}
	if _, err := h.Add(lobby.ListQuery{}); err != ErrClosed {
		t.Fatalf("Add while draining: %v", err)
	}
	h.Close()
	if h.Len() != 0 {
		t.Fatalf("Len %d after close", h.Len())
	}
}

// resyncFeed is a ListingFeed whose index can be replaced, as the
// cluster's replica replaces its own after a rebuild.
type resyncFeed struct {
	mu  sync.Mutex
	idx *lobby.Index
	fn  func(string)
}

func (f *resyncFeed) ListingIndex() *lobby.Index {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.idx
}

func (f *resyncFeed) WatchListing(fn func(string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fn = fn
	f.idx.SetOnChange(fn)
}

type staticView struct{ json []byte }

func (v staticView) ListView() (protocol.LobbyView, bool) { return protocol.LobbyView{}, false }
func (v staticView) AppendViewJSON(dst []byte) ([]byte, bool) {
	return append(dst, v.json...), true
}

// A replaced index ends every stream (a full resend is a correct answer).
func TestResyncEndsStreams(t *testing.T) {
	f := &resyncFeed{idx: lobby.NewIndex()}
	h := New(f, Options{Coalesce: time.Millisecond})
	defer h.Close()
	f.idx.Put("a", 1, lobby.Listed{State: protocol.StateOpen, MaxPlayers: 2}, staticView{[]byte(`{"id":"a"}`)})
	w, err := h.Add(lobby.ListQuery{})
	if err != nil {
		t.Fatal(err)
	}
	s := runStream(t, w)
	if n := s.sync(); n != 1 {
		t.Fatalf("initial list %d", n)
	}
	f.mu.Lock()
	f.idx = lobby.NewIndex()
	f.idx.SetOnChange(f.fn)
	fn := f.fn
	f.mu.Unlock()
	fn("")
	// The stream ends; before, at most the put of "a" heard again.
	for e := range s.events {
		if e != [2]string{"lobby", `{"id":"a"}`} {
			t.Fatalf("event %v after a resync", e)
		}
	}
}

// countingView counts the JSON views read of it.
type countingView struct {
	staticView
	reads *atomic.Int32
}

func (v countingView) AppendViewJSON(dst []byte) ([]byte, bool) {
	v.reads.Add(1)
	return v.staticView.AppendViewJSON(dst)
}

// With nobody watching, a round reads no view (a view read as JSON stays
// cached in its lobby); once someone watches, changes come with theirs.
func TestRoundReadsNoViewUnwatched(t *testing.T) {
	f := &resyncFeed{idx: lobby.NewIndex()}
	h := New(f, Options{Coalesce: time.Millisecond})
	defer h.Close()
	var reads atomic.Int32
	put := func(id string) {
		f.idx.Put(id, 1, lobby.Listed{State: protocol.StateOpen, MaxPlayers: 2},
			countingView{staticView{[]byte(`{"id":"` + id + `"}`)}, &reads})
	}
	put("a")
	rounds := func() uint64 {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.roundNo
	}
	for deadline := time.Now().Add(wait); rounds() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no round")
		}
	}
	if n := reads.Load(); n != 0 {
		t.Fatalf("%d views read with nobody watching", n)
	}
	w, err := h.Add(lobby.ListQuery{})
	if err != nil {
		t.Fatal(err)
	}
	s := runStream(t, w)
	s.sync()
	put("b")
	if e := s.next(); e != [2]string{"lobby", `{"id":"b"}`} {
		t.Fatalf("event %v, want lobby b", e)
	}
}
