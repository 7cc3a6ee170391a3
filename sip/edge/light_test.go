package edge

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/registrar"
	"github.com/b2bua/b2bua/sip/status"
)

var (
	lightSrc  = netip.MustParseAddrPort("192.0.2.4:5062")
	lightSrc6 = netip.MustParseAddrPort("[2001:db8::4]:5062")
)

// lightBase is the bench's REGISTER; lightCase edits its lines.
var lightBase = []string{
	"REGISTER sip:localhost SIP/2.0",
	"Via: SIP/2.0/UDP 192.0.2.4:5062;branch=z9hG4bK-1;rport",
	"Max-Forwards: 70",
	"From: <sip:alice@localhost>;tag=t1",
	"To: <sip:alice@localhost>",
	"Call-ID: c1@e2e",
	"CSeq: 1 REGISTER",
	"Contact: <sip:alice@192.0.2.4:5062>",
	"Expires: 3600",
	"Content-Length: 0",
}

// lightRequest is lightBase with the line whose name (up to ':') matches
// an edit's replaced (or removed, when the edit is the name alone), and the
// other edits, and those starting with '+' (without it), appended before
// the empty line.
func lightRequest(edits ...string) []byte {
	lines := append([]string(nil), lightBase...)
	for _, e := range edits {
		name, _, hasValue := strings.Cut(e, ":")
		found := false
		if a, ok := strings.CutPrefix(e, "+"); ok {
			lines, found = append(lines, a), true
		}
		for i, l := range lines {
			if n, _, ok := strings.Cut(l, ":"); ok && i > 0 && n == name && !found {
				found = true
				if hasValue {
					lines[i] = e
				} else {
					lines = append(lines[:i], lines[i+1:]...)
				}
				break
			}
		}
		if !found {
			lines = append(lines, e)
		}
	}
	return []byte(strings.Join(lines, "\r\n") + "\r\n\r\n")
}

