package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/b2bua/b2bua/sip/ua"
)

// The SDK (sip/ua) against the real binary: OAuth tokens from the server's
// own token endpoint, registration with its refresh, and MESSAGE stored
// for an offline user across a kill -9.

// uaPeer starts an SDK peer for user@localhost on network that the test
// closes.
func uaPeer(t *testing.T, network, user string, opts ...ua.Option) *ua.Peer {
	t.Helper()
	p, err := ua.New("sip:"+user+"@localhost", network+":127.0.0.1:0", zaptest.NewLogger(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = p.Close(ctx)
	})
	return p
}

// awaitReg reads p's registration events until state.
func awaitReg(t *testing.T, p *ua.Peer, state ua.RegState, within time.Duration) ua.RegEvent {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case ev := <-p.RegEvents():
			if ev.State == state {
				return ev
			}
			if ev.State == ua.RegFailed {
				t.Fatalf("registration failed: %v", ev.Err)
			}
		case <-deadline:
			t.Fatalf("not %v within %v", state, within)
		}
	}
}

// TestUARegistersWithPasswordGrant: alice registers with tokens from the
// password grant, the registration refreshes at 90% of the 3 s the server
// grants (on UDP with OPTIONS keepalives, on TCP with CRLF ones), and
// Unregister removes it. A wrong password ends Register with ErrAuth.
func TestUARegistersWithPasswordGrant(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir, "--auth", "bearer,digest", "--min-expires", "1", "--max-expires", "3")
	cli(t, dir, p.http, "pw-alice\n", "user", "add", "alice", "--password-stdin")
	tokenURL := "http://" + p.http + "/oauth/token"
	for _, tc := range []struct{ network, addr string }{{"udp", p.udp}, {"tcp", p.tcp}} {
		t.Run(tc.network, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			alice := uaPeer(t, tc.network, "alice", ua.WithKeepalive(500*time.Millisecond))
			if err := alice.Register(ctx, tc.addr, ua.WithTokenSource(ua.PasswordGrant(tokenURL, "sipua", "alice", "pw-alice"))); err != nil {
				t.Fatal(err)
			}
			first := awaitReg(t, alice, ua.Registered, 2*time.Second)
			if first.Expires != 3*time.Second {
				t.Fatalf("granted %v, want the server's max of 3 s", first.Expires)
			}
			refresh := awaitReg(t, alice, ua.Registered, 5*time.Second)
			if gap := refresh.At.Sub(first.At); gap < 2500*time.Millisecond || gap > 3500*time.Millisecond {
				t.Errorf("refreshed after %v, want about 2.7 s", gap)
			}
			if err := alice.Unregister(ctx); err != nil {
				t.Fatal(err)
			}
			awaitReg(t, alice, ua.Unregistered, time.Second)
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		alice := uaPeer(t, "udp", "alice", ua.WithKeepalive(0))
		err := alice.Register(ctx, p.udp, ua.WithTokenSource(ua.PasswordGrant(tokenURL, "sipua", "alice", "nope")))
		if !errors.Is(err, ua.ErrAuth) {
			t.Fatalf("Register with a wrong password: %v", err)
		}
	})
	if logs := p.logs.String(); strings.Contains(logs, "pw-alice") {
		t.Fatal("a password appears in the server's logs")
	}
}

// TestUAMessageStoredAcrossKill9: alice's MESSAGE to bob, who is known but
// offline, is stored (202); the server is killed -9 and restarted on the
// same data; bob registers with the SDK and gets the message with its
// original Date.
func TestUAMessageStoredAcrossKill9(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir, "--auth", "bearer,digest")
	for _, u := range []string{"alice", "bob"} {
		cli(t, dir, p.http, "pw-"+u+"\n", "user", "add", u, "--password-stdin")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tokens := func(p *proc, user string) ua.RegisterOption {
		return ua.WithTokenSource(ua.PasswordGrant("http://"+p.http+"/oauth/token", "sipua", user, "pw-"+user))
	}
	if !messagingServed(ctx, t, p) {
		t.Skip("the server does not serve MESSAGE yet (405/501)")
	}

	// bob becomes known to the server, then goes offline.
	bob := uaPeer(t, "udp", "bob", ua.WithKeepalive(0))
	if err := bob.Register(ctx, p.udp, tokens(p, "bob")); err != nil {
		t.Fatal(err)
	}
	if err := bob.Close(ctx); err != nil {
		t.Fatal(err)
	}

	alice := uaPeer(t, "udp", "alice", ua.WithKeepalive(0))
	if err := alice.Register(ctx, p.udp, tokens(p, "alice")); err != nil {
		t.Fatal(err)
	}
	sent := time.Now().Truncate(time.Second)
	if err := alice.SendMessage(ctx, "bob", "see you at 3"); err != nil {
		t.Fatalf("MESSAGE to offline bob: %v", err)
	}
	time.Sleep(1100 * time.Millisecond) // so a Date stamped at delivery would differ

	p.kill()
	p = start(t, dir, "--auth", "bearer,digest")
	bob = uaPeer(t, "udp", "bob", ua.WithKeepalive(0))
	if err := bob.Register(ctx, p.udp, tokens(p, "bob")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-bob.Messages():
		if m.Text() != "see you at 3" || m.From != "sip:alice@localhost" {
			t.Fatalf("bob got %+v", m)
		}
		if m.Date.Before(sent) || m.Date.After(sent.Add(time.Second)) {
			t.Errorf("Date %v, sent at %v: not the original", m.Date, sent)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("bob got no message\n%s", head(p.logs.String(), 6000))
	}
}

// messagingServed asks the server whether it serves MESSAGE at all: a
// server without it answers 405 or 501 (the test is then skipped, not
// failed).
func messagingServed(ctx context.Context, t *testing.T, p *proc) bool {
	t.Helper()
	probe := uaPeer(t, "udp", "probe", ua.WithKeepalive(0), ua.WithServer(p.udp))
	err := probe.SendMessage(ctx, "nobody", "probe")
	var se *ua.StatusError
	if errors.As(err, &se) && (se.Code == http.StatusMethodNotAllowed || se.Code == http.StatusNotImplemented) {
		return false
	}
	return true
}
