package edge_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/b2bua/b2bua/actors"
	"github.com/b2bua/b2bua/auth"
	"github.com/b2bua/b2bua/sip/edge"
	"github.com/b2bua/b2bua/sip/siptest"
)

// messageTo is an out-of-dialog MESSAGE from carol to sip:user@localhost
// over c, with extra header lines.
func messageTo(c *siptest.Client, network, user, name, body string, extra ...string) []byte {
	lines := []string{
		"MESSAGE sip:" + user + "@localhost SIP/2.0",
		"Via: SIP/2.0/" + strings.ToUpper(network) + " " + c.LocalAddr() + ";branch=z9hG4bK-msg-" + name + ";rport",
		"From: \"Carol\" <sip:carol@localhost>;tag=c-" + name,
		"To: <sip:" + user + "@localhost>",
		"Call-ID: msg-" + name,
		"CSeq: 3 MESSAGE",
		"Content-Type: text/plain",
	}
	lines = append(lines, extra...)
	lines = append(lines, "Content-Length: "+strconv.Itoa(len(body)), "", body)
	return []byte(strings.Join(lines, "\r\n"))
}

// TestMessage: a MESSAGE to a registered user is relayed to its contact
// and the contact's answer decides (200, or its refusal); to a known user
// without a contact it is stored (202) and delivered, with its Date, when
// the user registers again.
func TestMessage(t *testing.T) {
	s := startServerOpts(t, options{})
	s.sys.Outbound.Set(s.edge.Port(s.sys.Actors))
	t.Cleanup(func() { s.sys.Outbound.Set(nil) })
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network+"/delivered", func(t *testing.T) {
			phone, sender := s.dial(t, network), s.dial(t, network)
			user := "bob-" + network
			registerContact(t, phone, network, user)
			if err := sender.Send(messageTo(sender, network, user, "d"+network, "hello bob", "Date: Sat, 28 Nov 2026 10:00:00 GMT")); err != nil {
				t.Fatal(err)
			}
			fwd, err := phone.Read(2 * time.Second)
			if err != nil || !strings.HasPrefix(fwd, "MESSAGE sip:"+user+"@"+phone.LocalAddr()) {
				t.Fatalf("phone got: %v\n%s", err, fwd)
			}
			if from := siptest.Header(fwd, "From"); len(from) != 1 || !strings.Contains(from[0], `"Carol" <sip:carol@localhost>`) || !strings.Contains(from[0], "tag=c-d"+network) {
				t.Fatalf("From not copied: %v", from)
			}
			if d := siptest.Header(fwd, "Date"); len(d) != 1 || d[0] != "Sat, 28 Nov 2026 10:00:00 GMT" || !strings.HasSuffix(fwd, "hello bob") {
				t.Fatalf("Date or body not copied:\n%s", fwd)
			}
			if err := phone.Send(reply(fwd, "200 OK")); err != nil {
				t.Fatal(err)
			}
			if res, err := sender.Read(2 * time.Second); err != nil || siptest.Status(res) != 200 {
				t.Fatalf("sender got: %v\n%s", err, res)
			}
		})
	}
	t.Run("refused", func(t *testing.T) {
		phone, sender := s.dial(t, "udp"), s.dial(t, "udp")
		registerContact(t, phone, "udp", "busy")
		if err := sender.Send(messageTo(sender, "udp", "busy", "busy", "hi")); err != nil {
			t.Fatal(err)
		}
		fwd, err := phone.Read(2 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if err := phone.Send(reply(fwd, "415 Unsupported Media Type")); err != nil {
			t.Fatal(err)
		}
		if res, err := sender.Read(2 * time.Second); err != nil || siptest.Status(res) != 415 {
			t.Fatalf("sender got: %v\n%s", err, res)
		}
	})
	t.Run("stored then delivered", func(t *testing.T) {
		phone, sender := s.dial(t, "udp"), s.dial(t, "udp")
		registerContact(t, phone, "udp", "dave")
		unregister := siptest.Lines("REGISTER sip:localhost SIP/2.0",
			"Via: SIP/2.0/UDP "+phone.LocalAddr()+";branch=z9hG4bK-unreg-dave", "From: <sip:dave@localhost>;tag=r",
			"To: <sip:dave@localhost>", "Call-ID: reg-dave", "CSeq: 2 REGISTER", "Contact: *", "Expires: 0", "Content-Length: 0")
		if res, err := phone.Do(unregister, 2*time.Second); err != nil || siptest.Status(res) != 200 { // offline, but known
			t.Fatalf("%v\n%s", err, res)
		}
		res, err := sender.Do(messageTo(sender, "udp", "dave", "stored", "while you were out"), 2*time.Second)
		if err != nil || siptest.Status(res) != 202 {
			t.Fatalf("%v\n%s", err, res)
		}
		again := siptest.Lines("REGISTER sip:localhost SIP/2.0",
			"Via: SIP/2.0/UDP "+phone.LocalAddr()+";branch=z9hG4bK-rereg-dave", "From: <sip:dave@localhost>;tag=r",
			"To: <sip:dave@localhost>", "Call-ID: reg-dave", "CSeq: 3 REGISTER", "Contact: <sip:dave@"+phone.LocalAddr()+">", "Content-Length: 0")
		if err := phone.Send(again); err != nil {
			t.Fatal(err)
		}
		fwd, err := phone.Read(2 * time.Second)
		if err == nil && strings.HasPrefix(fwd, "SIP/2.0 200") { // the REGISTER's answer may come first
			fwd, err = phone.Read(2 * time.Second)
		}
		if err != nil || !strings.HasPrefix(fwd, "MESSAGE ") || !strings.HasSuffix(fwd, "while you were out") {
			t.Fatalf("phone got: %v\n%s", err, fwd)
		}
		if d := siptest.Header(fwd, "Date"); len(d) != 1 || !strings.HasSuffix(d[0], " GMT") {
			t.Fatalf("stored message delivered without a Date:\n%s", fwd)
		}
		if err := phone.Send(reply(fwd, "200 OK")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("in a dialog", func(t *testing.T) {
		c := s.dial(t, "udp")
		req := strings.Replace(string(messageTo(c, "udp", "bob-udp", "dlg", "x")), "To: <sip:bob-udp@localhost>", "To: <sip:bob-udp@localhost>;tag=nope", 1)
		if res, err := c.Do([]byte(req), 2*time.Second); err != nil || siptest.Status(res) != 481 {
			t.Fatalf("%v\n%s", err, res)
		}
	})
}

// callBearer takes "call-<user>" (scope sip:call) and "reg-<user>" (scope
// sip:register) for sip:<user>@localhost.
type callBearer struct{}

func (callBearer) Verify(_ context.Context, token string) (*auth.Identity, error) {
	scope, user, ok := strings.Cut(token, "-")
	if !ok {
		return nil, auth.ErrInvalidToken
	}
	sc := auth.ScopeRegister
	if scope == "call" {
		sc = auth.ScopeCall
	}
	return &auth.Identity{Subject: user, URI: "sip:" + user + "@localhost", Scopes: []string{sc}, Method: "bearer", TokenID: token}, nil
}

// TestMessageAuthenticated: MESSAGE needs sip:call, and From must be the
// token's identity.
func TestMessageAuthenticated(t *testing.T) {
	s := startServerWith(t, &edge.Auth{Bearer: callBearer{}, Scopes: edge.DefaultScopes(), Realm: "localhost"})
	c := s.dial(t, "udp")
	for _, tc := range []struct {
		name, token string
		want        int
	}{
		{"no token", "", 401},
		{"another's identity", "call-mallory", 403},
		{"no sip:call", "reg-carol", 403},
		{"carol with sip:call", "call-carol", 404}, // authenticated; nobody@ is unknown
	} {
		var extra []string
		if tc.token != "" {
			extra = append(extra, "Authorization: Bearer "+tc.token)
		}
		res, err := c.Do(messageTo(c, "udp", "nobody", strings.ReplaceAll(tc.name, " ", ""), "hi", extra...), 2*time.Second)
		if err != nil || siptest.Status(res) != tc.want {
			t.Errorf("%s: %v\n%s", tc.name, err, res)
		}
	}
}

// TestMessageUDPStateless: over UDP a MESSAGE takes the stateless path,
// and its box absorbs the retransmissions. A copy while the contact has
// not answered yet gets nothing and is not forked again; the delivery
// may outlast the edge's reply deadline (it has the forwards'); the
// original gets one answer, and a copy after it the same answer again,
// answered by the edge itself (counted twice: no server transaction
// absorbed it), without a second fork. A copy of a stored MESSAGE gets
// 202 again and the user gets it once.
func TestMessageUDPStateless(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := startServerOpts(t, options{metrics: edge.NewMetrics(reg), edit: func(c *edge.Config, _ *actors.System, _ *actors.Routers) {
		c.ReplyTimeout = 300 * time.Millisecond
	}})
	s.sys.Outbound.Set(s.edge.Port(s.sys.Actors))
	t.Cleanup(func() { s.sys.Outbound.Set(nil) })
	silent := func(t *testing.T, c *siptest.Client, who string) {
		t.Helper()
		if got, err := c.Read(250 * time.Millisecond); err == nil {
			t.Fatalf("%s got:\n%s", who, got)
		}
	}
	// noFork: the phone gets no MESSAGE but the port's own retransmissions
	// of the fork (its branch) meanwhile.
	noFork := func(t *testing.T, phone *siptest.Client, fwd string) {
		t.Helper()
		for {
			got, err := phone.Read(250 * time.Millisecond)
			if err != nil {
				return
			}
			if strings.HasPrefix(got, "MESSAGE ") && topBranch(got) != topBranch(fwd) {
				t.Fatalf("a second fork:\n%s", got)
			}
		}
	}

	t.Run("relayed", func(t *testing.T) {
		phone, sender := s.dial(t, "udp"), s.dial(t, "udp")
		registerContact(t, phone, "udp", "erin")
		req := messageTo(sender, "udp", "erin", "sl", "hello erin")
		sent := time.Now()
		if err := sender.Send(req); err != nil {
			t.Fatal(err)
		}
		fwd, err := phone.Read(2 * time.Second)
		if err != nil || !strings.HasPrefix(fwd, "MESSAGE ") {
			t.Fatalf("phone got: %v\n%s", err, fwd)
		}
		if err := sender.Send(req); err != nil { // a copy while the contact thinks
			t.Fatal(err)
		}
		silent(t, sender, "sender, for a copy in progress")
		noFork(t, phone, fwd)
		time.Sleep(time.Until(sent.Add(500 * time.Millisecond))) // past ReplyTimeout
		if err := phone.Send(reply(fwd, "200 OK")); err != nil {
			t.Fatal(err)
		}
		first, err := sender.Read(2 * time.Second)
		if err != nil || siptest.Status(first) != 200 {
			t.Fatalf("sender got: %v\n%s", err, first)
		}
		silent(t, sender, "sender, a second answer")
		if err := sender.Send(req); err != nil { // the 200 was lost, say
			t.Fatal(err)
		}
		again, err := sender.Read(2 * time.Second)
		if err != nil || siptest.Status(again) != 200 || siptest.Header(again, "To")[0] != siptest.Header(first, "To")[0] {
			t.Fatalf("copy got: %v\n%s\nwant as\n%s", err, again, first)
		}
		noFork(t, phone, fwd)
		if n := methodLabels(t, reg)["MESSAGE"]; n != 2 {
			t.Fatalf("%d MESSAGE answers counted, want 2 (the original's and the copy's)", n)
		}
	})

	t.Run("stored", func(t *testing.T) {
		phone, sender := s.dial(t, "udp"), s.dial(t, "udp")
		registerContact(t, phone, "udp", "fred")
		unregister := siptest.Lines("REGISTER sip:localhost SIP/2.0",
			"Via: SIP/2.0/UDP "+phone.LocalAddr()+";branch=z9hG4bK-unreg-fred", "From: <sip:fred@localhost>;tag=r",
			"To: <sip:fred@localhost>", "Call-ID: reg-fred", "CSeq: 2 REGISTER", "Contact: *", "Expires: 0", "Content-Length: 0")
		if res, err := phone.Do(unregister, 2*time.Second); err != nil || siptest.Status(res) != 200 {
			t.Fatalf("%v\n%s", err, res)
		}
		req := messageTo(sender, "udp", "fred", "sl-stored", "kept once")
		for i := range 2 {
			if res, err := sender.Do(req, 2*time.Second); err != nil || siptest.Status(res) != 202 {
				t.Fatalf("send %d: %v\n%s", i, err, res)
			}
		}
		again := siptest.Lines("REGISTER sip:localhost SIP/2.0",
			"Via: SIP/2.0/UDP "+phone.LocalAddr()+";branch=z9hG4bK-rereg-fred", "From: <sip:fred@localhost>;tag=r",
			"To: <sip:fred@localhost>", "Call-ID: reg-fred", "CSeq: 3 REGISTER", "Contact: <sip:fred@"+phone.LocalAddr()+">", "Content-Length: 0")
		if err := phone.Send(again); err != nil {
			t.Fatal(err)
		}
		var fwd string
		for fwd == "" || strings.HasPrefix(fwd, "SIP/2.0 200") { // the REGISTER's answer may come first
			var err error
			if fwd, err = phone.Read(2 * time.Second); err != nil {
				t.Fatal(err)
			}
		}
		if !strings.HasPrefix(fwd, "MESSAGE ") || !strings.HasSuffix(fwd, "kept once") {
			t.Fatalf("phone got:\n%s", fwd)
		}
		if err := phone.Send(reply(fwd, "200 OK")); err != nil {
			t.Fatal(err)
		}
		for {
			got, err := phone.Read(300 * time.Millisecond)
			if err != nil {
				break
			}
			if strings.HasPrefix(got, "MESSAGE ") {
				t.Fatalf("stored twice, delivered again:\n%s", got)
			}
		}
	})
}
