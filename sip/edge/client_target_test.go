package edge

import (
	"testing"

	"github.com/emiago/sipgo/sip"
)

// TestTarget: target gives what sipgo's Request.Transport and Destination
// give, for requests with and without Via and Route, with the transport
// or destination set, and for URIs of every scheme, transport and port.
func TestTarget(t *testing.T) {
	tests := []struct {
		name, uri  string
		headers    []sip.Header
		tp, dest   string // set on the request when not empty
		want       string // transport and destination, for the record
		wantNoCost bool   // at most one allocation (the destination's string)
	}{
		{name: "udp", uri: "sip:w@127.0.0.1:5070", want: "UDP 127.0.0.1:5070", wantNoCost: true},
		{name: "no port", uri: "sip:w@192.0.2.1", want: "UDP 192.0.2.1:5060", wantNoCost: true},
		{name: "tcp", uri: "sip:w@192.0.2.1;transport=tcp", want: "TCP 192.0.2.1:5060", wantNoCost: true},
		{name: "sips", uri: "sips:w@192.0.2.1", want: "UDP 192.0.2.1:5060", wantNoCost: true},
		{name: "sips tcp", uri: "sips:w@192.0.2.1;transport=TCP", want: "TLS 192.0.2.1:5061", wantNoCost: true},
		{name: "ws", uri: "sip:w@example.org;transport=ws", want: "WS example.org:80", wantNoCost: true},
		{name: "sips ws", uri: "sips:w@example.org;transport=ws", want: "WSS example.org:443", wantNoCost: true},
		{name: "empty transport", uri: "sip:w@192.0.2.1:5080;transport=", want: "UDP 192.0.2.1:5080", wantNoCost: true},
		{name: "odd transport", uri: "sip:w@192.0.2.1;transport=sctp", want: "SCTP 192.0.2.1:5060"},
		{name: "mixed case transport", uri: "sip:w@192.0.2.1;transport=Tls", want: "TLS 192.0.2.1:5061", wantNoCost: true},
		{name: "ipv6", uri: "sip:w@[2001:db8::1]:5070", want: "UDP [2001:db8::1]:5070", wantNoCost: true},
		{name: "set", uri: "sip:w@192.0.2.1", tp: "TCP", dest: "198.51.100.7:5099", want: "TCP 198.51.100.7:5099", wantNoCost: true},
		{name: "transport set", uri: "sip:w@192.0.2.1", tp: "TLS", want: "TLS 192.0.2.1:5061", wantNoCost: true},
		{name: "destination set", uri: "sip:w@192.0.2.1;transport=tcp", dest: "198.51.100.7:5099", want: "TCP 198.51.100.7:5099", wantNoCost: true},
		{name: "route", uri: "sip:w@192.0.2.1", headers: []sip.Header{sip.NewHeader("Route", "<sip:proxy.example.org:5090;transport=tcp;lr>")}, want: "TCP proxy.example.org:5090"},
		{name: "route lower case", uri: "sip:w@192.0.2.1", headers: []sip.Header{sip.NewHeader("route", "<sip:198.51.100.9;lr>")}, want: "UDP 198.51.100.9:5060"},
		{name: "via", uri: "sip:w@192.0.2.1", headers: []sip.Header{sip.NewHeader("Via", "SIP/2.0/TCP 192.0.2.9:5060;branch=z9hG4bK-1")}, want: "TCP 192.0.2.1:5060"},
		{name: "compact via", uri: "sip:w@192.0.2.1", headers: []sip.Header{sip.NewHeader("v", "SIP/2.0/TCP 192.0.2.9:5060;branch=z9hG4bK-1")}, want: "TCP 192.0.2.1:5060"},
		{name: "other headers", uri: "sip:w@192.0.2.1:5070", headers: []sip.Header{sip.NewHeader("Event", "presence"), sip.NewHeader("Subscription-State", "active")}, want: "UDP 192.0.2.1:5070", wantNoCost: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			build := func() *sip.Request {
				var u sip.Uri
				if err := sip.ParseUri(tt.uri, &u); err != nil {
					t.Fatal(err)
				}
				req := sip.NewRequest(sip.NOTIFY, u)
				for _, h := range tt.headers {
					req.AppendHeader(h)
				}
				if tt.tp != "" {
					req.SetTransport(tt.tp)
				}
				if tt.dest != "" {
					req.SetDestination(tt.dest)
				}
				return req
			}
			tp, dest := target(build())
			sipgo := build()
			if wtp, wdest := sipgo.Transport(), sipgo.Destination(); tp != wtp || dest != wdest {
				t.Errorf("target = %s %s, sipgo says %s %s", tp, dest, wtp, wdest)
			}
			if got := tp + " " + dest; got != tt.want {
				t.Errorf("target = %s, want %s", got, tt.want)
			}
			if tt.wantNoCost {
				req := build()
				if n := testing.AllocsPerRun(10, func() { target(req) }); n > 1 {
					t.Errorf("target allocates %v times", n)
				}
			}
		})
	}
}

