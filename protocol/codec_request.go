package protocol

// MaxOpBytes bounds the "op" of a request. The longest op of version 1 is
// 19 bytes; the rest is room for later versions.
const MaxOpBytes = 64

// Request is a decoded request envelope {"op", "rid", "d"} (docs/protocol.md §2).
// Op and D are sub-slices of the decoded message: they are valid only while
// the message is, and must be copied to be kept.
type Request struct {
	Op  []byte // 1..MaxOpBytes bytes
	Rid uint32 // 0: no reply wanted
	D   []byte // the encoded "d" map, or nil when "d" is absent or nil
}

// DecodeRequest decodes the envelope of one request message into r. Unknown
// keys are skipped (forward compatibility); the whole message is checked as
// validate would (lengths, depth, keys, nothing trailing), so D is a complete,
// well-formed map.
//
// On error, the error is a *Error with CodeBadRequest, Op and D are nil, and
// Rid holds the request's rid if one could be read — keys come in any order,
// so the whole envelope is read even after a bad field to find it — or 0
// (docs/protocol.md §2: "When no rid can be read ... the reply has rid 0").
//
// It does not allocate. It is one function on purpose: every request goes
// through it, and splitting the fields into methods over a state struct
// (tried: BenchmarkDecodeRequestPing) made each request markedly slower,
// because the cursor and the flags then live in memory, not registers.
func DecodeRequest(b []byte, r *Request) error {
	*r = Request{}
	if len(b) == 0 {
		return ErrEmpty
	}
	rd := newReader(b)
	n, err := rd.ReadMapHeader()
	if err != nil {
		if err == ErrWantMap {
			// Not a map, or not MessagePack: report it as the former when
			// the first byte is a valid code, the latter otherwise.
			if rd.Kind() == kindInvalid {
				return ErrInvalidCode
			}
			return ErrRequestNotMap
		}
		return err
	}
	var (
		first                error // first field error; reading goes on to find rid
		haveOp, haveRid, hvD bool
	)
	fail := func(e error) {
		if first == nil {
			first = e
		}
	}
	for i := 0; i < n; i++ {
		key, err := rd.ReadString()
		if err != nil {
			if err != ErrWantString {
				return done(r, err)
			}
			// A non-string key: skip the pair and keep looking for rid.
			fail(ErrMapKey)
			if err := rd.skip(1); err != nil {
				return done(r, err)
			}
			if err := rd.skip(1); err != nil {
				return done(r, err)
			}
			continue
		}
		switch string(key) { // no allocation: the compiler compares in place
		case "op":
			if haveOp {
				fail(ErrDuplicateKey)
			}
			haveOp = true
			op, err := rd.ReadString()
			switch {
			case err == ErrWantString:
				fail(ErrOpType)
				if err := rd.skip(1); err != nil {
					return done(r, err)
				}
			case err != nil:
				return done(r, err)
			case len(op) == 0 || len(op) > MaxOpBytes:
				fail(ErrOpType)
			default:
				r.Op = op
			}
		case "rid":
			if haveRid {
				fail(ErrDuplicateKey)
				if err := rd.skip(1); err != nil {
					return done(r, err)
				}
				continue
			}
			haveRid = true
			if rd.Kind() != kindInt {
				fail(ErrRidType)
				if err := rd.skip(1); err != nil {
					return done(r, err)
				}
				continue
			}
			v, err := rd.ReadUint()
			switch {
			case err == ErrIntRange: // negative: the cursor did not move
				fail(ErrRidType)
				if err := rd.skip(1); err != nil {
					return done(r, err)
				}
			case err != nil:
				return done(r, err)
			case v > 1<<32-1:
				fail(ErrRidType)
			default:
				r.Rid = uint32(v)
			}
		case "d":
			if hvD {
				fail(ErrDuplicateKey)
			}
			hvD = true
			switch rd.Kind() {
			case kindNil:
				rd.off++
				r.D = nil
			case kindMap:
				start := rd.off
				if err := rd.skip(1); err != nil {
					return done(r, err)
				}
				r.D = b[start:rd.off:rd.off]
			default:
				fail(ErrDType)
				if err := rd.skip(1); err != nil {
					return done(r, err)
				}
			}
		default:
			if err := rd.skip(1); err != nil {
				return done(r, err)
			}
		}
	}
	if rd.Len() != 0 {
		return done(r, ErrTrailing)
	}
	if first != nil {
		return done(r, first)
	}
	if !haveOp {
		return done(r, ErrOpMissing)
	}
	return nil
}

// done clears everything but the rid of a request that failed.
func done(r *Request, err error) error {
	r.Op, r.D = nil, nil
	return err
}
