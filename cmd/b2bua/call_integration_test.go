package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/b2bua/b2bua/pidf"
	"github.com/b2bua/b2bua/sip/siptest"
	"github.com/b2bua/b2bua/sip/ua"
)

// Calls (the B2BUA's call control) driven by SIPp against the real binary,
// asserting both legs: the caller's scenario checks what leg A gets, each
// callee's (a SIPp UAS on a port of its own, registered through Path with
// message_register.xml) checks that leg B is a dialog of the server's and
// not the caller's request passed on. See testdata/sipp/README.md.

// sippUA is a SIPp user agent running in the background: a callee (UAS)
// on a port of its own.
type sippUA struct {
	port int
	done chan error
}

// startSIPp runs scenario for one call on a free port in the background.
func startSIPp(t *testing.T, target, scenario string, extra ...string) *sippUA {
	t.Helper()
	needSIPp(t)
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	u := &sippUA{port: port, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { u.done <- runSIPpAt(ctx, port, scenario, target, 1, 1, extra...) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-u.done:
		case <-time.After(10 * time.Second):
		}
	})
	time.Sleep(300 * time.Millisecond) // SIPp binds its port
	return u
}

// wait fails the test unless the UA's scenario completes within 30 s.
func (u *sippUA) wait(t *testing.T, what string) {
	t.Helper()
	select {
	case err := <-u.done:
		u.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: not done in 30 s", what)
	}
}

// callee starts a UAS scenario and registers it as user.
func callee(t *testing.T, p *proc, user, scenario string, extra ...string) *sippUA {
	t.Helper()
	u := startSIPp(t, p.udp, scenario, extra...)
	registerUAS(t, p.udp, user, u.port, 3600)
	return u
}

// call runs a caller scenario from alice to user.
func call(t *testing.T, p *proc, scenario, user string, extra ...string) {
	t.Helper()
	sippCalls(t, scenario, p.udp, 1, 1, append([]string{"-inf", injection(t, "alice;"+user)}, extra...)...)
}

// noErrors fails the test when the server logged an error.
func noErrors(t *testing.T, p *proc) {
	t.Helper()
	if logs := p.logs.String(); strings.Contains(logs, `"level":"error"`) {
		t.Fatalf("errors logged:\n%s", head(logs, 6000))
	}
}

func TestCallWithSIPp(t *testing.T) {
	needSIPp(t)
	p := start(t, t.TempDir(), "--no-answer", "2s")

	t.Run("the caller hangs up", func(t *testing.T) {
		bob := callee(t, p, "bob", "call_uas.xml")
		call(t, p, "call_uac.xml", "bob", "-d", "300")
		bob.wait(t, "callee")
	})
	t.Run("the callee hangs up", func(t *testing.T) {
		bob := callee(t, p, "bob2", "call_uas_bye.xml")
		call(t, p, "call_uac_hungup.xml", "bob2")
		bob.wait(t, "callee")
	})
	t.Run("busy", func(t *testing.T) {
		bob := callee(t, p, "bob3", "call_uas_busy.xml")
		call(t, p, "call_busy.xml", "bob3")
		bob.wait(t, "callee")
	})
	t.Run("no answer: 480 after no_answer, the callee cancelled", func(t *testing.T) {
		bob := callee(t, p, "bob4", "call_uas_ring.xml")
		start := time.Now()
		call(t, p, "call_unavailable.xml", "bob4")
		if d := time.Since(start); d < 1500*time.Millisecond {
			t.Fatalf("480 after %v, before no_answer (2 s)", d)
		}
		bob.wait(t, "callee")
	})
	t.Run("the caller cancels while it rings", func(t *testing.T) {
		bob := callee(t, p, "bob5", "call_uas_ring.xml")
		call(t, p, "call_cancel.xml", "bob5")
		bob.wait(t, "callee")
	})
	t.Run("forked to three contacts, the second answers", func(t *testing.T) {
		first := callee(t, p, "fork", "call_uas_ring.xml")
		second := callee(t, p, "fork", "call_uas.xml", "-d", "200")
		third := callee(t, p, "fork", "call_uas_ring.xml")
		call(t, p, "call_uac.xml", "fork", "-d", "300")
		second.wait(t, "the contact that answers")
		first.wait(t, "the first contact (cancelled)")
		third.wait(t, "the third contact (cancelled)")
	})
	t.Run("unknown user: 404", func(t *testing.T) {
		call(t, p, "call_not_found.xml", "nobody")
	})
	t.Run("known user without contacts: 480", func(t *testing.T) {
		port := freeUDPPort(t)
		registerUAS(t, p.udp, "erin", port, 3600) // known from now on
		registerUAS(t, p.udp, "erin", port, 0)    // and offline
		call(t, p, "call_unavailable.xml", "erin")
	})
	t.Run("another domain without an outbound proxy: 404", func(t *testing.T) {
		sippCalls(t, "call_not_found.xml", p.udp, 1, 1, "-inf", injection(t, "alice;dave"), "-key", "domain", "example.net")
	})
	noErrors(t, p)
}

