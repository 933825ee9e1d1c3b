package protocol

// Replies (docs/protocol.md §2): {"rid", "ok": true, "d"} or
// {"rid", "ok": false, "err": {"code", "msg"}}. Each encoder appends one
// complete message to b and returns the extended slice; the hand-written
// ones do not allocate when b has room.

func appendReplyHead(b []byte, rid uint32, ok bool) []byte {
	b = append(b, 0x83, 0xa3, 'r', 'i', 'd')
	b = appendUint(b, uint64(rid))
	b = append(b, 0xa2, 'o', 'k')
	return appendBool(b, ok)
}

// AppendReplyOK appends {"rid": rid, "ok": true, "d": {}}.
func AppendReplyOK(b []byte, rid uint32) []byte {
	b = appendReplyHead(b, rid, true)
	return append(b, 0xa1, 'd', 0x80)
}

// AppendPong appends the reply to ping: {"rid", "ok": true, "d": {"t": unixMs}}.
func AppendPong(b []byte, rid uint32, unixMs int64) []byte {
	b = appendReplyHead(b, rid, true)
	b = append(b, 0xa1, 'd', 0x81, 0xa1, 't')
	return appendInt(b, unixMs)
}

// AppendReplyValue appends {"rid", "ok": true, "d": v} with v (a struct or
// map; nil is {}) encoded by the msgpack library. It is for the cold ops'
// replies. On error b is returned unchanged.
func AppendReplyValue(b []byte, rid uint32, v any) ([]byte, error) {
	n := len(b)
	b = appendReplyHead(b, rid, true)
	b = append(b, 0xa1, 'd')
	out, err := appendValue(b, v)
	if err != nil {
		return b[:n], err
	}
	return out, nil
}

// AppendReplyErr appends {"rid", "ok": false, "err": {"code", "msg"}}.
func AppendReplyErr(b []byte, rid uint32, code Code, msg string) []byte {
	b = appendReplyHead(b, rid, false)
	b = append(b, 0xa3, 'e', 'r', 'r', 0x82, 0xa4, 'c', 'o', 'd', 'e')
	b = appendStr(b, string(code))
	b = append(b, 0xa3, 'm', 's', 'g')
	return appendStr(b, msg)
}
