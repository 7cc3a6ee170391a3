package edge

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/presence"
	"github.com/b2bua/b2bua/actors/registrar"
)

// seeds are the golden requests: every fuzz target starts from them.
func seeds(f testing.TB) [][]byte {
	paths, _ := filepath.Glob("testdata/*/*.txt")
	var out [][]byte
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		req, _, _ := strings.Cut(string(raw), "\n----------\n")
		out = append(out, []byte(strings.ReplaceAll(strings.TrimRight(req, "\n")+"\n\n", "\n", "\r\n")))
	}
	return out
}

// FuzzRequest runs the edge's own checks and the REGISTER conversion on
// whatever sipgo parses. Past "no panic" it asserts what the registrar
// relies on: a normalised AOR, and no control character in anything kept.
func FuzzRequest(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	s := &Server{conf: Config{Domain: "localhost"}, log: zap.NewNop(), hosts: map[string]bool{"localhost": true}}
	parser := sip.NewParser()
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := parser.ParseSIP(data)
		if err != nil {
			if res := rawBadRequest(data); res != nil {
				checkRawBadRequest(t, data, res)
			}
			return
		}
		req, ok := msg.(*sip.Request)
		if ok && req.CallID() != nil && req.From() != nil && req.To() != nil {
			if got, want := checkControlChars(req) != nil, ctlByValue(req); got != want {
				t.Fatalf("checkControlChars %v, the headers' values say %v", got, want)
			}
		}
		if !ok || check(req) != nil || req.Method != sip.REGISTER {
			return
		}
		r, err := s.toRegister(req, req.Transport()+":"+req.Source())
		if err != nil {
			return
		}
		if !strings.HasPrefix(string(r.AOR), "sip:") || strings.ToLower(string(r.AOR)) != "sip:"+strings.ToLower(strings.TrimPrefix(string(r.AOR), "sip:")) {
			t.Fatalf("AOR %q not normalised", r.AOR)
		}
		if hasCtl(string(r.AOR)) || hasCtl(r.CallID) {
			t.Fatalf("control character kept: %q %q", r.AOR, r.CallID)
		}
		for _, c := range r.Contacts {
			if hasCtl(c.URI) || c.Q > 1000 || c.Q < -1 || c.Expires < -1 {
				t.Fatalf("bad contact kept: %+v", c)
			}
		}
	})
}

// FuzzPresenceRequest runs the PUBLISH and SUBSCRIBE conversions on
// whatever sipgo parses, asserting what the presence actors rely on:
// normalised AORs, no control characters kept, and a dialog key that
// splits back into its Call-ID and tags (subscription actors parse it).
func FuzzPresenceRequest(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	s := &Server{conf: Config{Domain: "localhost"}, log: zap.NewNop(), hosts: map[string]bool{"localhost": true},
		addrs: []Listener{{Network: "udp", Addr: "127.0.0.1:5060"}}}
	parser := sip.NewParser()
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := parser.ParseSIP(data)
		if err != nil {
			return
		}
		req, ok := msg.(*sip.Request)
		if !ok || check(req) != nil {
			return
		}
		switch req.Method {
		case sip.PUBLISH:
			m, err := s.toPublish(req)
			if err != nil {
				return
			}
			if !strings.HasPrefix(m.AOR, "sip:") || hasCtl(m.AOR) || hasCtl(m.ETag) {
				t.Fatalf("bad PUBLISH kept: %q %q", m.AOR, m.ETag)
			}
		case sip.SUBSCRIBE:
			ev, id := eventOf(req)
			if ev == presence.EventUnknown {
				return
			}
			exp, err := expiresHeader(req)
			if err != nil {
				return
			}
			m, err := s.toSubscribe(req, ev, id, exp)
			if err != nil {
				return
			}
			d := m.Dialog
			if hasCtl(m.Presentity) || hasCtl(m.Watcher) || hasCtl(d.RemoteTarget) || hasCtl(d.RemoteURI) {
				t.Fatalf("control character kept: %+v", m)
			}
			parts := strings.SplitN(d.Key(), " ", 3)
			if len(parts) != 3 || parts[0] != d.CallID || parts[1] != d.LocalTag || parts[2] != d.RemoteTag {
				t.Fatalf("dialog key %q does not split back into %q %q %q", d.Key(), d.CallID, d.LocalTag, d.RemoteTag)
			}
		}
	})
}

