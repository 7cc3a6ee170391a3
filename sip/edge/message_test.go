package edge_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

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