// TestHas: has finds a header by its lower-case name whatever its case in
// the message, as sipgo's lookups do.
func TestHas(t *testing.T) {
	req := sip.NewRequest(sip.MESSAGE, sip.Uri{Scheme: "sip", Host: "192.0.2.1"})
	req.AppendHeader(sip.NewHeader("max-forwards", "10"))
	req.AppendHeader(sip.NewHeader("Event", "presence"))
	for _, tt := range []struct {
		names []string
		want  bool
	}{
		{[]string{"max-forwards"}, true},
		{[]string{"via", "v", "route"}, false},
		{[]string{"route", "event"}, true},
		{nil, false},
	} {
		if got := has(req, tt.names...); got != tt.want {
			t.Errorf("has(%q) = %v, want %v", tt.names, got, tt.want)
		}
		if got := req.MaxForwards() != nil; !got {
			t.Error("sipgo does not see the lower-case Max-Forwards: has and sipgo disagree")
		}
	}
}

// TestComplete: complete adds what sipgo's lookups and SetBody did, in the
// same places (the wire is the same), for requests with and without a
// body, Max-Forwards and Content-Length.
func TestComplete(t *testing.T) {
	for _, tt := range []struct {
		name    string
		body    []byte
		headers []sip.Header
	}{
		{name: "bare"},
		{name: "body", body: []byte("hello"), headers: []sip.Header{sip.NewHeader("Content-Type", "text/plain")}},
		{name: "max-forwards", headers: []sip.Header{sip.NewHeader("Max-Forwards", "12")}},
		{name: "content-length", headers: []sip.Header{sip.NewHeader("Event", "presence"), sip.NewHeader("content-length", "0")}},
		{name: "compact content-length", headers: []sip.Header{sip.NewHeader("l", "0")}},
		{name: "bad content-length", headers: []sip.Header{sip.NewHeader("Content-Length", "x")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			build := func() *sip.Request {
				req := sip.NewRequest(sip.MESSAGE, sip.Uri{Scheme: "sip", User: "b", Host: "192.0.2.1"})
				req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.MESSAGE})
				req.AppendHeader(sip.NewHeader("Date", "Sat, 28 Nov 2026 10:00:00 GMT"))
				for _, h := range tt.headers {
					req.AppendHeader(h)
				}
				if tt.body != nil {
					req.SetBody(tt.body)
				}
				return req
			}
			got := build()
			(&clientPort{}).complete(got)
			want := build() // what complete did with sipgo's lookups
			if want.MaxForwards() == nil {
				mf := sip.MaxForwardsHeader(70)
				want.AppendHeader(&mf)
			}
			if want.ContentLength() == nil {
				want.SetBody(want.Body())
			}
			if got.String() != want.String() {
				t.Errorf("complete:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
