package registrar

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/b2bua/b2bua/store"
)

// Kind is the store bucket of registrations.
const Kind store.Kind = "registrations"

// A record is what the store keeps per AOR: its bindings, in a compact
// binary form whose first bytes give the next expiry, so a restore reads
// a million deadlines without decoding a million records:
//
//	version byte (1) | next expiry int64 BE, Unix ns | count uvarint | bindings
//
// A binding is contact, q (varint), expires (varint, Unix ns), Call-ID,
// CSeq (uvarint), branch, instance id, reg-id (varint), path count
// (uvarint) and paths, source, user agent; strings are a uvarint length
// and bytes. Records written as JSON by earlier versions still load.
const recordV1 = 1

// maxRecord bounds what decode accepts from the store.
const maxRecord = 1 << 20

var errRecord = errors.New("registrar: bad record")

func encode(bs []Binding) []byte {
	size := 9 + binary.MaxVarintLen64
	for _, b := range bs {
		size += 8*binary.MaxVarintLen64 + len(b.Contact) + len(b.CallID) + len(b.Branch) + len(b.InstanceID) + len(b.Source) + len(b.UA)
		for _, p := range b.Path {
			size += binary.MaxVarintLen64 + len(p)
		}
	}
	out := make([]byte, 9, size)
	out[0] = recordV1
	binary.BigEndian.PutUint64(out[1:9], uint64(nextExpiry(bs).UnixNano()))
	out = binary.AppendUvarint(out, uint64(len(bs)))
	for _, b := range bs {
		out = appendString(out, b.Contact)
		out = binary.AppendVarint(out, int64(b.Q))
		out = binary.AppendVarint(out, b.Expires)
		out = appendString(out, b.CallID)
		out = binary.AppendUvarint(out, uint64(b.CSeq))
		out = appendString(out, b.Branch)
		out = appendString(out, b.InstanceID)
		out = binary.AppendVarint(out, int64(b.RegID))
		out = binary.AppendUvarint(out, uint64(len(b.Path)))
		for _, p := range b.Path {
			out = appendString(out, p)
		}
		out = appendString(out, b.Source)
		out = appendString(out, b.UA)
	}
	return out
}

func appendString(out []byte, s string) []byte {
	out = binary.AppendUvarint(out, uint64(len(s)))
	return append(out, s...)
}

// decode reads a record back.
func decode(raw []byte) ([]Binding, error) {
	if len(raw) > 0 && raw[0] == '{' {
		return decodeJSON(raw)
	}
	if len(raw) < 9 || raw[0] != recordV1 || len(raw) > maxRecord {
		return nil, errRecord
	}
	// Every string of the record is a slice of one copy of it: one
	// allocation per record instead of one per field (an activation
	// decodes a record per REGISTER once its actor passivated).
	r := reader{b: raw[9:], s: string(raw[9:])}
	n := r.uvarint()
	if n > uint64(len(r.b)) { // every binding takes bytes
		return nil, errRecord
	}
	bs := make([]Binding, 0, n)
	for range n {
		var b Binding
		b.Contact = r.string()
		b.Q = int16(r.varintIn(math.MinInt16, math.MaxInt16))
		b.Expires = r.varint()
		b.CallID = r.string()
		b.CSeq = uint32(r.uvarintMax(math.MaxUint32))
		b.Branch = r.string()
		b.InstanceID = r.string()
		b.RegID = int32(r.varintIn(math.MinInt32, math.MaxInt32))
		if np := r.uvarint(); np > 0 && np <= uint64(len(r.b)) {
			b.Path = make([]string, np)
			for i := range b.Path {
				b.Path[i] = r.string()
			}
		} else if np > 0 {
			r.err = errRecord
		}
		b.Source = r.string()
		b.UA = r.string()
		if r.err != nil {
			return nil, r.err
		}
		bs = append(bs, b)
	}
	if len(r.b) != 0 {
		return nil, errRecord
	}
	return bs, nil
}

// deadline is the next expiry a record holds: the shard's restore reads
// it to wake the AOR when its first binding expires.
func deadline(raw []byte) (time.Time, error) {
	if len(raw) > 0 && raw[0] == '{' {
		bs, err := decodeJSON(raw)
		if err != nil {
			return time.Time{}, err
		}
		return nextExpiry(bs), nil
	}
	if len(raw) < 9 || raw[0] != recordV1 {
		return time.Time{}, errRecord
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(raw[1:9]))), nil
}

// decodeJSON reads the records of versions before the binary format.
func decodeJSON(raw []byte) ([]Binding, error) {
	var r struct {
		Bindings []Binding `json:"b"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("%w: %w", errRecord, err)
	}
	return r.Bindings, nil
}

// reader takes fields off a record; the first error sticks. s is b as a
// string, strings are sliced from it.
type reader struct {
	b   []byte
	s   string
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errRecord
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) uvarintMax(max uint64) uint64 {
	v := r.uvarint()
	if v > max {
		r.err = errRecord
	}
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errRecord
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varintIn(lo, hi int64) int64 {
	v := r.varint()
	if v < lo || v > hi {
		r.err = errRecord
	}
	return v
}

func (r *reader) string() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.err = errRecord
		return ""
	}
	off := len(r.s) - len(r.b)
	r.b = r.b[n:]
	return r.s[off : off+int(n)]
}
