package pidf

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestRFCGolden decodes the RFC examples (and what phones send), encodes them, compares the encoding with
// a golden file and checks that decoding the encoding gives the same Document: nothing is dropped.
func TestRFCGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/rfc/*.xml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			d, err := Parse(mustRead(t, f))
			if err != nil {
				t.Fatal(err)
			}
			out := d.Marshal()
			golden(t, strings.TrimSuffix(f, ".xml")+".golden", out)
			d2, err := Parse(out)
			if err != nil {
				t.Fatalf("re-parse: %v\n%s", err, out)
			}
			if !reflect.DeepEqual(d, d2) {
				t.Errorf("round trip differs:\n%#v\n%#v", d, d2)
			}
		})
	}
}

// TestRFCStates checks how foreign documents read as the shared State.
func TestRFCStates(t *testing.T) {
	tests := []struct {
		file string
		want State
	}{
		{"rfc3863-example.xml", State{Status: StatusAvailable, Note: "I'll be in Tokyo next week"}},
		{"rfc4480-example.xml", State{Status: StatusAway, Note: "Scoring 120", Device: "urn:device:0003ba4811e3"}},
		{"rfc4479-example.xml", State{Status: StatusInCall, Device: "mac:8asd7d7d70"}},
		{"rfc5196-servcaps.xml", State{Status: StatusAvailable, Caps: CapAudio | CapMessage}},
		{"phone-open.xml", State{Status: StatusAvailable}},
		{"phone-closed.xml", State{Status: StatusOffline}},
		{"rpid-meeting-mixed.xml", State{Status: StatusBusy, Note: "tuple note"}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			d, err := Parse(mustRead(t, filepath.Join("testdata/rfc", tc.file)))
			if err != nil {
				t.Fatal(err)
			}
			if got := FromDocument(d); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestDecodeFields spot-checks that the modelled fields land where they belong.
func TestDecodeFields(t *testing.T) {
	d, err := Parse(mustRead(t, "testdata/rfc/rfc4480-example.xml"))
	if err != nil {
		t.Fatal(err)
	}
	tu := d.Tuples[0]
	if tu.ID != "bs35r9" || tu.Basic != BasicOpen || tu.DeviceID != "urn:device:0003ba4811e3" ||
		tu.Contact == nil || tu.Contact.Priority != "0.8" || len(tu.Notes) != 2 || tu.Notes[1].Lang != "fr" ||
		tu.Timestamp != "2005-10-27T16:49:29Z" || len(tu.Extra) != 2 {
		t.Errorf("tuple: %+v", tu)
	}
	p := d.Persons[0]
	if p.ID != "p1" || !p.Activities.Has(ActivityAway) || len(p.Activities.Notes) != 1 || p.PlaceType == nil ||
		len(p.PlaceType.Extra) != 1 || p.PlaceType.Extra[0].Name.Space != "urn:ietf:params:xml:ns:location-type" ||
		len(p.Extra) != 7 || p.Timestamp != "2005-05-30T16:09:44+05:00" {
		t.Errorf("person: %+v", p)
	}
	if dv := d.Devices[0]; dv.ID != "pc147" || dv.DeviceID != "urn:device:0003ba4811e3" || len(dv.Extra) != 1 {
		t.Errorf("device: %+v", dv)
	}
}

// TestParseBOM: a UTF-8 byte order mark before the document is accepted.
func TestParseBOM(t *testing.T) {
	d, err := Parse(append([]byte("\xef\xbb\xbf"), mustRead(t, "testdata/rfc/phone-open.xml")...))
	if err != nil || FromDocument(d).Status != StatusAvailable {
		t.Errorf("%v %+v", err, d)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     error
	}{
		{"empty", "", ErrMalformed},
		{"not xml", "hello", ErrMalformed},
		{"truncated", `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="a"><tuple id="x"><status>`, ErrMalformed},
		{"wrong root", `<watcherinfo xmlns="urn:ietf:params:xml:ns:watcherinfo"/>`, ErrMalformed},
		{"no namespace", `<presence entity="a"/>`, ErrMalformed},
		{"two roots", `<presence xmlns="urn:ietf:params:xml:ns:pidf"/><presence xmlns="urn:ietf:params:xml:ns:pidf"/>`, ErrMalformed},
		{"undefined entity", `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="&x;"/>`, ErrMalformed},
		{"latin1", `<?xml version="1.0" encoding="ISO-8859-1"?><presence xmlns="urn:ietf:params:xml:ns:pidf"/>`, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if !errorsIs(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}
