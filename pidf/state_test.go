package pidf

import (
	"testing"
)

// TestStateRoundTrip: for our own documents State → Document → XML → Document → State is the identity.
func TestStateRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		s    State
	}{
		{"unknown", State{}},
		{"unknown with note", State{Note: "hello"}},
		{"available", State{Status: StatusAvailable}},
		{"busy", State{Status: StatusBusy, Note: "deadline"}},
		{"away", State{Status: StatusAway, Location: "home"}},
		{"dnd", State{Status: StatusDoNotDisturb, Note: "focus <time> & \"quiet\""}},
		{"offline", State{Status: StatusOffline, Note: "gone\r\nfishing", Device: "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"}},
		{"in call", State{Status: StatusInCall, Device: "urn:x-mac:0003ba4811e3", Caps: CapAudio | CapVideo}},
		{"custom", State{Status: StatusCustom, Custom: "working from the café ☕"}},
		{"custom dnd text", State{Status: StatusCustom, Custom: DNDMarker}},
		{"custom empty", State{Status: StatusCustom}},
		{"everything", State{Status: StatusBusy, Note: "n", Device: "urn:uuid:1", Location: "office", Caps: CapAudio | CapVideo | CapText | CapMessage}},
		{"caps only", State{Status: StatusAvailable, Caps: CapMessage}},
		{"spaces kept", State{Status: StatusCustom, Custom: "  two  ", Note: " x ", Location: " l "}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.s.Document("sip:alice@example.com").Marshal()
			d, err := Parse(b)
			if err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			if got := FromDocument(d); got != tc.s {
				t.Errorf("got %+v, want %+v\n%s", got, tc.s, b)
			}
		})
	}
}

// TestStateSize: an ordinary state stays well under what a NOTIFY over UDP can carry (about 850 bytes).
func TestStateSize(t *testing.T) {
	s := State{Status: StatusDoNotDisturb, Note: "In a meeting until 3pm, call my mobile", Device: "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
		Location: "office", Caps: CapAudio | CapVideo | CapText | CapMessage}
	if n := len(s.Document("sip:alice.longname@example.com").Marshal()); n > 850 {
		t.Errorf("%d bytes", n)
	}
}

// TestFromDocumentForeign covers what other clients send.
func TestFromDocumentForeign(t *testing.T) {
	open := Tuple{ID: "a", Basic: BasicOpen}
	closed := Tuple{ID: "b", Basic: BasicClosed}
	person := func(names []string, other ...string) []Person {
		return []Person{{ID: "p", Activities: &Activities{Names: names, Other: other}}}
	}
	tests := []struct {
		name string
		d    *Document
		want Status
	}{
		{"nil", nil, StatusUnknown},
		{"empty", &Document{}, StatusUnknown},
		{"open", &Document{Tuples: []Tuple{open}}, StatusAvailable},
		{"closed", &Document{Tuples: []Tuple{closed}}, StatusOffline},
		{"one open wins", &Document{Tuples: []Tuple{closed, open}}, StatusAvailable},
		{"closed and busy", &Document{Tuples: []Tuple{closed}, Persons: person([]string{"busy"})}, StatusOffline},
		{"meeting", &Document{Tuples: []Tuple{open}, Persons: person([]string{"meeting"})}, StatusBusy},
		{"vacation", &Document{Tuples: []Tuple{open}, Persons: person([]string{"vacation"})}, StatusAway},
		{"phone beats busy", &Document{Tuples: []Tuple{open}, Persons: person([]string{"busy", "on-the-phone"})}, StatusInCall},
		{"busy beats away", &Document{Tuples: []Tuple{open}, Persons: person([]string{"away", "busy"})}, StatusBusy},
		{"unknown activity", &Document{Tuples: []Tuple{open}, Persons: person([]string{"unknown"})}, StatusAvailable},
		{"other", &Document{Tuples: []Tuple{open}, Persons: person(nil, "lunch")}, StatusCustom},
		{"person only", &Document{Persons: person([]string{"away"})}, StatusAway},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := FromDocument(tc.d).Status; got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestStatusString(t *testing.T) {
	tests := []struct {
		s    Status
		want string
	}{
		{StatusUnknown, "unknown"}, {StatusAvailable, "available"}, {StatusBusy, "busy"}, {StatusAway, "away"},
		{StatusDoNotDisturb, "dnd"}, {StatusOffline, "offline"}, {StatusInCall, "in-call"}, {StatusCustom, "custom"},
		{Status(99), "Status(99)"},
	}
	for _, tc := range tests {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("%d: got %q, want %q", tc.s, got, tc.want)
		}
		if s, ok := ParseStatus(tc.want); ok != (tc.s <= StatusCustom) || (ok && s != tc.s) {
			t.Errorf("ParseStatus(%q) = %v, %v", tc.want, s, ok)
		}
	}
	if got := (CapAudio | CapVideo).String(); got != "audio+video" {
		t.Errorf("caps: %q", got)
	}
	if got := Caps(0).String(); got != "none" {
		t.Errorf("caps: %q", got)
	}
}
