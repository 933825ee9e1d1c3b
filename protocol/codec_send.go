package protocol

// MaxSendTo bounds the "to" list of lobby.send: a lobby has at most 256
// members, so no valid list is longer.
const MaxSendTo = 256

// SendReq is the body of lobby.send: {"data": bin, "to"?: [user_id]}.
// Data and the entries of To are sub-slices of the decoded message (no copy).
type SendReq struct {
	Data []byte   // the payload; may be empty, never absent
	To   [][]byte // recipients' user ids; nil: every other member
}

// DecodeSend decodes the body of lobby.send into s. It is the hot op, so it
// is decoded by hand: s.To is rebuilt in s.To[:0], and a caller that reuses
// its SendReq decodes without allocating once To has grown to its largest.
//
// Rules: "data" must be present and a bin (a str is refused: docs/protocol.md
// types it bin). "to" absent or nil means every other member; present, it
// must be a non-empty array of at most MaxSendTo strings (an empty list is
// refused rather than read as "everyone", which a client who filtered its
// list down to nobody would not expect). Unknown keys are skipped. Errors are
// *Error with CodeBadRequest; on error s.Data is nil and s.To empty.
func DecodeSend(d []byte, s *SendReq) error {
	s.Data = nil
	s.To = s.To[:0]
	if len(d) == 0 {
		return ErrDataMissing
	}
	rd := newReader(d)
	n, err := rd.ReadMapHeader()
	if err != nil {
		if err == ErrWantMap {
			return ErrBodyNotMap
		}
		return err
	}
	var haveData, haveTo bool
	for i := 0; i < n; i++ {
		key, err := rd.ReadString()
		if err != nil {
			return sendFail(s, keyErr(err))
		}
		switch string(key) {
		case "data":
			if haveData {
				return sendFail(s, ErrDuplicateKey)
			}
			data, err := rd.ReadBytes()
			if err != nil {
				if err == ErrWantBinary {
					err = ErrDataType
				}
				return sendFail(s, err)
			}
			s.Data, haveData = data, true
		case "to":
			if haveTo {
				return sendFail(s, ErrDuplicateKey)
			}
			haveTo = true
			if rd.IsNil() {
				rd.off++
				break
			}
			if err := decodeTo(&rd, s); err != nil {
				return sendFail(s, err)
			}
		default:
			if err := rd.skip(1); err != nil {
				return sendFail(s, err)
			}
		}
	}
	if rd.Len() != 0 {
		return sendFail(s, ErrTrailing)
	}
	if !haveData {
		return sendFail(s, ErrDataMissing)
	}
	return nil
}

func decodeTo(rd *reader, s *SendReq) error {
	m, err := rd.ReadArrayHeader()
	if err != nil {
		if err == ErrWantArray {
			return ErrToType
		}
		return err
	}
	switch {
	case m == 0:
		return ErrToEmpty
	case m > MaxSendTo:
		return ErrToTooMany
	}
	for j := 0; j < m; j++ {
		id, err := rd.ReadString()
		if err != nil {
			if err == ErrWantString {
				return ErrToType
			}
			return err
		}
		s.To = append(s.To, id)
	}
	return nil
}

func sendFail(s *SendReq, err error) error {
	s.Data = nil
	s.To = s.To[:0]
	return err
}

// keyErr maps the error of reading a map key.
func keyErr(err error) error {
	if err == ErrWantString {
		return ErrMapKey
	}
	return err
}