// TestCallOutboundWithSIPp: with --outbound, a call to another domain goes
// to the proxy (a SIPp UAS): Request-URI the original target, the proxy as
// a loose Route (call_proxy_uas.xml checks both).
func TestCallOutboundWithSIPp(t *testing.T) {
	needSIPp(t)
	proxyPort, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	p := start(t, t.TempDir(), "--outbound", fmt.Sprintf("sip:127.0.0.1:%d", proxyPort))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- runSIPpAt(ctx, proxyPort, "call_proxy_uas.xml", p.udp, 1, 1) }()
	time.Sleep(300 * time.Millisecond)
	sippCalls(t, "call_uac.xml", p.udp, 1, 1, "-inf", injection(t, "alice;dave"), "-key", "domain", "example.net")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the proxy got no call")
	}
	noErrors(t, p)
}

// TestReferWithSIPp: alice calls bob (refer_uas.xml), who transfers her to
// carol (call_uas.xml) with REFER: bob hears 202 and the NOTIFYs of
// message/sipfrag, up to 200 OK, then BYE; alice is re-INVITEd with
// carol's SDP (call_transferee.xml) and her BYE reaches carol.
func TestReferWithSIPp(t *testing.T) {
	needSIPp(t)
	p := start(t, t.TempDir(), "--no-answer", "2s")
	t.Run("blind transfer", func(t *testing.T) {
		carol := callee(t, p, "carol", "call_uas.xml")
		bob := callee(t, p, "bob", "refer_uas.xml", "-inf", injection(t, "carol"))
		call(t, p, "call_transferee.xml", "bob")
		bob.wait(t, "transferor")
		carol.wait(t, "transfer target")
	})
	// Bad REFERs get 400/403, one during a transfer 491; a transfer whose
	// target does not answer ends with a NOTIFY of 480 and leaves the call
	// up: the transferor's BYE reaches the caller.
	t.Run("refused and failed transfers", func(t *testing.T) {
		dave := callee(t, p, "dave", "call_uas_ring.xml")
		erin := callee(t, p, "erin", "refer_errors_uas.xml", "-inf", injection(t, "dave"))
		call(t, p, "call_uac_hungup.xml", "erin")
		erin.wait(t, "transferor")
		dave.wait(t, "transfer target (cancelled)")
	})
	noErrors(t, p)
}

