package messaging

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzDecodeBox feeds the box record decoder anything: a record that
// decodes must encode and decode to the same value (what a restart relies
// on), and its deadline must read without error.
func FuzzDecodeBox(f *testing.F) {
	good := encodeBox([]stored{{From: `"A" <sip:a@x>;tag=1`, To: "<sip:b@x>", CallID: "c", CSeq: 1, Date: sentDate,
		ContentType: "text/plain", Body: []byte("hi"), Hops: 69, Expires: 1_800_000_000_000_000_000, N: 3}})
	for _, s := range [][]byte{good, good[:len(good)/2], []byte(`{}`), []byte(`{"m":[]}`), []byte(`{"m":[{"f":"a","t":"b","b":"","x":1}]}`),
		[]byte(`[`), []byte(`{"m":[{"x":1e400}]}`), []byte(`{"m":[{"f":"a","t":"b","b":"aGk=","x":-1}]}`)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := decodeBox(raw)
		if err != nil {
			return
		}
		if _, err := boxDeadline(raw); err != nil {
			t.Fatalf("record decodes but its deadline does not: %v", err)
		}
		again := encodeBox(r.Msgs)
		r2, err := decodeBox(again)
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip changed %+v into %+v (%v)", r, r2, err)
		}
		var check boxRecord
		if json.Unmarshal(again, &check) != nil {
			t.Fatal("encoded record does not decode as JSON")
		}
	})
}
