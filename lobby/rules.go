package lobby

import (
	"slices"

	"github.com/lobbyd/lobbyd/protocol"
)

// Doc is one lobby's state with the rules that change it: the single place
// where the lobby rules of docs/protocol.md §3 that depend on a lobby's state are
// written. MemoryStore keeps a Doc per lobby under the lobby's lock; the
// Redis store (package cluster) decodes one, runs the same methods on it and
// commits the result. A store only finds the lobby, holds the lock (or the
// version) and files the changes in its own indexes.
//
// Every mutating method takes the Sink the events go to (out). Events are
// delivered synchronously, from a scratch Event and recipient slice the Doc
// reuses, so out must not keep them (the Sink contract). Events without
// recipients are dropped. A Doc is not safe for concurrent use.
//
// The exported fields are the lobby as stored (the msgpack tags are the
// cluster's encoding, see EncodeDoc); the unexported ones are per-process
// scratch and caches.
type Doc struct {
	ID         string          `msgpack:"id"`
	Code       string          `msgpack:"code"`
	Seq        uint64          `msgpack:"seq"` // creation sequence: listing order and cursor
	CreatedAt  int64           `msgpack:"ca"`
	Mode       string          `msgpack:"mode"`
	Region     string          `msgpack:"region"`
	Name       string          `msgpack:"name"`
	Host       string          `msgpack:"host"`
	Visibility string          `msgpack:"vis"`
	PW         *PasswordHash   `msgpack:"pw"` // nil: no password
	Locked     bool            `msgpack:"lk"`
	State      string          `msgpack:"st"`
	MaxPlayers int             `msgpack:"max"`
	Attrs      protocol.Attrs  `msgpack:"attrs"` // never mutated in place: views share it
	Data       protocol.RawMap `msgpack:"data,omitempty"`
	MatchID    string          `msgpack:"match"` // set by Start and for lobbies made by CreateMatch
	Members    []*DocMember    `msgpack:"m"`     // join order: Members[0] is the longest present
	// Version is the Event.Version of the last event emitted: views carry
	// it so that a session can tell which events a view shows.
	Version uint64 `msgpack:"ver"`

	// byID indexes Members once the lobby has more than memberIndexFrom
	// of them; nil below, where a search is as fast and a map would cost
	// an idle player about 25 bytes more (docs/architecture.md, "Memory
	// per idle player").
	byID    map[string]*DocMember
	send    *sendScratch // Send's scratch, made by the first Send
	sendGen uint64       // bumped per targeted Send, to drop duplicate ids in O(1)
	// viewJSON is the public view as JSON, built by a listing and dropped
	// by emit: every change to what the view shows emits an event.
	viewJSON []byte
	// viewUnlistable is set when the view could not be written as JSON:
	// listings skip the lobby (and log it once) until the next change.
	viewUnlistable bool
	// listing is the index the lobby is filed in when its store wants
	// view changes told to it (Index.Touch, the live lobby list): the
	// MemoryStore's; nil for the Redis store, whose listing hears of
	// every change through its OnPublicChange.
	listing *Index
}

// DocMember is one member of a Doc.
type DocMember struct {
	UserID    string `msgpack:"u"`
	Name      string `msgpack:"n"`
	Ready     bool   `msgpack:"r"`
	Connected bool   `msgpack:"c"`
	// Data is the member's data, nil until set. A pointer, not the
	// slice: a member is then 80 bytes, not 96, and every lobby copy
	// keeps one per member (docs/architecture.md, "Memory per idle
	// player"). Never mutated in place: views share it.
	Data     *protocol.RawMap `msgpack:"d,omitempty"`
	JoinedAt int64            `msgpack:"j"`
	// Shard is the shard the member's session is on (cluster only; "" in
	// a single process). Events to the member are delivered there.
	Shard string `msgpack:"s,omitempty"`

	sendMark uint64 // == Doc.sendGen while this member is already in a Send's to list
}

