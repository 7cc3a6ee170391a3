package pidf

import (
	"path/filepath"
	"testing"
	"time"
)

func composeCases(t *testing.T) []struct {
	name    string
	sources []Source
	want    Status
} {
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	desk := State{Status: StatusBusy, Note: "desk: deadline", Device: "urn:uuid:desk", Caps: CapAudio}.Document("sip:alice@example.com")
	desk.Tuples[0].Contact = &Contact{URI: "sip:alice@192.0.2.1"}
	mobile := State{Status: StatusAway, Note: "mobile: at lunch", Device: "urn:uuid:mobile", Location: "restaurant"}.Document("sip:alice@example.com")
	rfc, err := Parse(mustRead(t, "testdata/rfc/rfc4480-example.xml"))
	if err != nil {
		t.Fatal(err)
	}
	phone, err := Parse(mustRead(t, "testdata/rfc/phone-open.xml"))
	if err != nil {
		t.Fatal(err)
	}
	return []struct {
		name    string
		sources []Source
		want    Status
	}{
		{"none", nil, StatusOffline},
		{"registrations", []Source{Registration("sip:alice@192.0.2.1", true), Registration("sip:alice@192.0.2.2;transport=tcp", true)}, StatusAvailable},
		{"registration-closed", []Source{Registration("sip:alice@192.0.2.1", false)}, StatusOffline},
		{"two-devices", []Source{
			Publication(desk, t0), Publication(mobile, t0.Add(time.Minute)),
			Registration("sip:alice@192.0.2.1", true), Registration("sip:alice@198.51.100.7", true),
		}, StatusBusy},
		{"in-call", []Source{Registration("sip:alice@192.0.2.1", true), Call(true)}, StatusInCall},
		{"call-ended", []Source{Registration("sip:alice@192.0.2.1", true), Call(false)}, StatusAvailable},
		{"dnd-and-call", []Source{
			Publication(State{Status: StatusDoNotDisturb}.Document("sip:alice@example.com"), t0), Call(true),
		}, StatusInCall},
		{"rfc-and-phone", []Source{Publication(rfc, t0), Publication(phone, t0.Add(-time.Hour))}, StatusAway},
	}
}

// TestComposeGolden renders every case to testdata/compose/<case>.xml and checks the status it reads as.
func TestComposeGolden(t *testing.T) {
	for _, tc := range composeCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			d := Compose("sip:alice@example.com", tc.sources...)
			out := d.Marshal()
			golden(t, filepath.Join("testdata/compose", tc.name+".xml"), out)
			d2, err := Parse(out)
			if err != nil {
				t.Fatal(err)
			}
			if got := FromDocument(d2).Status; got != tc.want {
				t.Errorf("status %v, want %v", got, tc.want)
			}
		})
	}
}

// TestComposeOrder: with distinct publication times the argument order does not matter.
func TestComposeOrder(t *testing.T) {
	for _, tc := range composeCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "dnd-and-call" {
				return
			}
			fwd := Compose("e", tc.sources...).Marshal()
			rev := make([]Source, len(tc.sources))
			for i, s := range tc.sources {
				rev[len(rev)-1-i] = s
			}
			if back := Compose("e", rev...).Marshal(); string(back) != string(fwd) {
				t.Errorf("order matters:\n%s\n%s", fwd, back)
			}
		})
	}
}

// TestComposeRules checks the merge rules one by one.
func TestComposeRules(t *testing.T) {
	t0 := time.Unix(1000, 0)
	a := State{Status: StatusBusy, Note: "old"}.Document("e")
	b := State{Status: StatusAway, Note: "new"}.Document("e")
	d := Compose("e", Publication(a, t0), Publication(b, t0.Add(time.Second)), Call(true))
	if len(d.Persons) != 1 {
		t.Fatalf("persons: %+v", d.Persons)
	}
	p := d.Persons[0]
	if got := p.Activities.Names; len(got) != 3 || got[0] != ActivityAway || got[1] != ActivityBusy || got[2] != ActivityOnThePhone {
		t.Errorf("activities %v", got)
	}
	if p.Notes[0].Text != "new" {
		t.Errorf("note %q, want the newest", p.Notes[0].Text)
	}
	if len(d.Tuples) != 1 {
		t.Errorf("same tuple ID twice: %+v", d.Tuples)
	}
	if a.Persons[0].Activities.Names[0] != ActivityBusy || len(a.Persons[0].Activities.Names) != 1 {
		t.Errorf("input modified: %+v", a.Persons[0].Activities)
	}
}