func TestLightParse(t *testing.T) {
	takes := []struct {
		name string
		data []byte
		want registrar.Register // Source from lightSrc
	}{
		{"bench shape", lightRequest(), registrar.Register{
			AOR: "sip:alice@localhost", CallID: "c1@e2e", CSeq: 1, Branch: "z9hG4bK-1", Expires: 3600,
			Contacts: []registrar.Contact{{URI: "sip:alice@192.0.2.4:5062", Q: -1, Expires: -1}},
		}},
		{"compact forms, display names, parameters, other headers", lightRequest(
			"Via", "Max-Forwards", "From", "To", "Call-ID", "CSeq", "Contact", "Expires", "Content-Length",
			"v:  SIP/2.0/UDP pc.example.com:5070;branch=z9hG4bK-2 ",
			"+v: SIP/2.0/TCP proxy.example.com;branch=z9hG4bK-0;received=192.0.2.9",
			`f: "Alice" <sip:Alice@LocalHost;transport=udp>;tag=abc`,
			"t: Alice <sip:Alice@LOCALHOST>",
			"i: xyz", "CSeq: 0042 REGISTER",
			`m: <sips:alice@pc.example.com;transport=tls>;q=0.7;expires=60;+sip.instance="<urn:uuid:1-2>";reg-id=1`,
			"Contact: sip:alice@198.51.100.1;q=1.0", "l: 0",
			"User-Agent: Softphone 1.0 (x)", "Allow: INVITE, ACK", "Supported: path, outbound", "X-Foo:",
		), registrar.Register{
			AOR: "sip:Alice@localhost", CallID: "xyz", CSeq: 42, Branch: "z9hG4bK-2", Expires: -1, UA: "Softphone 1.0 (x)",
			Contacts: []registrar.Contact{
				{URI: "sips:alice@pc.example.com;transport=tls", Q: 700, Expires: 60, InstanceID: "urn:uuid:1-2", RegID: 1},
				{URI: "sip:alice@198.51.100.1", Q: 1000, Expires: -1},
			},
		}},
		{"wildcard", lightRequest("Contact: *", "Expires: 0"), registrar.Register{
			AOR: "sip:alice@localhost", CallID: "c1@e2e", CSeq: 1, Branch: "z9hG4bK-1", Wildcard: true,
		}},
		{"query, expires saturating", lightRequest("Contact", "Expires: 99999999999999999999999"), registrar.Register{
			AOR: "sip:alice@localhost", CallID: "c1@e2e", CSeq: 1, Branch: "z9hG4bK-1", Expires: maxExpires,
		}},
	}
	for _, c := range takes {
		t.Run(c.name, func(t *testing.T) {
			var r lightRegister
			if !lightParse(c.data, &r) {
				t.Fatalf("refused:\n%s", c.data)
			}
			var got registerMsg
			lightMessage(&got, &r, lightSrc)
			c.want.Source = "UDP:" + lightSrc.String()
			if !reflect.DeepEqual(got.msg, c.want) {
				t.Fatalf("got  %+v\nwant %+v", got.msg, c.want)
			}
			sameAsSipgo(t, c.data)
		})
	}

	refuses := map[string][]byte{
		"not REGISTER":          bytes.Replace(lightRequest(), []byte("REGISTER sip"), []byte("OPTIONS sip"), 1),
		"SIP/3.0":               bytes.Replace(lightRequest(), []byte("SIP/2.0\r\n"), []byte("SIP/3.0\r\n"), 1),
		"request URI in caps":   bytes.Replace(lightRequest(), []byte("REGISTER sip:"), []byte("REGISTER SIP:"), 1),
		"tel request URI":       bytes.Replace(lightRequest(), []byte("REGISTER sip:localhost"), []byte("REGISTER tel:+1"), 1),
		"folded":                lightRequest("Expires: 3600\r\n 0"),
		"tab":                   lightRequest("Expires:\t3600"),
		"bare LF":               lightRequest("X-A: a\nb"),
		"control character":     lightRequest("User-Agent: a\x01"),
		"non-ASCII":             lightRequest("User-Agent: caf\xc3\xa9"),
		"body":                  append(lightRequest(), "v=0"...),
		"Content-Length 3":      lightRequest("Content-Length: 3"),
		"Content-Type":          lightRequest("Content-Type: application/sdp"),
		"Route":                 lightRequest("Route: <sip:p.example.com;lr>"),
		"Record-Route":          lightRequest("Record-Route: <sip:p.example.com;lr>"),
		"Require":               lightRequest("Require: path"),
		"Proxy-Require":         lightRequest("Proxy-Require: foo"),
		"Path":                  lightRequest("Path: <sip:p.example.com;lr>"),
		"Max-Forwards 0":        lightRequest("Max-Forwards: 0"),
		"Max-Forwards x":        lightRequest("Max-Forwards: x"),
		"CSeq method":           lightRequest("CSeq: 1 INVITE"),
		"CSeq two spaces":       lightRequest("CSeq: 1  REGISTER"),
		"CSeq too large":        lightRequest("CSeq: 2147483648 REGISTER"),
		"no Call-ID":            lightRequest("Call-ID"),
		"no Via":                lightRequest("Via"),
		"two From":              lightRequest("+From: <sip:a@localhost>;tag=1"),
		"two Call-ID":           lightRequest("i: other"),
		"two Expires":           lightRequest("expires: 60"),
		"From tag twice":        lightRequest("From: <sip:alice@localhost>;tag=1;tag=2"),
		"To without user":       lightRequest("To: <sip:localhost>"),
		"To IPv6":               lightRequest("To: <sip:alice@[2001:db8::1]>"),
		"To quoted escape":      lightRequest(`To: "A\"B" <sip:alice@localhost>`),
		"Via received on top":   lightRequest("Via: SIP/2.0/UDP 192.0.2.4:5062;branch=z9hG4bK-1;received=192.0.2.4"),
		"Via comma":             lightRequest("Via: SIP/2.0/UDP a;branch=z9hG4bK-1, SIP/2.0/UDP b;branch=z9hG4bK-2"),
		"Via IPv6":              lightRequest("Via: SIP/2.0/UDP [2001:db8::1]:5062;branch=z9hG4bK-1"),
		"Via port 0":            lightRequest("Via: SIP/2.0/UDP 192.0.2.4:0;branch=z9hG4bK-1"),
		"Via empty parameter":   lightRequest("Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bK-1;;rport"),
		"Via trailing ;":        lightRequest("Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bK-1;"),
		"five Vias":             lightRequest("+Via: SIP/2.0/UDP a;branch=1", "+Via: SIP/2.0/UDP b;branch=2", "+Via: SIP/2.0/UDP c;branch=3", "+Via: SIP/2.0/UDP d;branch=4"),
		"two Contacts in one":   lightRequest("Contact: <sip:a@h1>, <sip:a@h2>"),
		"Contact password":      lightRequest("Contact: <sip:alice:pw@h>"),
		"Contact IPv6":          lightRequest("Contact: <sip:alice@[2001:db8::1]:5062>"),
		"Contact port 0":        lightRequest("Contact: <sip:alice@h:0>"),
		"Contact port 05060":    lightRequest("Contact: <sip:alice@h:05060>"),
		"Contact URI headers":   lightRequest("Contact: <sip:alice@h?subject=x>"),
		"Contact tel":           lightRequest("Contact: <tel:+1555>"),
		"Contact in caps":       lightRequest("Contact: <SIP:alice@h>"),
		"Contact empty param":   lightRequest("Contact: <sip:alice@h;lr=>"),
		"Contact param twice":   lightRequest("Contact: <sip:alice@h;a=1;a=2>"),
		"Contact q 0.5000":      lightRequest("Contact: <sip:alice@h>;q=0.5000"),
		"Contact q 2":           lightRequest("Contact: <sip:alice@h>;q=2"),
		"Contact q quoted":      lightRequest(`Contact: <sip:alice@h>;q="0.5"`),
		"Contact expires x":     lightRequest("Contact: <sip:alice@h>;expires=x"),
		"Contact reg-id 0":      lightRequest("Contact: <sip:alice@h>;reg-id=0"),
		"Contact quoted ;":      lightRequest(`Contact: <sip:alice@h>;+sip.instance="<urn:a;b>"`),
		"Contact display <":     lightRequest(`Contact: "a<b" <sip:alice@h>`),
		"Contact trailing ;":    lightRequest("Contact: <sip:alice@h>;"),
		"Contact % escape":      lightRequest("Contact: <sip:al%20ice@h>;x=\"a b\""),
		"Contact bad host":      lightRequest("Contact: <sip:alice@-h>"),
		"five Contacts":         lightRequest("+Contact: <sip:a@h1>", "+Contact: <sip:a@h2>", "+Contact: <sip:a@h3>", "+Contact: <sip:a@h4>"),
		"Expires x":             lightRequest("Expires: x"),
		"header without colon":  lightRequest("Foo"),
		"header name not token": lightRequest("Fo o: x"),
	}
	for name, data := range refuses {
		t.Run(name, func(t *testing.T) {
			var r lightRegister
			if lightParse(data, &r) {
				t.Fatalf("took:\n%s", data)
			}
		})
	}
}

