package edge

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/registrar"
	"github.com/b2bua/b2bua/sip/status"
)

// keepResponse is a responder that keeps the sip.Response: the path a request
// without a captured head (or the transaction path) takes.
type keepResponse struct{ res *sip.Response }

func (r *keepResponse) respond(res *sip.Response) { r.res = res }

// rawCase is a REGISTER read from src, answered both ways.
type rawCase struct {
	name string
	req  []string // lines, joined with CRLF
	src  *net.UDPAddr
	// fallback: captureHead must refuse it (a sip.Response answers).
	fallback bool
	// exact: the raw answer is byte for byte the sip.Response's; else
	// only equivalent (the same once sipgo parses and writes both).
	exact bool
}

var rawCases = []rawCase{
	{name: "bench shape, rport", exact: true, req: []string{
		"REGISTER sip:localhost SIP/2.0",
		"Via: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bK-e2e-1;rport",
		"Max-Forwards: 70",
		"From: <sip:e2e1@localhost>;tag=t1",
		"To: <sip:e2e1@localhost>",
		"Call-ID: c1@e2e",
		"CSeq: 1 REGISTER",
		"Contact: <sip:e2e1@127.0.0.1:40000>",
		"Expires: 3600",
		"Content-Length: 0",
	}},
	{name: "proxied: several Vias, Path, contacts", exact: true, req: []string{
		"REGISTER sip:localhost SIP/2.0",
		"Via: SIP/2.0/UDP edge.example.org;branch=z9hG4bK-p1;rport",
		"Via: SIP/2.0/TCP 192.0.2.7:5070;branch=z9hG4bK-p0;received=198.51.100.1",
		"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-ua",
		"From: \"Alice A.\" <sip:alice@localhost>;tag=a-1;x=y",
		"To: \"Alice A.\" <sip:alice@localhost>",
		"Call-ID: 8f3b@10.0.0.1",
		"CSeq: 42 REGISTER",
		"Path: <sip:edge.example.org;lr>",
		"Path: <sip:p2.example.org;lr>",
		"Contact: <sip:alice@10.0.0.1:5060>;q=0.5, <sip:alice@10.0.0.2>",
		"Content-Length: 0",
	}},
	{name: "compact names, odd spacing and case", req: []string{
		"REGISTER sip:localhost SIP/2.0",
		"v:  SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bK-c;rport",
		"f:<sip:bob@localhost>;tag=b",
		"T : <sip:bob@localhost>",
		"i:   c-compact  ",
		"CSEQ:    7 REGISTER",
		"m: <sip:bob@192.0.2.1:5062>",
		"l: 0",
	}},
	{name: "To with a tag", exact: true, req: []string{
		"REGISTER sip:localhost SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-t",
		"From: <sip:carol@localhost>;tag=c",
		"To: <sip:carol@localhost>;tag=already",
		"Call-ID: tagged",
		"CSeq: 2 REGISTER",
		"Content-Length: 0",
	}},
	{name: "IPv6", exact: true, src: &net.UDPAddr{IP: net.ParseIP("2001:db8::1"), Port: 5070}, req: []string{
		"REGISTER sip:localhost SIP/2.0",
		"Via: SIP/2.0/UDP [2001:db8::1]:5070;rport;branch=z9hG4bK-v6",
		"From: <sip:dave@localhost>;tag=d",
		"To: <sip:dave@localhost>",
		"Call-ID: v6",
		"CSeq: 1 REGISTER",
		"Contact: <sip:dave@[2001:db8::1]:5070>;expires=60",
		"Content-Length: 0",
	}},
	{name: "IPv4 mapped source", exact: true, src: &net.UDPAddr{IP: net.ParseIP("::ffff:192.0.2.9"), Port: 5999}, req: []string{
		"REGISTER sip:localhost SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.9:5999;branch=z9hG4bK-m;rport",
		"From: <sip:erin@localhost>;tag=e",
		"To: <sip:erin@localhost>",
		"Call-ID: mapped",
		"CSeq: 1 REGISTER",
		"Content-Length: 0",
	}},
	{name: "rport with a value, no brackets", req: []string{
		"REGISTER sip:localhost SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.1:5060;rport=5060;branch=z9hG4bK-r",
		"From: sip:frank@localhost;tag=f",
		"To: sip:frank@localhost",
		"Call-ID: rport-value",
		"CSeq: 1 REGISTER",
		"Content-Length: 0",
	}},
	{name: "no To", exact: true, req: []string{
		"REGISTER sip:localhost SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-n",
		"From: <sip:gina@localhost>;tag=g",
		"Call-ID: no-to",
		"CSeq: 1 REGISTER",
		"Content-Length: 0",
	}},
	{name: "received and rport in the top Via", fallback: true, req: []string{
		"REGISTER sip:localhost SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.1:5060;rport;received=192.0.2.1;branch=z9hG4bK-x",
		"From: <sip:hal@localhost>;tag=h",
		"To: <sip:hal@localhost>",
		"Call-ID: received",
		"CSeq: 1 REGISTER",
		"Content-Length: 0",
	}},
	{name: "Via sipgo reads without its parameters", fallback: true, req: []string{
		"REGISTER sip:localhost SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.1:5062 ;branch=z9hG4bK-sp;rport",
		"From: <sip:gus@localhost>;tag=g",
		"To: <sip:gus@localhost>",
		"Call-ID: via-space",
		"CSeq: 1 REGISTER",
		"Content-Length: 0",
	}},
	{name: "rport after a space (sipgo reads \" rport\", not rport)", req: []string{
		"REGISTER sip:localhost SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bK-sp2; rport",
		"From: <sip:gus@localhost>;tag=g",
		"To: <sip:gus@localhost>",
		"Call-ID: rport-space",
		"CSeq: 1 REGISTER",
		"Content-Length: 0",
	}},
	{name: "Vias in one line", fallback: true, req: []string{
		"REGISTER sip:localhost SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK-2, SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-1",
		"From: <sip:ivy@localhost>;tag=i",
		"To: <sip:ivy@localhost>",
		"Call-ID: vias",
		"CSeq: 1 REGISTER",
		"Content-Length: 0",
	}},
	{name: "folded line", fallback: true, req: []string{
		"REGISTER sip:localhost SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-f",
		"From: <sip:jo@localhost>",
		" ;tag=j",
		"To: <sip:jo@localhost>",
		"Call-ID: folded",
		"CSeq: 1 REGISTER",
		"Content-Length: 0",
	}},
	{name: "From twice", fallback: true, req: []string{
		"REGISTER sip:localhost SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-ff",
		"From: <sip:kim@localhost>;tag=k1",
		"From: <sip:kim@localhost>;tag=k2",
		"To: <sip:kim@localhost>",
		"Call-ID: from-twice",
		"CSeq: 1 REGISTER",
		"Content-Length: 0",
	}},
}