// checkRawBadRequest asserts that a 400 built from raw lines is a response
// sipgo can parse, made only of lines the request had.
func checkRawBadRequest(t *testing.T, req, res []byte) {
	t.Helper()
	if !bytes.HasPrefix(res, []byte("SIP/2.0 400 ")) || !bytes.HasSuffix(res, []byte("\r\n\r\n")) {
		t.Fatalf("raw 400 malformed: %q", res)
	}
	lines := bytes.Split(bytes.TrimSuffix(res, []byte("\r\n\r\n")), []byte("\r\n"))
	for _, l := range lines[1 : len(lines)-1] {
		if !bytes.Contains(req, l) {
			t.Fatalf("raw 400 has a line the request had not: %q", l)
		}
	}
}

// FuzzContact parses a Contact value, renders it the way a 200 OK does and
// parses that again: URI, q and expires must survive the round trip.
func FuzzContact(f *testing.F) {
	for _, s := range []string{
		"<sip:a@192.0.2.1:5060>;q=0.5;expires=60",
		`"Desk" <sip:b@192.0.2.3;transport=tcp>;+sip.instance="<urn:uuid:1>";reg-id=1`,
		"sip:c@[2001:db8::1]:5070",
		"<sips:d@example.org>;q=1",
		"<sip:e@h>;q=0.001;expires=0",
	} {
		f.Add(s)
	}
	parser := sip.NewParser()
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, value string) {
		req, ok := parseContactRequest(parser, value)
		if !ok {
			return
		}
		for h := range headersNamed(req, "contact") {
			if ch, ok := h.(*sip.ContactHeader); ok {
				if got, want := uriString(&ch.Address), ch.Address.String(); got != want {
					t.Fatalf("uriString %q, sipgo writes %q", got, want)
				}
			}
		}
		cs, _, err := contactsOf(req)
		if err != nil {
			return
		}
		for _, c := range cs {
			b := bindingOf(c, now)
			again, ok := parseContactRequest(parser, contactValue(b, now))
			if !ok {
				t.Fatalf("rendered contact %q does not parse", contactValue(b, now))
			}
			cs2, _, err := contactsOf(again)
			if err != nil || len(cs2) != 1 {
				t.Fatalf("rendered contact %q: %v", contactValue(b, now), err)
			}
			if cs2[0].URI != c.URI || cs2[0].Q != c.Q {
				t.Fatalf("round trip changed %+v into %+v", c, cs2[0])
			}
		}
	})
}

func parseContactRequest(p *sip.Parser, value string) (*sip.Request, bool) {
	if strings.ContainsAny(value, "\r\n") {
		return nil, false
	}
	raw := "REGISTER sip:localhost SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\r\nFrom: <sip:a@localhost>;tag=1\r\n" +
		"To: <sip:a@localhost>\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\nContact: " + value + "\r\nContent-Length: 0\r\n\r\n"
	msg, err := p.ParseSIP([]byte(raw))
	if err != nil {
		return nil, false
	}
	req, ok := msg.(*sip.Request)
	return req, ok
}

func FuzzExpiresAndQ(f *testing.F) {
	for _, s := range []string{"0", "3600", "4294967296", "99999999999999999999999", "0.5", "1", "1.000", "0.0001", "-1", " 7 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if e, err := parseExpires(v); err == nil && (e < 0 || e > maxExpires) {
			t.Fatalf("parseExpires(%q) = %d", v, e)
		}
		q, err := parseQ(v)
		if err != nil {
			return
		}
		if q < 0 || q > 1000 {
			t.Fatalf("parseQ(%q) = %d", v, q)
		}
		if q2, err := parseQ(formatQ(q)); err != nil || q2 != q {
			t.Fatalf("q %d renders as %q and parses as %d, %v", q, formatQ(q), q2, err)
		}
	})
}

// bindingOf is the binding a contact becomes, for rendering tests.
func bindingOf(c registrar.Contact, now time.Time) registrar.Binding {
	return registrar.Binding{Contact: c.URI, Q: c.Q, Expires: now.Add(time.Hour).UnixNano(), InstanceID: c.InstanceID, RegID: c.RegID}
}

// ctlByValue is checkControlChars as it was first written: hasCtl over the
// value of every header it covers, as sipgo writes it.
func ctlByValue(req *sip.Request) bool {
	found := hasCtl(req.CallID().Value()) || hasCtl(req.From().Value()) || hasCtl(req.To().Value())
	for _, h := range req.Headers() {
		if n := h.Name(); asciiFold(n, "contact") || asciiFold(n, "user-agent") || asciiFold(n, "path") {
			found = found || hasCtl(h.Value())
		}
	}
	return found
}
