package edge

import (
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/b2bua/b2bua/actors/presence"
)

// TestEventOf: the Event header's package and id, in its full and compact
// forms, the last id winning.
func TestEventOf(t *testing.T) {
	for _, tt := range []struct {
		name, value string // no name: no Event
		ev          presence.Event
		id          string
	}{
		{"Event", "presence", presence.EventPresence, ""},
		{"event", " Presence ;id=7", presence.EventPresence, "7"},
		{"o", "presence.winfo", presence.EventWinfo, ""},
		{"Event", "presence;foo=1; ID=a;id=b", presence.EventPresence, "b"},
		{"Event", "presence;id", presence.EventPresence, ""},
		{"Event", "dialog", presence.EventUnknown, ""},
		{"", "", presence.EventUnknown, ""},
	} {
		req := sip.NewRequest(sip.SUBSCRIBE, sip.Uri{Scheme: "sip", Host: "localhost"})
		req.AppendHeader(sip.NewHeader("Expires", "600"))
		if tt.name != "" {
			req.AppendHeader(sip.NewHeader(tt.name, tt.value))
		}
		if ev, id := eventOf(req); ev != tt.ev || id != tt.id {
			t.Errorf("%s: %s: got %v %q, want %v %q", tt.name, tt.value, ev, id, tt.ev, tt.id)
		}
	}
}

// TestAccepts: an Accept allows the event's type, its major type with
// /*, */* or an empty entry, in any case; no Accept allows the default.
func TestAccepts(t *testing.T) {
	for _, tt := range []struct {
		accept []string
		ev     presence.Event
		want   bool
	}{
		{nil, presence.EventPresence, true},
		{[]string{"application/pidf+xml"}, presence.EventPresence, true},
		{[]string{"text/plain, Application/PIDF+XML;q=0.5"}, presence.EventPresence, true},
		{[]string{"text/plain", "application/*"}, presence.EventPresence, true},
		{[]string{"APPLICATION/*"}, presence.EventPresence, true},
		{[]string{"*/*"}, presence.EventWinfo, true},
		{[]string{"text/plain,"}, presence.EventPresence, true}, // an empty entry
		{[]string{"text/plain"}, presence.EventPresence, false},
		{[]string{"application/pidf+xml"}, presence.EventWinfo, false},
		{[]string{"applicationx/*"}, presence.EventPresence, false},
		{[]string{"application/pidf+xmſ"}, presence.EventPresence, false}, // long s: not ToLower's
	} {
		req := sip.NewRequest(sip.SUBSCRIBE, sip.Uri{Scheme: "sip", Host: "localhost"})
		for _, a := range tt.accept {
			req.AppendHeader(sip.NewHeader("Accept", a))
		}
		if got := accepts(req, tt.ev); got != tt.want {
			t.Errorf("Accept %q for %v: %v, want %v", tt.accept, tt.ev, got, tt.want)
		}
	}
}