// rawAnswers answers the case's request through fn twice: through a UDP
// answer (the raw writer when captureHead took the request) and through a
// keepResponse (a sip.Response, as before), and returns both as written.
func rawAnswers(t *testing.T, c rawCase, fn func(s *Server, req *sip.Request, w responder)) (raw, old string) {
	t.Helper()
	src := c.src
	if src == nil {
		src = &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 40000}
	}
	data := []byte(strings.Join(c.req, "\r\n") + "\r\n\r\n")
	s := &Server{conf: Config{UserAgent: "b2bua", MaxInFlight: 10}, log: zap.NewNop(), metrics: NewMetrics(nil), server: sip.NewHeader("Server", "b2bua")}
	parse := func() *sip.Request {
		msg, err := sip.NewParser().ParseSIP(data)
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		req := msg.(*sip.Request)
		req.SetTransport("UDP")
		req.SetSource(src.String())
		return req
	}

	rec := &keepResponse{}
	fn(s, parse(), rec)
	if rec.res == nil {
		t.Fatal("no response")
	}
	old = rec.res.String()

	sender, client := senderPair(t)
	req := parse()
	u := &udpResponder{sender: sender, to: client.LocalAddr(), head: captureHead(data, req, src.AddrPort())}
	if (u.head == nil) != c.fallback {
		t.Fatalf("captured %v, want %v", u.head != nil, !c.fallback)
	}
	fn(s, req, s.newAnswer(req, u))
	buf := make([]byte, 4096)
	_ = client.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := client.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n]), old
}