// TestLightHead holds appendLightHead against captureHead for the raw
// reply cases lightParse takes.
func TestLightHead(t *testing.T) {
	taken := 0
	for _, c := range rawCases {
		data := []byte(strings.Join(c.req, "\r\n") + "\r\n\r\n")
		var r lightRegister
		if !lightParse(data, &r) {
			continue
		}
		taken++
		t.Run(c.name, func(t *testing.T) { sameAsSipgo(t, data) })
	}
	if taken == 0 {
		t.Fatal("lightParse took none of the raw reply cases")
	}
}

// sameAsSipgo asserts that a request lightParse takes is one sipgo's path
// takes too, with the same message to the registrar, the same check of
// the domains, the same head of the response and the same address for it,
// from an IPv4 and an IPv6 source.
func sameAsSipgo(t *testing.T, data []byte) {
	t.Helper()
	sameAsSipgoFrom(t, bytes.Clone(data), lightSrc)
	sameAsSipgoFrom(t, data, lightSrc6)
}

func sameAsSipgoFrom(t *testing.T, data []byte, src netip.AddrPort) {
	t.Helper()
	orig := bytes.Clone(data)
	var r lightRegister
	if !lightParse(data, &r) {
		t.Fatalf("refused:\n%s", data)
	}
	var m registerMsg
	toHost := lightMessage(&m, &r, src)
	msg := &m.msg
	hp := bufPool.Get().(*[]byte)
	head, ok := appendLightHead((*hp)[:0], &r, src)
	if !ok {
		t.Fatalf("no head for\n%s", data)
	}
	var light udpResponder
	light.replyTo(src, r.rport, r.viaPort)
	s := &Server{conf: Config{Domain: "localhost"}, log: zap.NewNop(), hosts: map[string]bool{"localhost": true}}
	lightErr := s.lightDomains(r.ruriHost, toHost)
	for i := range data { // nothing kept may point into the datagram: the read loop reuses it
		data[i] = 'X'
	}

	parsed, err := sip.NewParser().ParseSIP(orig)
	if err != nil {
		t.Fatalf("sipgo refuses what lightParse took: %v\n%q", err, orig)
	}
	req, ok := parsed.(*sip.Request)
	if !ok || req.Method != sip.REGISTER || !takeStateless(req) {
		t.Fatalf("sipgo reads otherwise\n%q", orig)
	}
	if err := check(req); err != nil {
		t.Fatalf("check: %v\n%q", err, orig)
	}
	source := "UDP:" + src.String()
	want, err := s.toRegister(req, source)
	switch {
	case err != nil && lightErr == nil:
		t.Fatalf("toRegister: %v, lightParse took it\n%q", err, orig)
	case err != nil:
		c1, r1 := status.Of(err)
		c2, r2 := status.Of(lightErr)
		if c1 != c2 || r1 != r2 {
			t.Fatalf("toRegister: %v, light: %v\n%q", err, lightErr, orig)
		}
	case lightErr != nil:
		t.Fatalf("light: %v, toRegister took it\n%q", lightErr, orig)
	case !reflect.DeepEqual(*msg, *want):
		t.Fatalf("light %+v\nsipgo %+v\n%q", *msg, *want, orig)
	}
	captured := captureHead(orig, req, src)
	if captured == nil {
		t.Fatalf("captureHead refuses what lightParse took\n%q", orig)
	}
	if string(head) != string(*captured) {
		t.Fatalf("head\n%s--- captureHead\n%s--- request\n%q", head, *captured, orig)
	}
	var old udpResponder
	old.reply(req, src)
	if old.addr.String() != light.addr.String() {
		t.Fatalf("answer to %v, sipgo's path %v\n%q", &light.addr, &old.addr, orig)
	}
	bufPool.Put(hp)
	bufPool.Put(captured)
}

