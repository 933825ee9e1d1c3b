package lobby

import (
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/lobbyd/lobbyd/protocol"
)

// Bounds of docs/protocol.md §3, including the ones this package added where
// the original contract was silent (see doc.go). The attrs bounds are protocol's
// (MaxAttrs, MaxAttrKeyBytes, MaxAttrStringBytes): ValidateAttrs checks them.
const (
	MaxNameRunes        = 64
	MinPlayers          = 2
	MaxPlayers          = 256
	MaxChatRunes        = 500
	MaxDataBytes        = 4096 // lobby or member data, encoded
	MaxTagBytes         = 64   // mode, region
	MaxPasswordBytes    = 128
	MaxUserIDBytes      = 64
	MaxDisplayNameRunes = 32
	DefaultListLimit    = 20
	MaxListLimit        = 100
)

// The pure checks below are shared by every Store implementation. Each
// returns a normalised copy that the store may keep: maps and bytes are
// copied so the caller's buffers can be reused.

// CheckActor validates a and fills an empty Name with DefaultName.
func CheckActor(a Actor) (Actor, error) {
	if err := checkUserID(a.UserID); err != nil {
		return a, err
	}
	if a.Name == "" {
		a.Name = DefaultName(a.UserID)
	}
	if !utf8.ValidString(a.Name) || utf8.RuneCountInString(a.Name) > MaxDisplayNameRunes {
		return a, badRequest("name must be 1-32 characters of UTF-8")
	}
	return a, nil
}

// DefaultName is the display name of a user whose token names none: the
// user id, cut to MaxDisplayNameRunes characters. A user id may be 64 bytes
// (docs/protocol.md §1) and a name only 32 characters, so an uncut id would make
// every lobby.create, lobby.join and match lobby of that user fail. The cut
// is on a character boundary; bytes that are not UTF-8 (which the gateway
// refuses in ids anyway) count one each.
func DefaultName(userID string) string {
	n := 0
	for i := range userID {
		if n == MaxDisplayNameRunes {
			return userID[:i]
		}
		n++
	}
	return userID
}

func checkUserID(id string) error {
	if id == "" || len(id) > MaxUserIDBytes {
		return badRequest("user id must be 1-64 bytes")
	}
	return nil
}

// checkName: 1-64 characters of valid UTF-8.
func checkName(s string) error {
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxNameRunes {
		return badRequest("name must be 1-64 characters of UTF-8")
	}
	return nil
}

// checkMaxPlayers: 2-256 and not below the current member count.
func checkMaxPlayers(n, members int) error {
	if n < MinPlayers || n > MaxPlayers {
		return badRequest("max_players must be 2-256")
	}
	if n < members {
		return badRequest("max_players is below the member count")
	}
	return nil
}

// checkVisibility: "public" or "private".
func checkVisibility(v string) error {
	if v != protocol.VisibilityPublic && v != protocol.VisibilityPrivate {
		return badRequest(`visibility must be "public" or "private"`)
	}
	return nil
}

// checkPassword: at most 128 bytes ("" means no password).
func checkPassword(p string) error {
	if len(p) > MaxPasswordBytes {
		return badRequest("password must be at most 128 bytes")
	}
	return nil
}

// checkTag bounds mode and region: at most 64 bytes of valid UTF-8.
func checkTag(field, s string) error {
	if len(s) > MaxTagBytes || !utf8.ValidString(s) {
		return badRequest(field + " must be at most 64 bytes of UTF-8")
	}
	return nil
}

// CheckChat: 1-500 characters of valid UTF-8.
func CheckChat(text string) error {
	if text == "" || !utf8.ValidString(text) || utf8.RuneCountInString(text) > MaxChatRunes {
		return badRequest("text must be 1-500 characters of UTF-8")
	}
	return nil
}

