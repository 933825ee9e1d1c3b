package protocol_test

import (
	"fmt"

	"github.com/lobbyd/lobbyd/protocol"
)

// A gateway's hot path: decode the envelope and the lobby.send body without
// allocating, encode the lobby.data event once, then stamp each recipient's
// seq into it just before writing.
func Example() {
	frame := []byte{0x83, 0xa2, 'o', 'p', 0xaa, 'l', 'o', 'b', 'b', 'y', '.', 's', 'e', 'n', 'd',
		0xa3, 'r', 'i', 'd', 0x07, 0xa1, 'd', 0x81, 0xa4, 'd', 'a', 't', 'a', 0xc4, 0x02, 'h', 'i'}

	var req protocol.Request
	if err := protocol.DecodeRequest(frame, &req); err != nil {
		// Decoding errors are *protocol.Error (bad_request); the reply
		// carries the rid when it could be read, else 0.
		e := err.(*protocol.Error)
		reply := protocol.AppendReplyErr(nil, req.Rid, e.Code, e.Msg)
		fmt.Println(len(reply))
		return
	}
	var send protocol.SendReq
	if err := protocol.DecodeSend(req.D, &send); err != nil {
		return
	}
	ev := protocol.AppendDataEvent(nil, "alice", send.Data)
	for seq := uint64(41); seq < 43; seq++ {
		protocol.SetEventSeq(ev, seq)
		fmt.Println(string(req.Op), req.Rid, protocol.EventSeq(ev), len(ev))
	}
	// Output:
	// lobby.send 7 41 51
	// lobby.send 7 42 51
}
