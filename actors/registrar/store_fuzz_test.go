package registrar

import (
	"reflect"
	"testing"
)

// FuzzDecode feeds the stored-record decoder anything: a record that decodes
// must encode and decode to the same value (what a restart relies on).
func FuzzDecode(f *testing.F) {
	good := encode([]Binding{{Contact: "sip:a@192.0.2.1", Q: 500, Expires: 1_800_000_000_000_000_000, CallID: "c", CSeq: 7, Branch: "z9hG4bK1",
		InstanceID: "urn:uuid:1", RegID: 1, Path: []string{"<sip:p;lr>"}, Source: "udp:192.0.2.1:5060", UA: "x"}})
	for _, s := range [][]byte{good, good[:len(good)-1], {recordV1}, []byte(`{}`), []byte(`{"b":null}`), []byte(`{"b":[{"c":"x","e":-1}]}`), []byte(`[`)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := decode(raw)
		if err != nil {
			return
		}
		again := encode(r)
		r2, err := decode(again)
		if err != nil || !reflect.DeepEqual(normal(r), normal(r2)) {
			t.Fatalf("round trip changed %+v into %+v (%v)", r, r2, err)
		}
	})
}

// normal maps empty slices to nil: the encodings cannot tell them apart.
func normal(bs []Binding) []Binding {
	if len(bs) == 0 {
		return nil
	}
	for i := range bs {
		if len(bs[i].Path) == 0 {
			bs[i].Path = nil
		}
	}
	return bs
}

// TestDecodeOwnsItsStrings: the bindings decode returns keep nothing of
// the buffer they came from (the store may reuse it), and cost one
// allocation for all their strings.
func TestDecodeOwnsItsStrings(t *testing.T) {
	want := []Binding{
		{Contact: "sip:a@192.0.2.1", Q: 500, Expires: 1_800_000_000_000_000_000, CallID: "call-1", CSeq: 7, Branch: "z9hG4bK1",
			InstanceID: "urn:uuid:1", RegID: 1, Path: []string{"<sip:p;lr>"}, Source: "udp:192.0.2.1:5060", UA: "phone"},
		{Contact: "sip:a@192.0.2.2", Q: -1, Expires: 1_800_000_000_000_000_001, CallID: "call-2", CSeq: 1, Source: "tcp:192.0.2.2:5060"},
	}
	raw := encode(want)
	got, err := decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	for i := range raw {
		raw[i] = 0
	}
	if !reflect.DeepEqual(normal(got), normal(want)) {
		t.Fatalf("decoded %+v, want %+v", got, want)
	}
	raw = encode(want)
	// The bindings, the strings, the one Path.
	if n := testing.AllocsPerRun(100, func() { _, _ = decode(raw) }); n > 3 {
		t.Fatalf("decode: %v allocations, want at most 3", n)
	}
}