// checkData validates lobby or member data (a MessagePack map of at most
// 4 KiB, every number in it finite) and returns a copy. nil stays nil
// ("absent"). NaN and ±Inf are refused because the HTTP API shows data as
// JSON, which cannot hold them: one such value would make every listing
// page with the lobby unanswerable.
func checkData(d protocol.RawMap) (protocol.RawMap, error) {
	if d == nil {
		return nil, nil
	}
	if len(d) > MaxDataBytes {
		return nil, badRequest("data must be at most 4096 bytes encoded")
	}
	if !protocol.IsMapHeader(d) {
		return nil, badRequest("data must be a map")
	}
	if err := protocol.ValidateFinite(d); err != nil {
		if err == protocol.ErrNonFinite {
			return nil, badRequest("data numbers must be finite (no NaN or infinity)")
		}
		return nil, badRequest("data must be one well-formed MessagePack map")
	}
	return append(protocol.RawMap(nil), d...), nil
}

// checkAttrs validates attrs with protocol.ValidateAttrs (at most 16 keys
// of 1-64 bytes, each value a string of at most 256 bytes or a finite
// number), also requires valid UTF-8 (the HTTP API renders attrs as JSON),
// and returns a normalised copy: integers become int64 (uint64 above
// MaxInt64), floats float64 (a float32 through its shortest decimal form, so
// its protocol.AttrString does not change). nil stays nil ("absent"); a present empty
// map gives an empty map.
func checkAttrs(a protocol.Attrs) (protocol.Attrs, error) {
	if a == nil {
		return nil, nil
	}
	if err := protocol.ValidateAttrs(a); err != nil {
		return nil, err
	}
	out := make(protocol.Attrs, len(a))
	for k, v := range a {
		if !utf8.ValidString(k) {
			return nil, badRequest("attr keys must be UTF-8")
		}
		n, ok := normAttr(v)
		if !ok {
			return nil, badRequest("attr values must be UTF-8 strings or finite numbers")
		}
		out[k] = n
	}
	return out, nil
}

// normAttr converts a value ValidateAttrs accepted to its stored type.
func normAttr(v any) (any, bool) {
	switch x := v.(type) {
	case string:
		return x, utf8.ValidString(x)
	case int:
		return int64(x), true
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint:
		return normUint(uint64(x)), true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		return normUint(x), true
	case float32:
		f, err := strconv.ParseFloat(strconv.FormatFloat(float64(x), 'g', -1, 32), 64)
		return f, err == nil
	case float64:
		return x, true
	}
	return nil, false
}

func normUint(u uint64) any {
	if u <= math.MaxInt64 {
		return int64(u)
	}
	return u
}

// CheckCreate validates a lobby.create body and returns a normalised copy
// (Attrs non-nil).
func CheckCreate(p protocol.CreateLobby) (protocol.CreateLobby, error) {
	if err := checkName(p.Name); err != nil {
		return p, err
	}
	if err := checkMaxPlayers(p.MaxPlayers, 1); err != nil {
		return p, err
	}
	if err := checkVisibility(p.Visibility); err != nil {
		return p, err
	}
	if err := checkPassword(p.Password); err != nil {
		return p, err
	}
	if err := checkTag("mode", p.Mode); err != nil {
		return p, err
	}
	if err := checkTag("region", p.Region); err != nil {
		return p, err
	}
	var err error
	if p.Attrs, err = checkAttrs(p.Attrs); err != nil {
		return p, err
	}
	if p.Attrs == nil {
		p.Attrs = protocol.Attrs{}
	}
	if p.Data, err = checkData(p.Data); err != nil {
		return p, err
	}
	return p, nil
}

