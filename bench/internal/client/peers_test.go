package client

import (
	"encoding/binary"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// TestColyseusData reads the send time from the relay frames Colyseus
// writes: ROOM_DATA with the msgpack map {from, data: bin 8} (what
// broadcast("data", {from, data}) encodes), and ROOM_DATA_BYTES.
func TestColyseusData(t *testing.T) {
	payload := make([]byte, PayloadSize)
	binary.BigEndian.PutUint64(payload, 123456789)
	m := []byte{colRoomData, 0xa4, 'd', 'a', 't', 'a', 0x82, 0xa4, 'f', 'r', 'o', 'm', 0xa2, 'u', '1', 0xa4, 'd', 'a', 't', 'a', 0xc4, PayloadSize}
	m = append(m, payload...)
	if ts, ok := colData(m); !ok || ts != 123456789 {
		t.Errorf("ROOM_DATA: %d %v", ts, ok)
	}
	raw := append([]byte{colRoomDataBytes, 0xa4, 'd', 'a', 't', 'a'}, payload...)
	if ts, ok := colData(raw); !ok || ts != 123456789 {
		t.Errorf("ROOM_DATA_BYTES: %d %v", ts, ok)
	}
	// A state patch, a short frame and a map without the bin header are not data.
	for _, bad := range [][]byte{{15, 1, 2, 3}, m[:10], append([]byte{colRoomData, 0xa4, 'd', 'a', 't', 'a', 0x81}, payload...)} {
		if _, ok := colData(bad); ok {
			t.Errorf("%x read as data", bad[:min(len(bad), 12)])
		}
	}
}

// TestCentrifugePush routes a pushed publication to onData unless the
// publication is the client's own, and a reply with an id to its waiter.
func TestCentrifugePush(t *testing.T) {
	pushFrom := func(client string, ts uint64) []byte {
		data := make([]byte, PayloadSize)
		binary.BigEndian.PutUint64(data, ts)
		info := protowire.AppendTag(nil, cfInfoClient, protowire.BytesType)
		info = protowire.AppendString(info, client)
		pub := protowire.AppendTag(nil, cfPubData, protowire.BytesType)
		pub = protowire.AppendBytes(pub, data)
		pub = protowire.AppendTag(pub, cfPubInfo, protowire.BytesType)
		pub = protowire.AppendBytes(pub, info)
		push := protowire.AppendTag(nil, 2, protowire.BytesType) // channel
		push = protowire.AppendString(push, "lobby:x")
		push = protowire.AppendTag(push, cfPushPub, protowire.BytesType)
		push = protowire.AppendBytes(push, pub)
		return protowire.AppendBytes(protowire.AppendTag(nil, cfReplyPush, protowire.BytesType), push)
	}
	var got []int64
	c := &cfConn{clientID: "me", replies: make(chan reply, 1), onData: func(ts int64) { got = append(got, ts) }}
	c.onReply(pushFrom("other", 42))
	c.onReply(pushFrom("me", 43))
	if len(got) != 1 || got[0] != 42 {
		t.Errorf("delivered %v, want [42]", got)
	}
	r := protowire.AppendVarint(protowire.AppendTag(nil, cfReplyID, protowire.VarintType), 7)
	c.onReply(r)
	if rep := <-c.replies; rep.rid != 7 {
		t.Errorf("reply id %d", rep.rid)
	}
	if v, ok := cfVarint(r, cfReplyID); !ok || v != 7 {
		t.Errorf("cfVarint: %d %v", v, ok)
	}
	if cfField([]byte{0xff}, 1) != nil {
		t.Error("malformed message read")
	}
}
