package lobby

import (
	"bytes"
	"slices"

	"github.com/vmihailenco/msgpack/v5"
)

// AppendDoc appends d encoded with MessagePack (the cluster's stored form)
// to dst.
func AppendDoc(dst []byte, d *Doc) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	enc.Reset(buf)
	if err := enc.Encode(d); err != nil {
		return dst, err
	}
	return buf.Bytes(), nil
}

// DecodeDoc decodes a Doc written by AppendDoc. Attr numbers keep the types
// checkAttrs gives them (int64, uint64, float64), so a decoded lobby's views
// equal the ones its store returned.
func DecodeDoc(b []byte) (*Doc, error) {
	d := new(Doc)
	if err := msgpack.Unmarshal(b, d); err != nil {
		return nil, err
	}
	for k, v := range d.Attrs {
		if n, ok := normAttr(v); ok {
			d.Attrs[k] = n
		}
	}
	d.shareStrings()
	d.reindex()
	return d, nil
}

// shareStrings makes the equal strings of a decoded Doc one: a name that
// is the user id (a token without one), the host's id, the few shard
// names. A cluster shard keeps a decoded copy of every lobby it has a
// member in (docs/architecture.md, "Memory per idle player").
func (d *Doc) shareStrings() {
	var shards []string
	for _, m := range d.Members {
		if m.Name == m.UserID {
			m.Name = m.UserID
		}
		if m.UserID == d.Host {
			d.Host = m.UserID
		}
		if m.Shard == "" {
			continue
		}
		if i := slices.Index(shards, m.Shard); i >= 0 {
			m.Shard = shards[i]
		} else if len(shards) < 8 {
			shards = append(shards, m.Shard)
		}
	}
}
