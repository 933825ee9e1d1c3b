package protocol

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// asUint normalises the library's integer types, which vary with the size
// of the encoded form, for comparison.
func asUint(t *testing.T, v any) uint64 {
	t.Helper()
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if rv.Int() < 0 {
			t.Fatalf("negative %v", v)
		}
		return uint64(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return rv.Uint()
	}
	t.Fatalf("%#v is not an integer", v)
	return 0
}

var rids = []uint32{0, 1, 127, 128, 255, 256, 65535, 65536, math.MaxUint32}

func TestAppendReplies(t *testing.T) {
	t.Parallel()
	for _, rid := range rids {
		prefix := []byte("keep")
		b := AppendReplyOK(append([]byte(nil), prefix...), rid)
		if !bytes.HasPrefix(b, prefix) {
			t.Fatal("AppendReplyOK lost the buffer's prefix")
		}
		m := decodeAny(t, b[len(prefix):])
		if asUint(t, m["rid"]) != uint64(rid) || m["ok"] != true || !reflect.DeepEqual(m["d"], map[string]any{}) || len(m) != 3 {
			t.Errorf("AppendReplyOK(%d) = %#v", rid, m)
		}

		for _, ms := range []int64{0, 1, 1700000000123, math.MaxInt64, -5, -200, -40000, -3000000000, math.MinInt64} {
			m = decodeAny(t, AppendPong(nil, rid, ms))
			d, _ := m["d"].(map[string]any)
			if asUint(t, m["rid"]) != uint64(rid) || m["ok"] != true || len(d) != 1 || len(m) != 3 {
				t.Errorf("AppendPong(%d, %d) = %#v", rid, ms, m)
			}
			var typed struct {
				D struct {
					T int64 `msgpack:"t"`
				} `msgpack:"d"`
			}
			if err := msgpack.Unmarshal(AppendPong(nil, rid, ms), &typed); err != nil || typed.D.T != ms {
				t.Errorf("AppendPong(%d): t = %d, %v", ms, typed.D.T, err)
			}
		}

		for _, msg := range []string{"", "lobby is full", strings.Repeat("m", 40), strings.Repeat("m", 300), strings.Repeat("m", 70000)} {
			m = decodeAny(t, AppendReplyErr(nil, rid, CodeLobbyFull, msg))
			want := map[string]any{"code": "lobby_full", "msg": msg}
			if asUint(t, m["rid"]) != uint64(rid) || m["ok"] != false || !reflect.DeepEqual(m["err"], want) || len(m) != 3 {
				t.Errorf("AppendReplyErr(%d, len %d) = %.200v", rid, len(msg), m)
			}
		}
	}
}

func TestAppendReplyValue(t *testing.T) {
	t.Parallel()
	view := LobbyView{ID: "L1", Name: "room", Host: "u1", Visibility: VisibilityPublic, State: StateOpen, MaxPlayers: 4,
		Attrs: Attrs{"mode": "ctf"}, Data: RawMap(enc(t, map[string]any{"x": 1})),
		Members: []Member{{UserID: "u1", Name: "Ann", IsHost: true, Connected: true, JoinedAt: 1700000000000}}, CreatedAt: 1700000000000}
	b, err := AppendReplyValue([]byte("p"), 42, LobbyReply{Lobby: view})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Rid uint32     `msgpack:"rid"`
		OK  bool       `msgpack:"ok"`
		D   LobbyReply `msgpack:"d"`
	}
	if err := msgpack.Unmarshal(b[1:], &got); err != nil {
		t.Fatal(err)
	}
	if got.Rid != 42 || !got.OK || !bytes.Equal(enc(t, got.D.Lobby), enc(t, view)) {
		t.Errorf("round trip: %+v\nwant %+v", got.D.Lobby, view)
	}
	if err := validate(b[1:], false); err != nil {
		t.Errorf("our own reply fails Validate: %v", err)
	}

	b, err = AppendReplyValue(nil, 1, nil)
	if err != nil || !reflect.DeepEqual(decodeAny(t, b)["d"], map[string]any{}) {
		t.Errorf("nil value: %x, %v", b, err)
	}
	keep := []byte("keep")
	b, err = AppendReplyValue(keep, 1, make(chan int))
	if err == nil || string(b) != "keep" {
		t.Errorf("unencodable value: %q, %v; want the buffer unchanged and an error", b, err)
	}
}

func TestEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		v    any
		into any // a pointer to a zero value of v's type
	}{
		{EvWelcome, WelcomeEv{SessionID: "s", UserID: "u", Name: "n", ResumeToken: "r", Shard: "a", HeartbeatMs: 15000}, &WelcomeEv{}},
		{EvWelcome, WelcomeEv{Resumed: true, Lobby: &LobbyView{ID: "L", Members: []Member{}}}, &WelcomeEv{}},
		{EvMemberJoined, MemberJoinedEv{Member: Member{UserID: "u2", Name: "Bo", Ready: true, JoinedAt: 5}}, &MemberJoinedEv{}},
		{EvMemberLeft, MemberLeftEv{UserID: "u2", Reason: ReasonKicked}, &MemberLeftEv{}},
		{EvLobbyUpdated, LobbyUpdatedEv{Lobby: LobbyView{ID: "L", Locked: true}}, &LobbyUpdatedEv{}},
		{EvMemberUpdated, MemberUpdatedEv{Member: Member{UserID: "u"}}, &MemberUpdatedEv{}},
		{EvKicked, KickedEv{LobbyID: "L"}, &KickedEv{}},
		{EvHostChanged, HostChangedEv{Host: "u3"}, &HostChangedEv{}},
		{EvChat, ChatEv{From: "u", Text: "gl hf", Ts: 1700000000000}, &ChatEv{}},
		{EvStarted, StartedEv{LobbyID: "L", MatchID: "M"}, &StartedEv{}},
		{EvQueued, QueuedEv{Ticket: Ticket{ID: "T", Queue: "duel", Members: []string{"u"}, Skill: 1.5, State: TicketQueued}}, &QueuedEv{}},
		{EvMatched, MatchedEv{TicketID: "T", MatchID: "M", Queue: "duel", Lobby: LobbyView{ID: "L", State: StateInGame}, Teams: [][]string{{"a"}, {"b"}}}, &MatchedEv{}},
		{EvTicketCancelled, TicketCancelledEv{TicketID: "T", Reason: ReasonTimeout}, &TicketCancelledEv{}},
		{EvServerDraining, DrainingEv{ReconnectAfterMs: 2500}, &DrainingEv{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := AppendEvent(nil, tt.name, tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if EventSeq(ev) != 0 {
				t.Errorf("fresh event has seq %d", EventSeq(ev))
			}
			SetEventSeq(ev, 1<<40+3)
			var env struct {
				Seq uint64             `msgpack:"seq"`
				Ev  string             `msgpack:"ev"`
				D   msgpack.RawMessage `msgpack:"d"`
			}
			if err := msgpack.Unmarshal(ev, &env); err != nil {
				t.Fatal(err)
			}
			if env.Seq != 1<<40+3 || EventSeq(ev) != env.Seq || env.Ev != tt.name {
				t.Errorf("envelope seq=%d ev=%q", env.Seq, env.Ev)
			}
			if err := msgpack.Unmarshal(env.D, tt.into); err != nil {
				t.Fatal(err)
			}
			// Compared encoded: a nil RawMap goes out as {} and comes back
			// as the bytes of {}, which encode the same.
			if got := reflect.ValueOf(tt.into).Elem().Interface(); !bytes.Equal(enc(t, got), enc(t, tt.v)) {
				t.Errorf("payload round trip:\n got %+v\nwant %+v", got, tt.v)
			}
			if err := validate(ev, false); err != nil {
				t.Errorf("Validate(own event) = %v", err)
			}
		})
	}
}

func TestNilRawMapEncodesEmptyMap(t *testing.T) {
	t.Parallel()
	b, err := AppendReplyValue(nil, 1, MemberReply{Member: Member{UserID: "u"}})
	if err != nil {
		t.Fatal(err)
	}
	member := decodeAny(t, b)["d"].(map[string]any)["member"].(map[string]any)
	if !reflect.DeepEqual(member["data"], map[string]any{}) {
		t.Errorf("data = %#v, want an empty map", member["data"])
	}
	if b := enc(t, RawMap(nil)); !bytes.Equal(b, []byte{0x80}) {
		t.Errorf("msgpack.Marshal(RawMap(nil)) = %x, want 80", b)
	}
}