// sameResponse compares the raw answer with the sip.Response's: byte for
// byte when exact, else once sipgo has parsed and written both.
func sameResponse(t *testing.T, c rawCase, raw, old string) {
	t.Helper()
	if c.exact || c.fallback {
		if raw != old {
			t.Errorf("raw answer differs\n--- raw\n%s--- sip.Response\n%s", raw, old)
		}
		return
	}
	norm := func(s string) string {
		msg, err := sip.NewParser().ParseSIP([]byte(s))
		if err != nil {
			t.Fatalf("parse %q: %v", s, err)
		}
		return msg.String()
	}
	if a, b := norm(raw), norm(old); a != b {
		t.Errorf("raw answer not equivalent\n--- raw\n%s--- sip.Response\n%s", a, b)
	}
}

// TestRawReplyRegistered: the 200 to a REGISTER formatted into the send
// buffer is the one registered builds as a sip.Response.
func TestRawReplyRegistered(t *testing.T) {
	now := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	result := &registrar.RegisterResult{Now: now, Bindings: []registrar.Binding{
		{Contact: "sip:a@192.0.2.1:5060", Q: -1, Expires: now.Add(3600 * time.Second).UnixNano()},
		{Contact: "sip:a@[2001:db8::2]:5062;transport=tcp", Q: 500, Expires: now.Add(90 * time.Second).UnixNano(),
			InstanceID: "urn:uuid:00000000-0000-1000-8000-000A95A0E128", RegID: 1},
		{Contact: "sip:a@192.0.2.3", Q: 1000, Expires: now.Add(time.Second).UnixNano()},
		{Contact: "sip:a@192.0.2.4", Q: 0, Expires: now.Add(10 * time.Second).UnixNano()},
		{Contact: "sip:a@192.0.2.5", Q: 5, Expires: now.Add(10 * time.Second).UnixNano()},
	}}
	for _, c := range rawCases {
		t.Run(c.name, func(t *testing.T) {
			raw, old := rawAnswers(t, c, func(s *Server, req *sip.Request, w responder) {
				s.registered(req, w, "sip:a@localhost", result)
			})
			sameResponse(t, c, raw, old)
		})
	}
}

// TestRawReplyErrors: the error answers of the REGISTER path formatted
// into the send buffer are the ones fail and overloaded build as a
// sip.Response.
func TestRawReplyErrors(t *testing.T) {
	errs := []struct {
		name string
		fn   func(s *Server, req *sip.Request, w responder)
	}{
		{"400", func(s *Server, req *sip.Request, w responder) {
			s.fail(req, w, status.New(status.BadRequest, "Invalid Contact"))
		}},
		{"403", func(s *Server, req *sip.Request, w responder) {
			s.fail(req, w, status.New(status.Forbidden, "Foreign Domain"))
		}},
		{"420", func(s *Server, req *sip.Request, w responder) {
			s.fail(req, w, &requireError{tags: []string{"foo", "bar"}})
		}},
		{"423", func(s *Server, req *sip.Request, w responder) {
			s.fail(req, w, &registrar.IntervalTooBriefError{MinExpires: 60})
		}},
		{"500", func(s *Server, req *sip.Request, w responder) { s.fail(req, w, errors.New("boom")) }},
		{"503", func(s *Server, req *sip.Request, w responder) { s.overloaded(req, w) }},
		{"505", func(s *Server, req *sip.Request, w responder) {
			req.SipVersion = "SIP/3.0"
			s.handle(req, w)
		}},
	}
	for _, e := range errs {
		for _, c := range rawCases {
			t.Run(e.name+"/"+c.name, func(t *testing.T) {
				raw, old := rawAnswers(t, c, e.fn)
				if !strings.HasPrefix(raw, "SIP/2.0 "+e.name+" ") {
					t.Fatalf("not %s:\n%s", e.name, raw)
				}
				sameResponse(t, c, raw, old)
			})
		}
	}
}

