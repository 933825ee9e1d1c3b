package lobbytest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/lobbyd/lobbyd/lobby"
	"github.com/lobbyd/lobbyd/protocol"
)

// NewStore makes an empty store that delivers to sink.
type NewStore func(t *testing.T, sink lobby.Sink) lobby.Store

// Run runs the whole suite against the stores newStore makes.
func Run(t *testing.T, newStore NewStore) {
	cases := []struct {
		name string
		fn   func(*harness)
	}{
		{"CreateAndViews", testCreateAndViews},
		{"CreateBounds", testCreateBounds},
		{"JoinByIDAndCode", testJoinByIDAndCode},
		{"JoinCheckOrder", testJoinCheckOrder},
		{"PrivateLobby", testPrivateLobby},
		{"LeaveAndHostMigration", testLeaveAndHostMigration},
		{"DisconnectHostMigration", testDisconnectHostMigration},
		{"LastMemberDeletes", testLastMemberDeletes},
		{"Kick", testKick},
		{"TransferHost", testTransferHost},
		{"UpdateFields", testUpdateFields},
		{"UpdateErrors", testUpdateErrors},
		{"Password", testPassword},
		{"SetMember", testSetMember},
		{"SetConnected", testSetConnected},
		{"Chat", testChat},
		{"Send", testSend},
		{"Start", testStart},
		{"Close", testClose},
		{"CreateMatch", testCreateMatch},
		{"CreateMatchErrors", testCreateMatchErrors},
		{"ListFilters", testListFilters},
		{"ListErrors", testListErrors},
		{"ListPagingWhileChanging", testListPaging},
		{"ListJSON", testListJSON},
		{"Concurrency", testConcurrency},
		{"ViewVersions", testViewVersions},
		{"Inspect", testInspect},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := NewRecorder()
			h := &harness{t: t, s: newStore(t, rec), rec: rec, ctx: t.Context()}
			c.fn(h)
			for _, p := range rec.Problems() {
				t.Errorf("sink contract: %s", p)
			}
		})
	}
}

type harness struct {
	t   *testing.T
	s   lobby.Store
	rec *Recorder
	ctx context.Context
}

func actor(user string) lobby.Actor { return lobby.Actor{UserID: user, Name: "N-" + user} }

func public(name string) protocol.CreateLobby {
	return protocol.CreateLobby{Name: name, MaxPlayers: 8, Visibility: protocol.VisibilityPublic}
}

func ptr[T any](v T) *T { return &v }

func (h *harness) create(user string, p protocol.CreateLobby) protocol.LobbyView {
	h.t.Helper()
	v, err := h.s.Create(h.ctx, actor(user), p)
	if err != nil {
		h.t.Fatalf("create by %s: %v", user, err)
	}
	return v
}

func (h *harness) join(user string, p protocol.JoinLobby) protocol.LobbyView {
	h.t.Helper()
	v, err := h.s.Join(h.ctx, actor(user), p)
	if err != nil {
		h.t.Fatalf("join by %s: %v", user, err)
	}
	return v
}

// lobbyWith creates a public lobby hosted by users[0] and joins the others,
// then forgets the events so far.
func (h *harness) lobbyWith(p protocol.CreateLobby, users ...string) protocol.LobbyView {
	h.t.Helper()
	v := h.create(users[0], p)
	for _, u := range users[1:] {
		h.join(u, protocol.JoinLobby{Code: v.Code, Password: p.Password})
	}
	h.rec.Take()
	return h.lobbyOf(users[0])
}

func (h *harness) lobbyOf(user string) protocol.LobbyView {
	h.t.Helper()
	v, ok, err := h.s.LobbyOf(h.ctx, user)
	if err != nil {
		h.t.Fatalf("LobbyOf(%s): %v", user, err)
	}
	if !ok {
		h.t.Fatalf("%s is in no lobby", user)
	}
	return v
}

func (h *harness) notInLobby(user string) {
	h.t.Helper()
	v, ok, err := h.s.LobbyOf(h.ctx, user)
	if err != nil {
		h.t.Fatalf("LobbyOf(%s): %v", user, err)
	}
	if ok {
		h.t.Fatalf("%s is still in lobby %s", user, v.ID)
	}
}

func codeOf(err error) protocol.Code {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	if err == nil {
		return ""
	}
	return "non-protocol error: " + protocol.Code(err.Error())
}

func (h *harness) wantCode(err error, code protocol.Code, what string) {
	h.t.Helper()
	if got := codeOf(err); got != code {
		h.t.Errorf("%s: got %q (%v), want %q", what, got, err, code)
	}
}

// ev is an expected event: Name and the set of recipients always, UserID
// and Reason when not empty.
type ev struct {
	Name   string
	To     []string
	UserID string
	Reason string
}

// expect takes every recorded event and compares it with want, in order.
func (h *harness) expect(want ...ev) []Rec {
	h.t.Helper()
	got := h.rec.Take()
	if len(got) != len(want) {
		h.t.Errorf("got %d events, want %d:\n got  %s\n want %v", len(got), len(want), describe(got), want)
		return got
	}
	for i, w := range want {
		g := got[i]
		to := slices.Clone(g.To)
		slices.Sort(to)
		wto := slices.Clone(w.To)
		slices.Sort(wto)
		if g.Name != w.Name || !slices.Equal(to, wto) ||
			(w.UserID != "" && g.UserID != w.UserID) || (w.Reason != "" && g.Reason != w.Reason) {
			h.t.Errorf("event %d: got %s, want %+v", i, describe(got[i:i+1]), w)
		}
	}
	return got
}

func describe(rs []Rec) string {
	s := "["
	for _, r := range rs {
		s += "{" + r.Name + " to=" + join(r.To) + " user=" + r.UserID + " reason=" + r.Reason + "} "
	}
	return s + "]"
}

func join(xs []string) string {
	s := ""
	for i, x := range xs {
		if i > 0 {
			s += ","
		}
		s += x
	}
	return s
}