// NewDoc is a new open lobby with host as its only member, connected. p
// must have passed CheckCreate and host CheckActor; a password is hashed
// with pepper.
func NewDoc(id string, now int64, host Actor, shard string, p protocol.CreateLobby, pepper []byte) *Doc {
	d := newDoc(id, now, p.Name, p.Mode, p.Region, p.Visibility, protocol.StateOpen, p.MaxPlayers, 1)
	d.Attrs, d.Data = p.Attrs, p.Data
	if p.Password != "" {
		h := hashPassword(pepper, p.Password)
		d.PW = &h
	}
	d.add(host, now, shard)
	return d
}

// NewMatchDoc is the lobby CreateMatch makes: private, in_game,
// p.Members[0] its host, every member connected but those marked Offline.
// p must have passed CheckMatch. shards[i] is the shard of p.Members[i]
// (nil: all "").
func NewMatchDoc(id string, now int64, p MatchParams, shards []string) *Doc {
	d := newDoc(id, now, p.Name, p.Mode, p.Region, protocol.VisibilityPrivate, protocol.StateInGame, p.MaxPlayers, len(p.Members))
	d.Attrs, d.MatchID = protocol.Attrs{}, p.MatchID
	for i, a := range p.Members {
		shard := ""
		if shards != nil {
			shard = shards[i]
		}
		d.add(a, now, shard)
	}
	return d
}

// newDoc is a Doc with no members yet; the first one added is the host.
func newDoc(id string, now int64, name, mode, region, visibility, state string, maxPlayers, members int) *Doc {
	return &Doc{
		ID: id, CreatedAt: now, Name: name, Mode: mode, Region: region,
		Visibility: visibility, State: state, MaxPlayers: maxPlayers,
		Members: make([]*DocMember, 0, members),
	}
}

// memberIndexFrom is the member count above which a Doc keeps byID.
const memberIndexFrom = 16

func (d *Doc) add(a Actor, now int64, shard string) *DocMember {
	if len(d.Members) == 0 {
		d.Host = a.UserID
	}
	m := &DocMember{UserID: a.UserID, Name: a.Name, Connected: !a.Offline, JoinedAt: now, Shard: shard}
	d.Members = append(d.Members, m)
	if d.byID != nil {
		d.byID[m.UserID] = m
	} else if len(d.Members) > memberIndexFrom {
		d.reindex()
	}
	return m
}

// reindex rebuilds the member index (of a decoded Doc, of one that grew
// past memberIndexFrom).
func (d *Doc) reindex() {
	if len(d.Members) <= memberIndexFrom {
		d.byID = nil
		return
	}
	d.byID = make(map[string]*DocMember, len(d.Members))
	for _, m := range d.Members {
		d.byID[m.UserID] = m
	}
}

// Member is the member entry of userID; nil when not a member.
func (d *Doc) Member(userID string) *DocMember {
	if d.byID != nil {
		return d.byID[userID]
	}
	for _, m := range d.Members {
		if m.UserID == userID {
			return m
		}
	}
	return nil
}

// memberB is Member for an id in bytes, without converting it.
func (d *Doc) memberB(id []byte) *DocMember {
	if d.byID != nil {
		return d.byID[string(id)]
	}
	for _, m := range d.Members {
		if m.UserID == string(id) {
			return m
		}
	}
	return nil
}

// Public reports whether the lobby is listed and can be joined by id.
func (d *Doc) Public() bool { return d.Visibility == protocol.VisibilityPublic }

// sendScratch is what Send reuses for every message of a lobby that sends:
// its event and its recipients. Made by the first Send, so that an idle
// lobby holds neither (about 350 bytes, in every copy a cluster shard
// keeps: docs/architecture.md, "Memory per idle player"); the cold events
// (joins, leaves, updates) list their recipients in a slice of their own.
type sendScratch struct {
	ev Event
	to []string
}

// others lists every member but except, for a cold event.
func (d *Doc) others(except string) []string {
	to := make([]string, 0, len(d.Members))
	for _, m := range d.Members {
		if m.UserID != except {
			to = append(to, m.UserID)
		}
	}
	return to
}

