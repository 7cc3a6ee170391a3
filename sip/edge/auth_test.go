package edge_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/b2bua/b2bua/auth"
	"github.com/b2bua/b2bua/auth/digest"
	"github.com/b2bua/b2bua/sip/edge"
	"github.com/b2bua/b2bua/sip/siptest"
)

// digestOnly verifies Digest with a real auth/digest server; HA1s come from
// a map instead of the users service.
type digestOnly struct {
	server *digest.Server
	ha1    map[string]string
}

func (d *digestOnly) Challenges(stale bool) []string { return d.server.Challenges(stale) }

func (d *digestOnly) Verify(method, params string) (*auth.Identity, error) {
	c, err := digest.ParseCredentials(params)
	if err != nil {
		return nil, err
	}
	return d.server.Verify(method, c, func(user, _, _ string) (string, error) {
		if h, ok := d.ha1[user]; ok {
			return h, nil
		}
		return "", auth.ErrBadCredentials
	})
}

// TestAuthOrder: with authentication on, an unknown method still gets 405
// (method inspection first, RFC 3261 §8.2.1), OPTIONS and CANCEL are never
// challenged, and REGISTER without credentials gets 401 with challenges.
func TestAuthOrder(t *testing.T) {
	ds, err := digest.New(digest.Config{Realm: "localhost", Secret: []byte("0123456789abcdef0123456789abcdef")}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	a := &edge.Auth{Digest: &digestOnly{server: ds, ha1: map[string]string{}}, Scopes: auth.DefaultScopes(), Realm: "localhost"}
	s := startServerWith(t, a)
	tests := []struct {
		method string
		want   int
	}{
		{"FOO", 405},
		{"OPTIONS", 200},
		{"CANCEL", 481},
		{"REGISTER", 401},
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, tc := range tests {
			t.Run(network+"/"+tc.method, func(t *testing.T) {
				c := s.dial(t, network)
				via := "SIP/2.0/" + strings.ToUpper(network)
				res, err := c.Do(siptest.Lines(
					tc.method+" sip:localhost SIP/2.0",
					"Via: "+via+" "+c.LocalAddr()+";branch=z9hG4bK-"+tc.method+network,
					"From: <sip:eve@localhost>;tag=1",
					"To: <sip:eve@localhost>",
					"Call-ID: order-"+tc.method+network,
					"CSeq: 1 "+tc.method,
					"Contact: <sip:eve@"+c.LocalAddr()+">",
					"Content-Length: 0",
				), 2*time.Second)
				if err != nil || siptest.Status(res) != tc.want {
					t.Fatalf("%s: %v\n%s", tc.method, err, res)
				}
				if tc.want == 401 && len(siptest.Header(res, "WWW-Authenticate")) != 2 {
					t.Fatalf("want one Digest challenge per algorithm:\n%s", res)
				}
			})
		}
	}
}

// hangingAuthority stands for an introspection endpoint that does not
// answer: every verification blocks until released.
type hangingAuthority struct{ release chan struct{} }

func (h *hangingAuthority) Verify(ctx context.Context, _ string) (*auth.Identity, error) {
	select {
	case <-h.release:
	case <-ctx.Done():
	}
	return nil, auth.ErrUnavailable
}

// TestSlowAuthorityIsBounded: with an authority that hangs, at most 256
// UDP requests wait on it at once; the others are answered 503 at once,
// and the waiting ones 503 (authority unavailable) when it gives up.
func TestSlowAuthorityIsBounded(t *testing.T) {
	h := &hangingAuthority{release: make(chan struct{})}
	s := startServerWith(t, &edge.Auth{Bearer: h, Scopes: auth.DefaultScopes(), Realm: "localhost", Timeout: 5 * time.Second})
	c := s.dial(t, "udp")
	const n = 300
	for i := range n {
		id := fmt.Sprintf("slow-%d", i)
		if err := c.Send(siptest.Lines(
			"REGISTER sip:localhost SIP/2.0",
			"Via: SIP/2.0/UDP "+c.LocalAddr()+";branch=z9hG4bK-"+id,
			"From: <sip:eve@localhost>;tag=1",
			"To: <sip:eve@localhost>",
			"Call-ID: "+id,
			"CSeq: 1 REGISTER",
			"Authorization: Bearer opaque-"+id,
			"Content-Length: 0",
		)); err != nil {
			t.Fatal(err)
		}
	}
	shed := 0
	for {
		res, err := c.Read(500 * time.Millisecond)
		if err != nil {
			break
		}
		if siptest.Status(res) == 503 && strings.Contains(res, "Overloaded") {
			shed++
		}
	}
	if shed != n-256 {
		t.Fatalf("%d requests shed at once, want %d", shed, n-256)
	}
	close(h.release)
	waiting := 0
	for waiting < 256 {
		res, err := c.Read(2 * time.Second)
		if err != nil {
			t.Fatalf("%d of the waiting requests answered: %v", waiting, err)
		}
		if siptest.Status(res) != 503 {
			t.Fatalf("waiting request answered:\n%s", res)
		}
		waiting++
	}
}

// tokenBearer takes the token "tok-<user>" for sip:<user>@localhost, with
// the register scope; anything else is an invalid token.
type tokenBearer struct{}

func (tokenBearer) Verify(_ context.Context, token string) (*auth.Identity, error) {
	user, ok := strings.CutPrefix(token, "tok-")
	if !ok {
		return nil, auth.ErrInvalidToken
	}
	return &auth.Identity{Subject: user, URI: "sip:" + user + "@localhost", Scopes: []string{auth.ScopeRegister},
		Method: "bearer", TokenID: token}, nil
}

// TestOptionsToUserAuthenticated: with authentication on, an OPTIONS to
// the server is answered without credentials, but one to a user, which is
// forwarded to the user's contact (holding slots meanwhile, and telling
// who is online), is challenged without them, refused when From is not
// the credentials' identity, and forwarded with them, without them.
func TestOptionsToUserAuthenticated(t *testing.T) {
	s := startServerWith(t, &edge.Auth{Bearer: tokenBearer{}, Scopes: auth.DefaultScopes(), Realm: "localhost"})
	s.sys.Outbound.Set(s.edge.Port(s.sys.Actors))
	t.Cleanup(func() { s.sys.Outbound.Set(nil) })
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			phone, sender := s.dial(t, network), s.dial(t, network)
			user := "alice-" + network
			registerAt(t, phone, network, user, "sip:"+user+"@"+phone.LocalAddr()+";transport="+network, "Authorization: Bearer tok-"+user)
			options := func(name, user string, extra ...string) []byte {
				return optionsNamed(sender, network, user, name, extra...)
			}
			if res, err := sender.Do(options("server", ""), 2*time.Second); err != nil || siptest.Status(res) != 200 {
				t.Fatalf("OPTIONS to the server without credentials: %v\n%s", err, res)
			}
			res, err := sender.Do(options("anonymous", user), 2*time.Second)
			if err != nil || siptest.Status(res) != 401 || len(siptest.Header(res, "WWW-Authenticate")) == 0 {
				t.Fatalf("OPTIONS to a user without credentials: %v\n%s", err, res)
			}
			if res, err := sender.Do(options("someone-else", user, "Authorization: Bearer tok-bob"), 2*time.Second); err != nil || siptest.Status(res) != 403 {
				t.Fatalf("OPTIONS from probe with bob's token: %v\n%s", err, res)
			}
			if fwd, err := phone.Read(100 * time.Millisecond); err == nil {
				t.Fatalf("forwarded without the sender's identity:\n%s", fwd)
			}
			if err := sender.Send(options("authenticated", user, "Authorization: Bearer tok-probe")); err != nil {
				t.Fatal(err)
			}
			fwd, err := phone.Read(2 * time.Second)
			if err != nil || !strings.HasPrefix(fwd, "OPTIONS ") {
				t.Fatalf("phone got: %v\n%s", err, fwd)
			}
			if len(siptest.Header(fwd, "Authorization")) != 0 {
				t.Fatalf("the sender's credentials went on to the contact:\n%s", fwd)
			}
			if err := phone.Send(reply(fwd, "200 OK")); err != nil {
				t.Fatal(err)
			}
			if res, err := sender.Read(2 * time.Second); err != nil || siptest.Status(res) != 200 {
				t.Fatalf("authenticated OPTIONS to a user: %v\n%s", err, res)
			}
		})
	}
}