func TestWelcomeNilLobby(t *testing.T) {
	t.Parallel()
	ev, err := AppendEvent(nil, EvWelcome, WelcomeEv{UserID: "u"})
	if err != nil {
		t.Fatal(err)
	}
	d := decodeAny(t, ev)["d"].(map[string]any)
	if v, ok := d["lobby"]; !ok || v != nil {
		t.Errorf("lobby = %#v, %v; want present and nil", v, ok)
	}
}

func TestAppendDataEvent(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 255, 256, 65535, 65536} {
		data := bytes.Repeat([]byte{7}, n)
		for _, from := range []string{"u", strings.Repeat("f", 64)} {
			ev := AppendDataEvent([]byte("xx"), from, data)[2:]
			SetEventSeq(ev, 9)
			m := decodeAny(t, ev)
			want := map[string]any{"from": from, "data": data}
			if asUint(t, m["seq"]) != 9 || m["ev"] != EvData || !reflect.DeepEqual(m["d"], want) {
				t.Errorf("AppendDataEvent(len %d) = %.100v", n, m)
			}
			var typed DataEv
			raw := decodeAny(t, ev)["d"]
			if b, err := msgpack.Marshal(raw); err != nil || msgpack.Unmarshal(b, &typed) != nil || typed.From != from || !bytes.Equal(typed.Data, data) {
				t.Errorf("DataEv round trip failed: %v", err)
			}
		}
	}
}

func TestEventSeqOnOtherBytes(t *testing.T) {
	t.Parallel()
	for _, b := range [][]byte{nil, {0x83}, AppendReplyOK(nil, 1), appendEventHeader(nil, "x")[:13]} {
		if isEvent(b) || EventSeq(b) != 0 {
			t.Errorf("isEvent(%x) true", b)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("SetEventSeq on a reply did not panic")
		}
	}()
	SetEventSeq(AppendReplyOK(nil, 1), 1)
}

func TestSetEventSeqAlias(t *testing.T) {
	t.Parallel()
	ev := AppendDataEvent(nil, "u", nil)
	SetEventSeq(ev, 77)
	if EventSeq(ev) != 77 {
		t.Errorf("SetEventSeq: seq = %d", EventSeq(ev))
	}
}

// The hand-written encoders do not allocate when the buffer has room.
func TestEncodersAllocs(t *testing.T) {
	buf := make([]byte, 0, 512)
	data := make([]byte, 64)
	ev := AppendDataEvent(nil, "u", data)
	tests := []struct {
		name string
		f    func()
	}{
		{"AppendReplyOK", func() { buf = AppendReplyOK(buf[:0], 7) }},
		{"AppendPong", func() { buf = AppendPong(buf[:0], 7, 1700000000000) }},
		{"AppendReplyErr", func() { buf = AppendReplyErr(buf[:0], 7, CodeRateLimited, "slow down") }},
		{"AppendDataEvent", func() { buf = AppendDataEvent(buf[:0], "user-1", data) }},
		{"SetEventSeq", func() { SetEventSeq(ev, 5) }},
	}
	for _, tt := range tests {
		if a := testing.AllocsPerRun(100, tt.f); a != 0 {
			t.Errorf("%s: %v allocs/op, want 0", tt.name, a)
		}
	}
}

// The exported writers encode as the msgpack library does (smallest
// form), at every size boundary.
func TestExportedWritersMatchTheLibrary(t *testing.T) {
	for _, n := range []int{0, 15, 16, 65535, 65536} {
		want, err := msgpack.Marshal(make([]struct{}, n))
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendArrayHeader(nil, n); !bytes.Equal(got, want[:len(got)]) {
			t.Errorf("array header of %d: % x, want % x", n, got, want[:len(got)])
		}
	}
	for _, n := range []int{0, 31, 32, 255, 256, 65535, 65536} {
		s := strings.Repeat("x", n)
		want, _ := msgpack.Marshal(s)
		if got := AppendString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("string of %d bytes differs", n)
		}
	}
	for _, u := range []uint64{0, 127, 128, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, 1<<64 - 1} {
		var buf bytes.Buffer
		enc := msgpack.NewEncoder(&buf)
		enc.UseCompactInts(true)
		if err := enc.EncodeUint(u); err != nil {
			t.Fatal(err)
		}
		if got := AppendUint(nil, u); !bytes.Equal(got, buf.Bytes()) {
			t.Errorf("uint %d: % x, want % x", u, got, buf.Bytes())
		}
	}
}
