package registrar

import (
	"reflect"
	"testing"
)

// FuzzDecode feeds the stored-record decoder anything: a record that decodes
// must encode and decode to the same value (what a restart relies on).
func FuzzDecode(f *testing.F) {
	good, _ := encode(record{Bindings: []Binding{{Contact: "sip:a@192.0.2.1", Q: 500, Expires: 1_800_000_000_000_000_000, CallID: "c", CSeq: 7,
		InstanceID: "urn:uuid:1", RegID: 1, Path: []string{"<sip:p;lr>"}, Source: "udp:192.0.2.1:5060", UA: "x"}}, Last: lastReq{"c", 7, "z9hG4bK1"}})
	for _, s := range [][]byte{good, []byte(`{}`), []byte(`{"b":null}`), []byte(`{"b":[{"c":"x","e":-1}]}`), []byte(`[`)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := decode(raw)
		if err != nil {
			return
		}
		again, err := encode(r)
		if err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
		r2, err := decode(again)
		if err != nil || !reflect.DeepEqual(normal(r), normal(r2)) {
			t.Fatalf("round trip changed %+v into %+v (%v)", r, r2, err)
		}
	})
}

// normal maps empty slices to nil: JSON cannot tell them apart.
func normal(r record) record {
	if len(r.Bindings) == 0 {
		r.Bindings = nil
	}
	for i := range r.Bindings {
		if len(r.Bindings[i].Path) == 0 {
			r.Bindings[i].Path = nil
		}
	}
	return r
}
