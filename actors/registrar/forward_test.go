package registrar

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// options parses an OPTIONS to alice as it would come off the wire, with
// extra header lines before Content-Length.
func options(t *testing.T, extra ...string) *sip.Request {
	t.Helper()
	lines := append([]string{
		"OPTIONS sip:alice@example.com SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-first",
		"Via: SIP/2.0/UDP 192.0.2.2:5060;branch=z9hG4bK-second",
		"From: <sip:bob@example.com>;tag=b",
		"To: <sip:alice@example.com>",
		"Call-ID: fwd-test",
		"CSeq: 1 OPTIONS",
		"Route: <sip:203.0.113.7;lr>",
		"Route: <sip:203.0.113.8;lr>",
		"authorization: Bearer sender-token",
		"Proxy-Authorization: Digest username=\"bob\"",
	}, extra...)
	lines = append(lines, "Content-Length: 0", "", "")
	msg, err := sip.NewParser().ParseSIP([]byte(strings.Join(lines, "\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	return msg.(*sip.Request)
}

// TestForwardRequest: the copy sent to a contact lowers Max-Forwards to
// min(received-1, 70) without touching the original (sipgo's Clone shares
// the header), starts a new Via stack, drops the sender's credentials,
// routes through Path alone, goes to the REGISTER's source when the
// contact is behind a NAT (else to the contact), and is refused
// when it would reach us again.
func TestForwardRequest(t *testing.T) {
	local := []string{HostPort("127.0.0.1", 5060), HostPort("127.0.0.1", 5061), HostPort("localhost", 5060), HostPort("::1", 5070)}
	// A contact behind a NAT: sent to the REGISTER's source (Flow).
	contact := Binding{Contact: "sip:alice@10.0.0.4:5070", Source: "udp:198.51.100.9:40000"}
	tests := []struct {
		name  string
		extra []string // header lines of the received request
		b     Binding
		local []string
		mf    uint32 // Max-Forwards of the copy
		dst   string // destination of the copy
		err   error
	}{
		{name: "no max-forwards starts at 70", b: contact, local: local, mf: 70, dst: "198.51.100.9:40000"},
		{name: "70 becomes 69", extra: []string{"Max-Forwards: 70"}, b: contact, local: local, mf: 69, dst: "198.51.100.9:40000"},
		{name: "71 is clamped to 70", extra: []string{"Max-Forwards: 71"}, b: contact, local: local, mf: 70, dst: "198.51.100.9:40000"},
		{name: "uint32 max is clamped to 70", extra: []string{"Max-Forwards: 4294967295"}, b: contact, local: local, mf: 70, dst: "198.51.100.9:40000"},
		{name: "1 becomes 0", extra: []string{"Max-Forwards: 1"}, b: contact, local: local, mf: 0, dst: "198.51.100.9:40000"},
		{name: "0 is not forwarded", extra: []string{"Max-Forwards: 0"}, b: contact, local: local, err: ErrTooManyHops},
		{name: "path routes, no source destination", b: Binding{Contact: "sip:alice@10.0.0.4", Source: "udp:198.51.100.9:40000",
			Path: []string{"<sip:edge.example.net;lr>"}}, local: local, mf: 70, dst: "edge.example.net:5060"},
		{name: "unparsable contact", b: Binding{Contact: "nonsense"}, local: local, err: ErrNoContact},
		{name: "contact without host", b: Binding{Contact: "sip:alice@"}, local: local, err: ErrNoContact},
		{name: "contact is our listener", b: Binding{Contact: "sip:x@127.0.0.1:5060", Source: "udp:198.51.100.9:40000"},
			local: local, err: ErrLoop},
		{name: "contact names us without a port", b: Binding{Contact: "sip:x@LOCALHOST", Source: "udp:198.51.100.9:40000"},
			local: local, err: ErrLoop},
		{name: "sips contact defaults to 5061", b: Binding{Contact: "sips:x@127.0.0.1", Source: "tcp:198.51.100.9:40000"},
			local: local, err: ErrLoop},
		{name: "ipv6 contact", b: Binding{Contact: "sip:x@[::1]:5070"}, local: local, err: ErrLoop},
		{name: "source is our listener", b: Binding{Contact: "sip:alice@10.0.0.4:5070", Source: "udp:127.0.0.1:5060"},
			local: local, err: ErrLoop},
		{name: "path leads to us", b: Binding{Contact: "sip:alice@198.51.100.4:5070", Path: []string{"<sip:127.0.0.1:5060;lr>"}},
			local: local, err: ErrLoop},
		{name: "another port of our host is not us", b: Binding{Contact: "sip:x@127.0.0.1:5080", Source: "udp:127.0.0.1:5080"},
			local: local, mf: 70, dst: "127.0.0.1:5080"},
		{name: "routable contact: the contact, not the source", b: Binding{Contact: "sip:alice@198.51.100.4:5070", Source: "udp:198.51.100.9:40000"},
			local: local, mf: 70, dst: "198.51.100.4:5070"},
		{name: "no source: the contact's address", b: Binding{Contact: "sip:alice@198.51.100.4:5070"}, local: local, mf: 70,
			dst: "198.51.100.4:5070"},
		{name: "no local list checks nothing", b: Binding{Contact: "sip:x@127.0.0.1:5060"}, mf: 70, dst: "127.0.0.1:5060"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := options(t, tc.extra...)
			before := req.String()
			out, err := forwardRequest(req, tc.b, tc.local)
			if after := req.String(); after != before {
				t.Fatalf("the received request changed:\n%s\nwas\n%s", after, before)
			}
			if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if mfs := out.GetHeaders("Max-Forwards"); len(mfs) != 1 || mfs[0].Value() != strconv.FormatUint(uint64(tc.mf), 10) {
				t.Errorf("Max-Forwards %v, want %d", mfs, tc.mf)
			}
			for _, h := range out.Headers() {
				switch strings.ToLower(h.Name()) {
				case "via", "authorization", "proxy-authorization":
					t.Errorf("%s kept: %s", h.Name(), h.Value())
				}
			}
			var routes []string
			for _, h := range out.GetHeaders("Route") {
				routes = append(routes, h.Value())
			}
			if strings.Join(routes, ",") != strings.Join(tc.b.Path, ",") {
				t.Errorf("Route %v, want the Path %v", routes, tc.b.Path)
			}
			if out.Destination() != tc.dst {
				t.Errorf("destination %q, want %q", out.Destination(), tc.dst)
			}
			if got := out.Recipient.String(); got != tc.b.Contact {
				t.Errorf("Request-URI %s, want %s", got, tc.b.Contact)
			}
		})
	}
}
