package call

import (
	"errors"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/b2bua/b2bua/actors/dialog"
)

func TestParseReferTo(t *testing.T) {
	for _, tc := range []struct {
		name     string
		values   []string
		uri      string // the target's String()
		replaces string
		err      error
	}{
		{"name-addr", []string{"<sip:carol@example.com>"}, "sip:carol@example.com", "", nil},
		{"display name and header params", []string{`"Carol" <sip:carol@example.com;transport=tcp>;foo=bar`}, "sip:carol@example.com;transport=tcp", "", nil},
		{"addr-spec", []string{"sip:carol@example.com"}, "sip:carol@example.com", "", nil},
		{"addr-spec with header params", []string{"sip:carol@example.com;x=1"}, "sip:carol@example.com", "", nil},
		{"sips and a port", []string{"<sips:carol@192.0.2.1:5061>"}, "sips:carol@192.0.2.1:5061", "", nil},
		{"Replaces unescaped, headers dropped", []string{"<sip:carol@example.com?Replaces=abc%40h%3Bto-tag%3D1%3Bfrom-tag%3D2&Foo=x>"},
			"sip:carol@example.com", "abc@h;to-tag=1;from-tag=2", nil},
		{"none", nil, "", "", errReferTo},
		{"empty", []string{""}, "", "", errReferTo},
		{"two headers", []string{"<sip:a@example.com>", "<sip:b@example.com>"}, "", "", errReferTo},
		{"two values in one", []string{"<sip:a@example.com>, <sip:b@example.com>"}, "", "", errReferTo},
		{"comma inside <> is one value", []string{`"A, B" <sip:a@example.com>`}, "sip:a@example.com", "", nil},
		{"method=INVITE", []string{"<sip:carol@example.com;method=INVITE>"}, "sip:carol@example.com", "", nil},
		{"method=BYE", []string{"<sip:carol@example.com;method=BYE>"}, "", "", errReferMethod},
		{"tel", []string{"<tel:+15551234>"}, "", "", errReferScheme},
		{"http", []string{"<http://example.com/>"}, "", "", errReferScheme},
		{"no scheme", []string{"<carol>"}, "", "", errReferTo},
		{"no host", []string{"<sip:carol@>"}, "", "", errReferTo},
		{"unclosed <", []string{"<sip:carol@example.com"}, "", "", errReferTo},
		{"bad escape", []string{"<sip:carol@example.com?Replaces=%zz>"}, "", "", errReferTo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseReferTo(tc.values)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if got := r.uri.String(); got != tc.uri {
				t.Errorf("uri = %q, want %q", got, tc.uri)
			}
			if r.replaces != tc.replaces {
				t.Errorf("replaces = %q, want %q", r.replaces, tc.replaces)
			}
		})
	}
}

func TestParseReplaces(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want dialog.ID
		err  error
	}{
		{"abc@h;to-tag=1;from-tag=2", dialog.ID{CallID: "abc@h", LocalTag: "1", RemoteTag: "2"}, nil},
		{"abc@h; from-tag=2 ;to-tag=1;early-only", dialog.ID{CallID: "abc@h", LocalTag: "1", RemoteTag: "2"}, nil},
		{"abc@h;TO-TAG=1;From-Tag=2", dialog.ID{CallID: "abc@h", LocalTag: "1", RemoteTag: "2"}, nil},
		{"abc@h", dialog.ID{}, errReferTo},
		{"abc@h;to-tag=1", dialog.ID{}, errReferTo},
		{";to-tag=1;from-tag=2", dialog.ID{}, errReferTo},
		{"", dialog.ID{}, errReferTo},
	} {
		got, err := parseReplaces(tc.v)
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("parseReplaces(%q) = %+v, %v; want %+v, %v", tc.v, got, err, tc.want, tc.err)
		}
	}
}

func TestSipfrag(t *testing.T) {
	for _, tc := range []struct {
		code   int
		reason string
		want   string
	}{
		{100, "Trying", "SIP/2.0 100 Trying\r\n"},
		{180, "Ringing", "SIP/2.0 180 Ringing\r\n"},
		{200, "OK", "SIP/2.0 200 OK\r\n"},
		{486, "", "SIP/2.0 486 Busy Here\r\n"},
		{480, "No Answer", "SIP/2.0 480 No Answer\r\n"},
	} {
		if got := string(sipfrag(tc.code, tc.reason)); got != tc.want {
			t.Errorf("sipfrag(%d, %q) = %q, want %q", tc.code, tc.reason, got, tc.want)
		}
		// The body is a status line sipgo itself reads back (RFC 3420).
		res, err := sip.ParseMessage([]byte(string(sipfrag(tc.code, tc.reason)) + "\r\n"))
		if r, ok := res.(*sip.Response); err != nil || !ok || r.StatusCode != tc.code {
			t.Errorf("sipfrag(%d) does not parse back: %v", tc.code, err)
		}
	}
}

func TestByQ(t *testing.T) {
	cs := []Contact{{URI: "a", Q: 500}, {URI: "b", Q: -1}, {URI: "c", Q: 500}, {URI: "d", Q: 1000}}
	var got []string
	for _, g := range byQ(cs) {
		var us []string
		for _, c := range g {
			us = append(us, c.URI)
		}
		got = append(got, strings.Join(us, ","))
	}
	if want := "b,d|a,c"; strings.Join(got, "|") != want {
		t.Fatalf("groups = %q, want %q", strings.Join(got, "|"), want)
	}
}

// FuzzReferTo: any Refer-To value parses or fails cleanly, a target it
// accepts is a SIP URI with a host and no headers, and a Replaces it
// carries parses to a whole dialog id or fails.
func FuzzReferTo(f *testing.F) {
	for _, s := range []string{"<sip:carol@example.com>", `"C" <sips:c@h:5061;transport=tcp>;p=1`, "sip:c@h",
		"<sip:c@h?Replaces=a%40b%3Bto-tag%3D1>", "<tel:+1>", "<", "<sip:@>", "a, b", `"x,<y" <sip:z@h>`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		r, err := parseReferTo([]string{v})
		if err != nil {
			return
		}
		if r.uri.Host == "" || r.uri.Headers != nil {
			t.Fatalf("%q: accepted %+v", v, r.uri)
		}
		if s := strings.ToLower(r.uri.Scheme); s != "sip" && s != "sips" {
			t.Fatalf("%q: scheme %q", v, r.uri.Scheme)
		}
		if id, err := parseReplaces(r.replaces); err == nil && (id.CallID == "" || id.LocalTag == "" || id.RemoteTag == "") {
			t.Fatalf("%q: Replaces %+v", v, id)
		}
	})
}
