package cluster

import (
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// wireEvent's MessagePack codec, written out instead of left to the
// library's reflection: every cross-shard lobby.send encodes one event and
// every shard with members decodes it, and msgpack's reflective path
// allocated ~10 times per event (the omitempty checks of each field most of
// all). The format is the reflective one's exactly — a map keyed by the
// struct tags, empty optional fields left out — so that logs written by
// either read back with both (TestWireEventCodecMatchesReflection).

// EncodeMsgpack implements msgpack.CustomEncoder.
func (w *wireEvent) EncodeMsgpack(e *msgpack.Encoder) error {
	n := 3
	for _, set := range [...]bool{w.Member != nil, w.Lobby != nil, w.UserID != "", w.Reason != "", w.From != "",
		w.Text != "", w.TS != 0, len(w.Data) > 0, w.MatchID != ""} {
		if set {
			n++
		}
	}
	err := e.EncodeMapLen(n)
	str := func(k, v string) {
		if err == nil && v != "" {
			err = e.EncodeString(k)
			if err == nil {
				err = e.EncodeString(v)
			}
		}
	}
	strs := func(k string, v []string) {
		if err == nil {
			err = e.EncodeString(k)
		}
		if err != nil {
			return
		}
		if v == nil {
			err = e.EncodeNil()
			return
		}
		if err = e.EncodeArrayLen(len(v)); err != nil {
			return
		}
		for _, s := range v {
			if err = e.EncodeString(s); err != nil {
				return
			}
		}
	}
	if err == nil {
		if err = e.EncodeString("n"); err == nil {
			err = e.EncodeString(w.Name)
		}
	}
	strs("to", w.To)
	strs("sh", w.Shards)
	if err == nil && w.Member != nil {
		if err = e.EncodeString("m"); err == nil {
			err = e.Encode(w.Member)
		}
	}
	if err == nil && w.Lobby != nil {
		if err = e.EncodeString("l"); err == nil {
			err = e.Encode(w.Lobby)
		}
	}
	str("u", w.UserID)
	str("r", w.Reason)
	str("f", w.From)
	str("t", w.Text)
	if err == nil && w.TS != 0 {
		if err = e.EncodeString("ts"); err == nil {
			err = e.EncodeInt64(w.TS)
		}
	}
	if err == nil && len(w.Data) > 0 {
		if err = e.EncodeString("d"); err == nil {
			err = e.EncodeBytes(w.Data)
		}
	}
	str("mi", w.MatchID)
	return err
}

// DecodeMsgpack implements msgpack.CustomDecoder. Unknown keys are
// skipped, so a shard reads what a newer one wrote.
func (w *wireEvent) DecodeMsgpack(d *msgpack.Decoder) error {
	n, err := d.DecodeMapLen()
	if err != nil {
		return err
	}
	*w = wireEvent{}
	strs := func() ([]string, error) {
		k, err := d.DecodeArrayLen()
		if err != nil || k < 0 {
			return nil, err
		}
		if k > maxWireRecipients {
			return nil, fmt.Errorf("cluster: %d recipients in a wire event", k)
		}
		out := make([]string, k)
		for i := range out {
			if out[i], err = d.DecodeString(); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	for range n {
		k, err := d.DecodeString()
		if err != nil {
			return err
		}
		switch k {
		case "n":
			w.Name, err = d.DecodeString()
		case "to":
			w.To, err = strs()
		case "sh":
			w.Shards, err = strs()
		case "m":
			err = d.Decode(&w.Member)
		case "l":
			err = d.Decode(&w.Lobby)
		case "u":
			w.UserID, err = d.DecodeString()
		case "r":
			w.Reason, err = d.DecodeString()
		case "f":
			w.From, err = d.DecodeString()
		case "t":
			w.Text, err = d.DecodeString()
		case "ts":
			w.TS, err = d.DecodeInt64()
		case "d":
			w.Data, err = d.DecodeBytes()
		case "mi":
			w.MatchID, err = d.DecodeString()
		default:
			err = d.Skip()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// maxWireRecipients bounds an event's recipient list as read back: a lobby
// has at most 256 members.
const maxWireRecipients = 1024