// FuzzLightParse asserts that every request lightParse takes is one
// sipgo's path takes too, with the same message to the registrar (or the
// same error), the same head of the response and the same address for it.
func FuzzLightParse(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	for _, c := range rawCases {
		f.Add([]byte(strings.Join(c.req, "\r\n") + "\r\n\r\n"))
	}
	f.Add(lightRequest())
	f.Add(lightRequest("Contact: <sips:a@pc.example.com;transport=tls>;q=0.7;expires=60;+sip.instance=\"<urn:uuid:1-2>\";reg-id=1",
		"User-Agent: x y", "t: \"B\" <sip:b@Example.COM;x=1>;tag=2", "Request-URI"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r lightRegister
		if !lightParse(bytes.Clone(data), &r) {
			return
		}
		sameAsSipgo(t, bytes.Clone(data)) // it overwrites what it read
	})
}

// TestLightAnswers: the answers of the light path (registeredLight,
// failLight, overloaded, expire) are byte for byte those the raw writer
// gives the sipgo path's request, for every raw reply case lightParse
// takes.
func TestLightAnswers(t *testing.T) {
	now := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	ok := &registrar.RegisterResult{Now: now, Bindings: []registrar.Binding{
		{Contact: "sip:a@192.0.2.1:5060", Q: -1, Expires: now.Add(3600 * time.Second).UnixNano()},
		{Contact: "sip:a@192.0.2.3", Q: 500, Expires: now.Add(time.Second).UnixNano(), InstanceID: "urn:uuid:1", RegID: 1},
	}}
	brief := &registrar.RegisterResult{Now: now, Err: &registrar.IntervalTooBriefError{MinExpires: 60}}
	cases := []struct {
		name  string
		light func(s *Server, w *answer)
		sipgo func(s *Server, req *sip.Request, w responder)
	}{
		{"200", func(s *Server, w *answer) { s.registeredLight(w, &registrar.Register{CallID: "c"}, ok) },
			func(s *Server, req *sip.Request, w responder) { s.registered(req, w, "sip:a@localhost", ok) }},
		{"423", func(s *Server, w *answer) { s.registeredLight(w, &registrar.Register{CallID: "c"}, brief) },
			func(s *Server, req *sip.Request, w responder) { s.registered(req, w, "sip:a@localhost", brief) }},
		{"403", func(s *Server, w *answer) { s.failLight(w, "c", status.New(status.Forbidden, "Foreign Domain")) },
			func(s *Server, req *sip.Request, w responder) {
				s.fail(req, w, status.New(status.Forbidden, "Foreign Domain"))
			}},
		{"500", func(s *Server, w *answer) { s.failLight(w, "c", errors.New("boom")) },
			func(s *Server, req *sip.Request, w responder) { s.fail(req, w, errors.New("boom")) }},
		{"500 expired", func(s *Server, w *answer) { w.expire() },
			// What expire answers with a sip.Response, in the raw writer.
			func(s *Server, req *sip.Request, w responder) { s.fail(req, w, ErrNoReply) }},
		{"503", func(s *Server, w *answer) { s.overloaded(nil, w) },
			func(s *Server, req *sip.Request, w responder) { s.overloaded(req, w) }},
	}
	taken := 0
	for _, rc := range rawCases {
		data := []byte(strings.Join(rc.req, "\r\n") + "\r\n\r\n")
		var r lightRegister
		if !lightParse(data, &r) {
			continue
		}
		taken++
		for _, c := range cases {
			t.Run(c.name+"/"+rc.name, func(t *testing.T) {
				raw, _ := rawAnswers(t, rc, c.sipgo)
				got := lightAnswers(t, rc, c.light)
				if got != raw {
					t.Errorf("light answer differs\n--- light\n%s--- raw\n%s", got, raw)
				}
			})
		}
	}
	if taken == 0 {
		t.Fatal("lightParse took none of the raw reply cases")
	}
}