// FuzzRawHead: for every REGISTER that sipgo parses, passes the edge's
// checks and captureHead takes, the answer formatted from the captured
// head reads, to sipgo, as the one built as a sip.Response in everything a
// client matches a response by: the Vias (top branch, rport, received),
// the From and To tags, Call-ID, CSeq and the header names in order. The
// raw head copies the request's lines (RFC 3261 §8.2.6.2 asks for equal
// values) where the sip.Response writes sipgo's reading of them, which
// for odd values is lossy: those may differ in other respects.
func FuzzRawHead(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	for _, c := range rawCases {
		f.Add([]byte(strings.Join(c.req, "\r\n") + "\r\n\r\n"))
	}
	s := &Server{conf: Config{UserAgent: "b2bua"}, log: zap.NewNop(), server: sip.NewHeader("Server", "b2bua")}
	src := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 40000}
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := sip.NewParser().ParseSIP(data)
		if err != nil {
			return
		}
		req, ok := msg.(*sip.Request)
		if !ok || req.Method != sip.REGISTER || check(req) != nil {
			return
		}
		req.SetTransport("UDP")
		req.SetSource(src.String())
		head := captureHead(data, req, src.AddrPort())
		if head == nil {
			return
		}
		raw := string(append(beginReply(*head, 200, "OK", "b2bua"), crlf...))
		old := s.response(req, 200, "OK").String()
		a, errA := sip.NewParser().ParseSIP([]byte(raw))
		b, errB := sip.NewParser().ParseSIP([]byte(old))
		if errA != nil || errB != nil {
			if errA != nil && errB == nil {
				t.Fatalf("parse raw: %v\n--- request\n%q\n--- raw\n%s--- sip.Response\n%s", errA, data, raw, old)
			}
			return
		}
		if x, y := matchKey(a), matchKey(b); x != y {
			t.Fatalf("raw answer differs\n%s\n%s\n--- request\n%q\n--- raw\n%s--- sip.Response\n%s", x, y, data, raw, old)
		}
	})
}

// matchKey is what a client matches a response by, as sipgo reads it.
func matchKey(m sip.Message) string {
	var b strings.Builder
	for _, h := range m.(*sip.Response).Headers() {
		b.WriteString(h.Name())
		b.WriteString("|")
	}
	for _, v := range m.GetHeaders("via") {
		via, _ := v.(*sip.ViaHeader)
		if via == nil {
			continue
		}
		for _, p := range []string{"branch", "rport", "received"} {
			x, ok := via.Params.Get(p)
			b.WriteString(fmt.Sprintf("%s=%q/%v ", p, x, ok))
		}
	}
	if f := m.From(); f != nil {
		tag, ok := f.Params.Get("tag")
		b.WriteString(fmt.Sprintf("from-tag=%q/%v ", tag, ok))
	}
	if to := m.To(); to != nil {
		tag, ok := to.Params.Get("tag")
		b.WriteString(fmt.Sprintf("to-tag=%q/%v ", tag, ok))
	}
	if c := m.CallID(); c != nil {
		b.WriteString("call-id=" + c.Value() + " ")
	}
	if c := m.CSeq(); c != nil {
		b.WriteString(fmt.Sprintf("cseq=%d %s", c.SeqNo, c.MethodName))
	}
	return b.String()
}

// TestURIString: uriString writes a URI as sipgo's Uri.String does.
func TestURIString(t *testing.T) {
	for _, v := range []string{
		"sip:a@192.0.2.1:5060",
		"sips:b@example.org;transport=tcp;lr",
		"sip:c@[2001:db8::1]:5070",
		"sip:d:secret@h;x=\"a b\"?subject=hi&priority=urgent",
		"sip://e@h",
		"sip:h",
		"tel:+15551234567;phone-context=example.org",
		"SIP:f@H:1",
		"sip:u@" + strings.Repeat("a", 60),
	} {
		var u sip.Uri
		if err := sip.ParseUri(v, &u); err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if got, want := uriString(&u), u.String(); got != want {
			t.Errorf("%q: uriString %q, sipgo %q", v, got, want)
		}
	}
	// Hosts sipgo's parser would not give, set directly.
	for _, host := range []string{"2001:db8::1", "::ffff:192.0.2.1", "fe80::1%eth0", "1.2.3.4", strings.Repeat("1:", 23) + "1", "[::1]"} {
		u := sip.Uri{Scheme: "sip", User: "x", Host: host}
		if got, want := uriString(&u), u.String(); got != want {
			t.Errorf("host %q: uriString %q, sipgo %q", host, got, want)
		}
	}
}

// senderPair is a UDP sender on a loopback socket and a client socket to
// send its answers to; both close with the test.
func senderPair(t *testing.T) (*udpSender, net.PacketConn) {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	client, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	sender := newUDPSender(conn, zap.NewNop())
	t.Cleanup(sender.close)
	return sender, client
}
