package presence

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/b2bua/b2bua/pidf"
)

// FuzzDecodeRecords feeds the stored-record decoders anything: a record
// that decodes must encode and decode to the same value (what a restart
// relies on), and its deadline must read without error.
func FuzzDecodeRecords(f *testing.F) {
	good, _ := json.Marshal(&presentityRecord{Pubs: []publication{{ETag: "e1", Expires: 1_800_000_000_000_000_000, At: 1, Body: []byte(pidfOpen)}},
		Contacts: []string{"sip:a@192.0.2.1"}, InCall: true, Policy: &Policy{Mode: PolicyApprove, Allow: []string{"@example.com"}}, Version: 3})
	sub, _ := json.Marshal(&subRecord{Presentity: "sip:a@x", Watcher: "sip:b@x", Event: EventPresence, State: StateActive, Expires: 5, Created: 1,
		LocalURI: "sip:a@x", RemoteURI: "<sip:b@x>", RemoteTarget: "sip:b@192.0.2.2", Routes: []string{"<sip:p;lr>"}, Contact: "sip:127.0.0.1:5060"})
	for _, s := range [][]byte{good, sub, good[:len(good)/2], []byte(`{}`), []byte(`{"p":[{"b":""}]}`), []byte(`[`), []byte(`{"x":1e400}`)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if r, err := decodePresentity(raw, pidf.DefaultLimits); err == nil {
			if _, err := presentityDeadline(raw); err != nil {
				t.Fatalf("record decodes but its deadline does not: %v", err)
			}
			again, _ := json.Marshal(r)
			r2, err := decodePresentity(again, pidf.DefaultLimits)
			if err != nil || !reflect.DeepEqual(strip(r), strip(r2)) {
				t.Fatalf("round trip changed %+v into %+v (%v)", r, r2, err)
			}
		}
		var s subRecord
		if json.Unmarshal(raw, &s) == nil {
			if _, err := subDeadline(raw); err != nil {
				t.Fatalf("subscription decodes but its deadline does not: %v", err)
			}
		}
	})
}

// strip drops the parsed documents (compared through their bodies) and
// maps empty slices to nil, which the encoding cannot tell apart.
func strip(r *presentityRecord) presentityRecord {
	c := *r
	c.Pubs = nil
	for _, p := range r.Pubs {
		p.doc = nil
		if len(p.Body) == 0 {
			p.Body = nil
		}
		c.Pubs = append(c.Pubs, p)
	}
	if len(c.Contacts) == 0 {
		c.Contacts = nil
	}
	return c
}