// everyone lists every member, for a cold event.
func (d *Doc) everyone() []string {
	to := make([]string, 0, len(d.Members))
	for _, m := range d.Members {
		to = append(to, m.UserID)
	}
	return to
}

// emit hands one event to out. Events without recipients are dropped.
func (d *Doc) emit(out Sink, ev Event) {
	if ev.Name != protocol.EvChat {
		d.viewJSON, d.viewUnlistable = nil, false // before the early return: a change nobody hears of is still a change
		if d.listing != nil {
			d.listing.Touch(d.ID)
		}
	}
	if len(ev.To) == 0 {
		return
	}
	d.Version++
	ev.LobbyID, ev.Version = d.ID, d.Version
	// A cold event: its own copy (Send keeps a scratch for the hot one),
	// so that an idle lobby holds no 192-byte scratch.
	out.Deliver(&ev)
}

// data is m's data, nil when it has none.
func (m *DocMember) data() protocol.RawMap {
	if m.Data == nil {
		return nil
	}
	return *m.Data
}

// MemberView is m as clients see it.
func (d *Doc) MemberView(m *DocMember) protocol.Member {
	return protocol.Member{
		UserID:    m.UserID,
		Name:      m.Name,
		Ready:     m.Ready,
		Connected: m.Connected,
		IsHost:    m.UserID == d.Host,
		Data:      m.data(),
		JoinedAt:  m.JoinedAt,
	}
}

// View is the lobby as clients see it; withCode for members only.
func (d *Doc) View(withCode bool) protocol.LobbyView {
	v := protocol.LobbyView{
		ID:          d.ID,
		Name:        d.Name,
		Host:        d.Host,
		Mode:        d.Mode,
		Region:      d.Region,
		Visibility:  d.Visibility,
		HasPassword: d.PW != nil,
		Locked:      d.Locked,
		State:       d.State,
		MaxPlayers:  d.MaxPlayers,
		Attrs:       d.Attrs,
		Data:        d.Data,
		Members:     make([]protocol.Member, len(d.Members)),
		CreatedAt:   d.CreatedAt,
		Version:     d.Version,
	}
	if withCode {
		v.Code = d.Code
	}
	for i, m := range d.Members {
		v.Members[i] = d.MemberView(m)
	}
	return v
}

// CheckJoin decides whether a may join, in the order of docs/protocol.md §3:
// not_found (a private lobby named by id answers exactly like an absent
// one), already_in_lobby (inLobby: the user is a member of some lobby),
// lobby_locked, wrong_password, lobby_full.
func (d *Doc) CheckJoin(byID, inLobby bool, password string, pepper []byte) error {
	switch {
	case byID && !d.Public():
		return ErrNotFound
	case inLobby:
		return ErrAlreadyInLobby
	case d.Locked || d.State == protocol.StateInGame:
		return ErrLocked
	case d.PW != nil && (password == "" || len(password) > MaxPasswordBytes || !d.PW.Check(pepper, password)):
		return ErrWrongPassword
	case len(d.Members) >= d.MaxPlayers:
		return ErrFull
	}
	return nil
}

// Join adds a (CheckJoin passed) and tells the others.
func (d *Doc) Join(out Sink, a Actor, now int64, shard string) {
	m := d.add(a, now, shard)
	mv := d.MemberView(m)
	d.emit(out, Event{Name: protocol.EvMemberJoined, To: d.others(m.UserID), Member: &mv})
}

// Remove takes userID out and tells the others: lobby.member_left to
// everyone left but actor ("" when the user left by themselves), then, if
// the host left, lobby.host_changed to everyone left (the longest present
// member is the new host). It reports whether the lobby is now empty: the
// last member out deletes the lobby, and nobody is told.
func (d *Doc) Remove(out Sink, userID, reason, actor string) (empty bool) {
	for i, m := range d.Members {
		if m.UserID == userID {
			d.Members = slices.Delete(d.Members, i, i+1) // zeroes the freed slot
			break
		}
	}
	delete(d.byID, userID)
	if len(d.Members) == 0 {
		d.viewJSON, d.viewUnlistable = nil, false
		return true
	}
	d.emit(out, Event{Name: protocol.EvMemberLeft, To: d.others(actor), UserID: userID, Reason: reason})
	if d.Host == userID {
		d.Host = d.Members[0].UserID // members keep join order
		d.emit(out, Event{Name: protocol.EvHostChanged, To: d.everyone(), UserID: d.Host})
	}
	return false
}