// TestCallPresenceWithSIPp: a watcher (the sip/ua SDK) sees bob InCall
// while his call is up, and not after the BYE.
func TestCallPresenceWithSIPp(t *testing.T) {
	needSIPp(t)
	p := start(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bob := callee(t, p, "bob", "call_uas.xml")
	w, err := ua.New("sip:watcher@localhost", "udp:127.0.0.1:0", zaptest.NewLogger(t).Named("watcher"), ua.WithServer(p.udp))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(ctx)
	watch, err := w.Watch(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	nextUpdate(t, watch.Updates(), "bob registered", func(u ua.Update) bool { return u.State.Status == pidf.StatusAvailable })
	done := make(chan error, 1)
	go func() {
		done <- runSIPp(ctx, "call_uac.xml", p.udp, 1, 1, "-inf", injection(t, "alice;bob"), "-d", "3000")
	}()
	nextUpdate(t, watch.Updates(), "bob in a call", func(u ua.Update) bool { return u.State.Status == pidf.StatusInCall })
	nextUpdate(t, watch.Updates(), "bob's call over", func(u ua.Update) bool { return u.State.Status == pidf.StatusAvailable })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	bob.wait(t, "callee")
}

// TestCallBearerWithSIPp: with authentication on, an INVITE needs a
// bearer token with sip:call whose identity is the From; the callee's BYE
// needs nothing (the dialog authorises it).
func TestCallBearerWithSIPp(t *testing.T) {
	needSIPp(t)
	dir := t.TempDir()
	p := start(t, dir, "--auth", "bearer,digest")
	for _, u := range []string{"alice", "bob", "carol"} {
		cli(t, dir, p.http, "pw-"+u+"\n", "user", "add", u, "--password-stdin")
	}
	alice := accessToken(t, p.http, "alice", "sip:call")
	bobReg := accessToken(t, p.http, "bob", "sip:register")
	carol := accessToken(t, p.http, "carol", "sip:register")

	bob := startSIPp(t, p.udp, "call_uas_bye.xml")
	registerAt(t, p.udp, "bob", bob.port, "Bearer "+bobReg)
	t.Run("with a token: the call, and the callee's BYE without one", func(t *testing.T) {
		sippCalls(t, "call_bearer.xml", p.udp, 1, 1, "-inf", injection(t, "alice;bob;"+alice))
		bob.wait(t, "callee")
	})
	t.Run("no token: 401 Bearer", func(t *testing.T) {
		call(t, p, "call_unauthorized.xml", "bob")
	})
	t.Run("token without sip:call: 403", func(t *testing.T) {
		sippCalls(t, "call_forbidden.xml", p.udp, 1, 1, "-inf", injection(t, "carol;bob;"+carol))
	})
	t.Run("From is not the token's identity: 403", func(t *testing.T) {
		sippCalls(t, "call_forbidden.xml", p.udp, 1, 1, "-inf", injection(t, "carol;bob;"+alice))
	})
	if logs := p.logs.String(); strings.Contains(logs, alice) {
		t.Fatal("a token appears in the server's logs")
	}
}

// registerAt registers user with the contact sip:user@127.0.0.1:port,
// reached through Path (like message_register.xml), with an
// Authorization header.
func registerAt(t *testing.T, addr, user string, port int, authz string) {
	t.Helper()
	c, err := siptest.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id := fmt.Sprintf("%d", time.Now().UnixNano())
	res, err := c.Do(siptest.Lines(
		"REGISTER sip:localhost SIP/2.0",
		"Via: SIP/2.0/UDP "+c.LocalAddr()+";branch=z9hG4bK-"+id,
		"From: <sip:"+user+"@localhost>;tag="+id,
		"To: <sip:"+user+"@localhost>",
		"Call-ID: "+id,
		"CSeq: 1 REGISTER",
		fmt.Sprintf("Contact: <sip:%s@127.0.0.1:%d>", user, port),
		fmt.Sprintf("Path: <sip:127.0.0.1:%d;lr>", port),
		"Expires: 600",
		"Authorization: "+authz,
		"Content-Length: 0"), 3*time.Second)
	if err != nil {
		t.Fatalf("REGISTER %s: %v", user, err)
	}
	expectStatus(t, res, 200)
}
