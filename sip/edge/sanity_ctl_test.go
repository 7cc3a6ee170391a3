package edge

import (
	"fmt"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// checkControlCharsByValue is checkControlChars as it was before it
// scanned headers without building their values: the oracle the
// allocation-free version must agree with.
func checkControlCharsByValue(req *sip.Request) bool {
	values := []string{req.CallID().Value(), req.From().Value(), req.To().Value()}
	for _, name := range []string{"Contact", "User-Agent", "Path"} {
		for _, h := range req.GetHeaders(name) {
			values = append(values, h.Value())
		}
	}
	for _, v := range values {
		if hasCtl(v) {
			return true
		}
	}
	return false
}

// TestCheckControlCharsUnchanged compares checkControlChars with the
// Value()-based oracle on hand-made cases and on every golden request.
func TestCheckControlCharsUnchanged(t *testing.T) {
	base := []string{
		"REGISTER sip:localhost SIP/2.0",
		"Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-1;rport",
		"Max-Forwards: 70",
		"From: <sip:alice@localhost>;tag=1",
		"To: <sip:alice@localhost>",
		"Call-ID: c1@x",
		"CSeq: 1 REGISTER",
		"Contact: <sip:alice@127.0.0.1:5999>;expires=60",
		"Content-Length: 0",
	}
	with := func(old, new string) string {
		lines := make([]string, 0, len(base)+1)
		found := false
		for _, l := range base {
			if l == old {
				found = true
				if new == "" {
					continue
				}
				l = new
			}
			lines = append(lines, l)
		}
		if !found { // old is a header to add
			lines = append(lines[:len(lines)-1], new, lines[len(lines)-1])
		}
		return strings.Join(lines, "\r\n") + "\r\n\r\n"
	}
	cases := []struct{ name, raw string }{
		{"clean", with("", "")},
		{"from display name", with("From: <sip:alice@localhost>;tag=1", "From: \"a\x01b\" <sip:alice@localhost>;tag=1")},
		{"to user", with("To: <sip:alice@localhost>", "To: <sip:al\x7fice@localhost>")},
		{"from param", with("From: <sip:alice@localhost>;tag=1", "From: <sip:alice@localhost>;tag=1\x02")},
		{"contact uri param", with("Contact: <sip:alice@127.0.0.1:5999>;expires=60", "Contact: <sip:alice@127.0.0.1:5999;x=\x03>;expires=60")},
		{"compact contact", with("Contact: <sip:alice@127.0.0.1:5999>;expires=60", "m: <sip:a\x04@127.0.0.1>")},
		{"tel contact", with("Contact: <sip:alice@127.0.0.1:5999>;expires=60", "Contact: <tel:+1\x05555>")},
		{"second contact", with("Contact: <sip:alice@127.0.0.1:5999>;expires=60", "Contact: <sip:a@127.0.0.1>, <sip:b\x06@127.0.0.1>")},
		{"user agent", with("", "User-Agent: phone\x07 1.0")},
		{"lower-case user agent", with("", "user-agent: phone\x07 1.0")},
		{"user agent tab", with("", "User-Agent: phone\t1.0")},
		{"path", with("", "Path: <sip:p\x08@proxy;lr>")},
		{"other header ignored", with("", "Subject: x\x01y")},
		{"call-id", with("Call-ID: c1@x", "Call-ID: c\x0e1@x")},
		{"wildcard", with("Contact: <sip:alice@127.0.0.1:5999>;expires=60", "Contact: *")},
	}
	for i, raw := range seeds(t) { // every golden request
		cases = append(cases, struct{ name, raw string }{fmt.Sprintf("golden %d", i), string(raw)})
	}
	parser := sip.NewParser()
	checked, rejected := 0, 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := parser.ParseSIP([]byte(tc.raw))
			if err != nil {
				t.Skipf("sipgo rejects it: %v", err)
			}
			req, ok := msg.(*sip.Request)
			if !ok || req.CallID() == nil || req.From() == nil || req.To() == nil {
				t.Skip("not a request check() passes on to checkControlChars")
			}
			checked++
			want := checkControlCharsByValue(req)
			if want {
				rejected++
			}
			if got := checkControlChars(req) != nil; got != want {
				t.Fatalf("checkControlChars rejects = %v, the Value()-based check = %v", got, want)
			}
		})
	}
	if checked < len(cases)/2 || rejected < 8 {
		t.Fatalf("only %d of %d cases reached the check, %d rejected", checked, len(cases), rejected)
	}
	t.Logf("%d cases checked, %d rejected", checked, rejected)
}