// CheckHost: ErrNotHost unless userID is the host.
func (d *Doc) CheckHost(userID string) error {
	if d.Host != userID {
		return ErrNotHost
	}
	return nil
}

// checkTarget is the check order of the host's orders about another
// member: not_host, bad_request (the host themselves, with self), not_found.
func (d *Doc) checkTarget(hostID, targetID, self string) error {
	if err := d.CheckHost(hostID); err != nil {
		return err
	}
	if targetID == hostID {
		return badRequest(self)
	}
	if d.Member(targetID) == nil {
		return ErrUserNotFound
	}
	return nil
}

// Kick removes targetID on the host's order. The target gets lobby.kicked;
// the others (not the host) get lobby.member_left reason kicked.
func (d *Doc) Kick(out Sink, hostID, targetID string) error {
	if err := d.checkTarget(hostID, targetID, "the host cannot kick themselves"); err != nil {
		return err
	}
	d.emit(out, Event{Name: protocol.EvKicked, To: []string{targetID}})
	d.Remove(out, targetID, protocol.ReasonKicked, hostID)
	return nil
}

// TransferHost makes targetID the host.
func (d *Doc) TransferHost(out Sink, hostID, targetID string) error {
	if err := d.checkTarget(hostID, targetID, "already the host"); err != nil {
		return err
	}
	d.Host = targetID
	d.emit(out, Event{Name: protocol.EvHostChanged, To: d.others(hostID), UserID: targetID})
	return nil
}

// Update changes the fields present in p (which passed CheckUpdate) on the
// host's order: not_host, then max_players against the member count. An
// update with no field changes nothing and emits nothing. listed reports
// whether what listings filter on changed (max_players, visibility, attrs).
func (d *Doc) Update(out Sink, userID string, p protocol.UpdateLobby, pepper []byte) (v protocol.LobbyView, changed, listed bool, err error) {
	if err := d.CheckHost(userID); err != nil {
		return v, false, false, err
	}
	if p.MaxPlayers != nil {
		if err := checkMaxPlayers(*p.MaxPlayers, len(d.Members)); err != nil {
			return v, false, false, err
		}
	}
	if updateIsEmpty(p) {
		return d.View(true), false, false, nil
	}
	if p.Name != nil {
		d.Name = *p.Name
	}
	if p.MaxPlayers != nil {
		d.MaxPlayers = *p.MaxPlayers
	}
	if p.Visibility != nil {
		d.Visibility = *p.Visibility
	}
	if p.Password != nil {
		if *p.Password == "" {
			d.PW = nil
		} else {
			h := hashPassword(pepper, *p.Password)
			d.PW = &h
		}
	}
	if p.Locked != nil {
		d.Locked = *p.Locked
	}
	if p.Attrs != nil {
		d.Attrs = p.Attrs // a fresh map from checkAttrs: views of the old one stay valid
	}
	if p.Data != nil {
		d.Data = p.Data
	}
	v = d.View(true)
	ev := v
	d.emit(out, Event{Name: protocol.EvLobbyUpdated, To: d.others(userID), Lobby: &ev})
	return v, true, p.MaxPlayers != nil || p.Visibility != nil || p.Attrs != nil, nil
}

// SetMember changes userID's ready flag and/or data (p passed
// CheckSetMember). A body with no field changes nothing and emits nothing.
func (d *Doc) SetMember(out Sink, userID string, p protocol.SetMember) (mv protocol.Member, changed bool, err error) {
	m := d.Member(userID)
	if m == nil {
		return mv, false, ErrNotInLobby
	}
	if p.Ready == nil && p.Data == nil {
		return d.MemberView(m), false, nil
	}
	if p.Ready != nil {
		m.Ready = *p.Ready
	}
	if p.Data != nil {
		data := p.Data
		m.Data = &data
	}
	mv = d.MemberView(m)
	ev := mv
	d.emit(out, Event{Name: protocol.EvMemberUpdated, To: d.others(userID), Member: &ev})
	return mv, true, nil
}

