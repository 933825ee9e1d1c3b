package protocol

// MaxOpBytes bounds the "op" of a request. The longest op of version 1 is
// 19 bytes; the rest is room for later versions.
const MaxOpBytes = 64

// Request is a decoded request envelope {"op", "rid", "d"} (PROTOCOL.md §2).
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
// (PROTOCOL.md §2: "When no rid can be read ... the reply has rid 0").
//
// It does not allocate.
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
	e := envelope{rd: rd, r: r}
	for range n {
		if err := e.field(); err != nil {
			return done(r, err)
		}
	}
	switch {
	case e.rd.Len() != 0:
		return done(r, ErrTrailing)
	case e.first != nil:
		return done(r, e.first)
	case !e.haveOp:
		return done(r, ErrOpMissing)
	}
	return nil
}

// envelope is DecodeRequest's state while it reads the envelope's fields.
// A field that is wrong is recorded (the first such error is the answer)
// and skipped, so that the rid is still found; an error a field method
// returns means the message itself is malformed and reading stops.
type envelope struct {
	rd                     reader
	r                      *Request
	first                  error
	haveOp, haveRid, haveD bool
}

func (e *envelope) fail(err error) {
	if e.first == nil {
		e.first = err
	}
}

// skipBad records a field error and skips the value that caused it.
func (e *envelope) skipBad(fieldErr error) error {
	e.fail(fieldErr)
	return e.rd.skip(1)
}

// field reads one key and its value.
func (e *envelope) field() error {
	key, err := e.rd.ReadString()
	if err != nil {
		if err != ErrWantString {
			return err
		}
		// A non-string key: skip the pair and keep looking for rid.
		if err := e.skipBad(ErrMapKey); err != nil {
			return err
		}
		return e.rd.skip(1)
	}
	switch string(key) { // no allocation: the compiler compares in place
	case "op":
		return e.op()
	case "rid":
		return e.rid()
	case "d":
		return e.d()
	}
	return e.rd.skip(1)
}

func (e *envelope) op() error {
	if e.haveOp {
		e.fail(ErrDuplicateKey)
	}
	e.haveOp = true
	op, err := e.rd.ReadString()
	switch {
	case err == ErrWantString:
		return e.skipBad(ErrOpType)
	case err != nil:
		return err
	case len(op) == 0 || len(op) > MaxOpBytes:
		e.fail(ErrOpType)
	default:
		e.r.Op = op
	}
	return nil
}

func (e *envelope) rid() error {
	if e.haveRid {
		return e.skipBad(ErrDuplicateKey)
	}
	e.haveRid = true
	if e.rd.Kind() != kindInt {
		return e.skipBad(ErrRidType)
	}
	v, err := e.rd.ReadUint()
	switch {
	case err == ErrIntRange: // negative: the cursor did not move
		return e.skipBad(ErrRidType)
	case err != nil:
		return err
	case v > 1<<32-1:
		e.fail(ErrRidType)
	default:
		e.r.Rid = uint32(v)
	}
	return nil
}

func (e *envelope) d() error {
	if e.haveD {
		e.fail(ErrDuplicateKey)
	}
	e.haveD = true
	switch e.rd.Kind() {
	case kindNil:
		e.rd.off++
		e.r.D = nil
	case kindMap:
		start := e.rd.off
		if err := e.rd.skip(1); err != nil {
			return err
		}
		e.r.D = e.rd.b[start:e.rd.off:e.rd.off]
	default:
		return e.skipBad(ErrDType)
	}
	return nil
}

// done clears everything but the rid of a request that failed.
func done(r *Request, err error) error {
	r.Op, r.D = nil, nil
	return err
}
