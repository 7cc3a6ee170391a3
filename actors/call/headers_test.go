package call

import (
	"slices"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// TestHeadersNamed: headersNamed finds what GetHeaders finds, in the same
// order, whatever the case of the name asked and of the headers', and
// without allocating; has, sessionExpires and minSE read through it.
func TestHeadersNamed(t *testing.T) {
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", Host: "192.0.2.1"})
	req.AppendHeader(sip.NewHeader("Supported", "timer, 100rel"))
	req.AppendHeader(sip.NewHeader("session-expires", "1800;refresher=UAC"))
	req.AppendHeader(sip.NewHeader("Min-SE", "120"))
	req.AppendHeader(sip.NewHeader("SUPPORTED", "replaces"))
	req.AppendHeader(sip.NewHeader("X-Trace", "1"))
	req.AppendHeader(sip.NewHeader("Record-Route", "<sip:p1;lr>"))
	req.AppendHeader(sip.NewHeader("record-route", "<sip:p2;lr>"))
	for _, name := range []string{"Supported", "supported", "Session-Expires", "Min-SE", "min-se", "X-Trace", "Record-Route", "Require", "x"} {
		got := slices.Collect(headersNamed(req, name))
		want := req.GetHeaders(name)
		if !slices.Equal(got, want) {
			t.Errorf("headersNamed(%q) = %v, GetHeaders says %v", name, got, want)
		}
		if h := headerNamed(req, name); (h == nil) != (len(want) == 0) || h != nil && h != want[0] {
			t.Errorf("headerNamed(%q) = %v, want the first of %v", name, h, want)
		}
	}
	for _, tt := range []struct {
		header, tag string
		want        bool
	}{
		{"Supported", "timer", true},
		{"Supported", "100REL", true},
		{"supported", "replaces", true},
		{"Supported", "norefersub", false},
		{"Require", "timer", false},
	} {
		if got := has(req, tt.header, tt.tag); got != tt.want {
			t.Errorf("has(%s, %s) = %v, want %v", tt.header, tt.tag, got, tt.want)
		}
	}
	if se, ref, ok := sessionExpires(req); !ok || se.Seconds() != 1800 || ref != "uac" {
		t.Errorf("sessionExpires = %v %q %v", se, ref, ok)
	}
	if se := minSE(req); se.Seconds() != 120 {
		t.Errorf("minSE = %v", se)
	}
	if n := testing.AllocsPerRun(10, func() {
		has(req, "Supported", "replaces")
		minSE(req)
		headerNamed(req, "Require")
	}); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
