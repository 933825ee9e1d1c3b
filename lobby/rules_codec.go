package lobby

import (
	"bytes"

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
	d.reindex()
	return d, nil
}