// SetConnected marks userID (dis)connected; the state it already has
// emits nothing. A connect records shard as the member's shard (a player
// may resume on another shard). changed reports whether the Doc changed.
func (d *Doc) SetConnected(out Sink, userID string, connected bool, shard string) (changed bool) {
	m := d.Member(userID)
	if m == nil {
		return false
	}
	if connected && m.Shard != shard {
		m.Shard, changed = shard, true
	}
	if m.Connected == connected {
		return changed
	}
	m.Connected = connected
	mv := d.MemberView(m)
	d.emit(out, Event{Name: protocol.EvMemberUpdated, To: d.others(userID), Member: &mv})
	return true
}

// Chat sends lobby.chat to every member, the sender included (text passed
// CheckChat).
func (d *Doc) Chat(out Sink, userID, text string, now int64) {
	d.emit(out, Event{Name: protocol.EvChat, To: d.everyone(), From: userID, Text: text, TS: now})
}

// Start puts the lobby in_game with matchID; lobby.started goes to every
// member, the host included. A lobby already in_game: bad_request.
func (d *Doc) Start(out Sink, hostID, matchID string) error {
	if err := d.CheckHost(hostID); err != nil {
		return err
	}
	if d.State == protocol.StateInGame {
		return badRequest("the lobby is already in game")
	}
	d.State = protocol.StateInGame
	d.MatchID = matchID
	d.emit(out, Event{Name: protocol.EvStarted, To: d.everyone(), MatchID: matchID})
	return nil
}

// Close is the operator's close: one lobby.member_left {user_id: m,
// reason: closed} per member m, each to every member; then the Doc has no
// members.
func (d *Doc) Close(out Sink) {
	for _, m := range d.Members {
		d.emit(out, Event{Name: protocol.EvMemberLeft, To: d.everyone(), UserID: m.UserID, Reason: protocol.ReasonClosed})
	}
	d.Members, d.byID = nil, nil
}

// Send relays lobby.data, the hot path: no allocation in steady state. The
// recipients go into the scratch slice and the event is the scratch Event;
// member lookups by a []byte id use the map[string(b)] form, which the
// compiler does without converting.
//
// With to empty, everyone but the sender gets the data. Otherwise only the
// members named in to, each once; the sender and ids that are not members
// (they may have left a moment ago) are skipped. Nobody left: no event.
func (d *Doc) Send(out Sink, userID string, data []byte, to [][]byte) {
	if d.send == nil {
		d.send = new(sendScratch)
	}
	rcpt := d.send.to[:0]
	if len(to) == 0 {
		for _, m := range d.Members {
			if m.UserID != userID {
				rcpt = append(rcpt, m.UserID)
			}
		}
	} else {
		d.sendGen++ // a mark per member instead of a search: to may name 256 ids
		for _, id := range to {
			m := d.memberB(id)
			if m == nil || m.UserID == userID || m.sendMark == d.sendGen {
				continue
			}
			m.sendMark = d.sendGen
			rcpt = append(rcpt, m.UserID)
		}
	}
	d.send.to = rcpt
	if len(rcpt) == 0 {
		return
	}
	d.Version++
	ev := &d.send.ev
	ev.LobbyID, ev.Version, ev.Name, ev.To, ev.From, ev.Data = d.ID, d.Version, protocol.EvData, rcpt, userID, data
	out.Deliver(ev)
	*ev = Event{}
}

// Matches reports whether a listing query (which passed CheckListQuery)
// matches the lobby, exactly as an Index decides.
func (d *Doc) Matches(q *ListQuery) bool {
	it := indexItem{ls: d.Listed()}
	return d.Public() && it.matches(q)
}