// lightAnswers answers the case's request, read by lightParse, through fn
// and returns the answer as written.
func lightAnswers(t *testing.T, c rawCase, fn func(s *Server, w *answer)) string {
	t.Helper()
	src := c.src
	if src == nil {
		src = &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 40000}
	}
	data := []byte(strings.Join(c.req, "\r\n") + "\r\n\r\n")
	var r lightRegister
	if !lightParse(data, &r) {
		t.Fatal("refused")
	}
	bp := bufPool.Get().(*[]byte)
	b, ok := appendLightHead((*bp)[:0], &r, src.AddrPort())
	if !ok {
		t.Fatal("no head")
	}
	*bp = b
	s := &Server{conf: Config{UserAgent: "b2bua", MaxInFlight: 10}, log: zap.NewNop(), metrics: NewMetrics(nil), server: sip.NewHeader("Server", "b2bua")}
	sender, client := senderPair(t)
	x := &lightAnswer{}
	u := &x.udp
	u.sender, u.to, u.head = sender, client.LocalAddr(), bp
	w := &x.answer
	w.s, w.next, w.label = s, u, metricLabel(sip.REGISTER)
	fn(s, w)
	buf := make([]byte, 4096)
	_ = client.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := client.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

// BenchmarkReadRegister is the cost of reading the bench's REGISTER into
// the registrar's message and the response's head: lightParse against
// sipgo's parse (the path of anything lightParse refuses).
//
//	go test ./sip/edge -run '^$' -bench ReadRegister -benchmem
func BenchmarkReadRegister(b *testing.B) {
	data := lightRequest()
	s := &Server{conf: Config{Domain: "localhost"}, log: zap.NewNop(), hosts: map[string]bool{"localhost": true}}
	source := "UDP:" + lightSrc.String()
	b.Run("light", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r lightRegister
			if !lightParse(data, &r) {
				b.Fatal("refused")
			}
			x := &lightAnswer{}
			toHost := lightMessage(&x.m, &r, lightSrc)
			if s.lightDomains(r.ruriHost, toHost) != nil {
				b.Fatal("domains")
			}
			hp := bufPool.Get().(*[]byte)
			*hp, _ = appendLightHead((*hp)[:0], &r, lightSrc)
			bufPool.Put(hp)
		}
	})
	b.Run("sipgo", func(b *testing.B) {
		parser := sip.NewParser()
		b.ReportAllocs()
		for b.Loop() {
			msg, err := parser.ParseSIP(data)
			if err != nil {
				b.Fatal(err)
			}
			req := msg.(*sip.Request)
			if check(req) != nil {
				b.Fatal("check")
			}
			if _, err := s.toRegister(req, source); err != nil {
				b.Fatal(err)
			}
			if hp := captureHead(data, req, lightSrc); hp != nil {
				bufPool.Put(hp)
			}
		}
	})
}