// CheckUpdate validates the fields present in a lobby.update body and
// returns a normalised copy. The member-count bound of max_players is the
// store's to check (it needs the lobby).
func CheckUpdate(p protocol.UpdateLobby) (protocol.UpdateLobby, error) {
	if p.Name != nil {
		if err := checkName(*p.Name); err != nil {
			return p, err
		}
	}
	if p.MaxPlayers != nil {
		if err := checkMaxPlayers(*p.MaxPlayers, 0); err != nil {
			return p, err
		}
	}
	if p.Visibility != nil {
		if err := checkVisibility(*p.Visibility); err != nil {
			return p, err
		}
	}
	if p.Password != nil {
		if err := checkPassword(*p.Password); err != nil {
			return p, err
		}
	}
	var err error
	if p.Attrs, err = checkAttrs(p.Attrs); err != nil {
		return p, err
	}
	if p.Data, err = checkData(p.Data); err != nil {
		return p, err
	}
	return p, nil
}

// updateIsEmpty reports whether no field is present.
func updateIsEmpty(p protocol.UpdateLobby) bool {
	return p.Name == nil && p.MaxPlayers == nil && p.Visibility == nil && p.Password == nil &&
		p.Locked == nil && p.Attrs == nil && p.Data == nil
}

// CheckSetMember validates a lobby.set_member body and returns a copy.
func CheckSetMember(p protocol.SetMember) (protocol.SetMember, error) {
	var err error
	p.Data, err = checkData(p.Data)
	return p, err
}

// CheckMatch validates MatchParams and returns a normalised copy (default
// name and max_players, actors checked, no user twice).
func CheckMatch(p MatchParams) (MatchParams, error) {
	if p.MatchID == "" || len(p.MatchID) > MaxUserIDBytes {
		return p, badRequest("match id must be 1-64 bytes")
	}
	if len(p.Members) == 0 || len(p.Members) > MaxPlayers {
		return p, badRequest("a match needs 1-256 members")
	}
	if p.Name == "" {
		p.Name = "match"
	}
	if err := checkName(p.Name); err != nil {
		return p, err
	}
	if err := checkTag("mode", p.Mode); err != nil {
		return p, err
	}
	if err := checkTag("region", p.Region); err != nil {
		return p, err
	}
	if p.MaxPlayers == 0 {
		p.MaxPlayers = max(MinPlayers, len(p.Members))
	}
	if err := checkMaxPlayers(p.MaxPlayers, len(p.Members)); err != nil {
		return p, err
	}
	ms := make([]Actor, len(p.Members))
	seen := make(map[string]struct{}, len(p.Members))
	for i, a := range p.Members {
		a, err := CheckActor(a)
		if err != nil {
			return p, err
		}
		if _, dup := seen[a.UserID]; dup {
			return p, badRequest("a user is in the match twice")
		}
		seen[a.UserID] = struct{}{}
		ms[i] = a
	}
	p.Members = ms
	return p, nil
}

// CheckListQuery validates q, applies the default limit and decodes the
// cursor: before is the creation sequence to list below (math.MaxUint64 on
// the first page).
func CheckListQuery(q ListQuery) (ListQuery, uint64, error) {
	if q.Limit == 0 {
		q.Limit = DefaultListLimit
	}
	if q.Limit < 1 || q.Limit > MaxListLimit {
		return q, 0, badRequest("limit must be 1-100")
	}
	if q.State != "" && q.State != protocol.StateOpen && q.State != protocol.StateInGame {
		return q, 0, badRequest(`state must be "open" or "in_game"`)
	}
	if err := checkTag("mode", q.Mode); err != nil {
		return q, 0, err
	}
	if err := checkTag("region", q.Region); err != nil {
		return q, 0, err
	}
	if len(q.Attrs) > protocol.MaxAttrs {
		return q, 0, badRequest("at most 16 attr filters")
	}
	for k, v := range q.Attrs {
		if k == "" || len(k) > protocol.MaxAttrKeyBytes || !utf8.ValidString(k) || len(v) > protocol.MaxAttrStringBytes {
			return q, 0, badRequest("attr filters: keys 1-64 bytes of UTF-8, values at most 256 bytes")
		}
	}
	before, err := DecodeCursor(q.Cursor)
	if err != nil {
		return q, 0, err
	}
	return q, before, nil
}
