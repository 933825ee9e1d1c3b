package netcode

import (
	"testing"

	"github.com/gobwas/ws"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/lobbyd/lobbyd/protocol"
)

// This benchmark alone imports protocol: it measures the whole receive path
// the loop drives for the gateway (read, parse, decode). netcode itself does
// not (TestImportsNoPackageAbove).

// decodeSink does what the gateway does with a message before dispatch:
// decode the envelope, and for lobby.send its body.
type decodeSink struct {
	req  protocol.Request
	send protocol.SendReq
	err  error
}

func (s *decodeSink) onMessage(m []byte) bool {
	if s.err = protocol.DecodeRequest(m, &s.req); s.err == nil && string(s.req.Op) == protocol.OpLobbySend {
		s.err = protocol.DecodeSend(s.req.D, &s.send)
	}
	return true
}
func (s *decodeSink) onPing([]byte) bool { return true }
func (s *decodeSink) onPong([]byte) bool { return true }

// benchReadParseDecode measures the receive path of one client frame: the
// bytes land in the read buffer (the copy stands in for read(2)), the frame
// is parsed and unmasked in place, and the request is decoded.
func benchReadParseDecode(b *testing.B, req map[string]any) {
	payload, err := msgpack.Marshal(req)
	if err != nil {
		b.Fatal(err)
	}
	frame := cf(ws.OpBinary, true, payload)
	buf := make([]byte, 64<<10)
	p := parser{max: 1 << 16}
	var s decodeSink
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		n := copy(buf, frame)
		if cr := p.feed(buf[:n], &s); cr.code != 0 {
			b.Fatal(cr.reason)
		}
		if s.err != nil {
			b.Fatal(s.err)
		}
	}
}

func BenchmarkReadParseDecodePing(b *testing.B) {
	benchReadParseDecode(b, map[string]any{"op": "ping", "rid": 7, "d": map[string]any{}})
}

func BenchmarkReadParseDecodeSend(b *testing.B) {
	benchReadParseDecode(b, map[string]any{"op": "lobby.send", "d": map[string]any{"data": make([]byte, 64)}})
}

func BenchmarkReadParseDecodeSendTo(b *testing.B) {
	benchReadParseDecode(b, map[string]any{"op": "lobby.send", "rid": 9, "d": map[string]any{"data": make([]byte, 64), "to": []string{"user-1", "user-2"}}})
}
