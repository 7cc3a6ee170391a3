package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// MESSAGE (RFC 3428) driven by SIPp against the real binary. A recipient is
// a message_uas.xml SIPp on a port of its own, registered there with
// message_register.xml (through Path, so the server sends to it rather
// than to the registering SIPp).

// uas runs message_uas.xml for calls MESSAGEs on a free port, in the
// background; wait returns its result.
type uas struct {
	port int
	done chan error
}

func startUAS(t *testing.T, target string, calls int) *uas {
	t.Helper()
	needSIPp(t)
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	u := &uas{port: port, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { u.done <- runSIPpAt(ctx, port, "message_uas.xml", target, calls, 10) }()
	time.Sleep(300 * time.Millisecond) // SIPp binds its port
	return u
}

func (u *uas) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-u.done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the UAS got no MESSAGE")
	}
}

// register registers user at port (expires 0: removes the binding).
func registerUAS(t *testing.T, target, user string, port, expires int) {
	t.Helper()
	sippCalls(t, "message_register.xml", target, 1, 1, "-inf", injection(t, user+";"+strconv.Itoa(port)+";"+strconv.Itoa(expires)))
}

// messageConfig keeps the limits small: 100-byte bodies, 2 messages a box.
func messageConfig(t *testing.T) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "b2bua.yaml")
	if err := os.WriteFile(cfg, []byte("messaging:\n  max_body: 100\n  max_stored: 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestMessageWithSIPp(t *testing.T) {
	needSIPp(t)
	dir := t.TempDir()
	cfg := messageConfig(t)
	p := start(t, dir, "--config", cfg)

	t.Run("to an online user: relayed, 200", func(t *testing.T) {
		u := startUAS(t, p.udp, 1)
		registerUAS(t, p.udp, "bob", u.port, 3600)
		sippCalls(t, "message.xml", p.udp, 1, 1, "-inf", injection(t, "carol;bob"))
		u.wait(t)
		registerUAS(t, p.udp, "bob", u.port, 0)
	})
	t.Run("to an unknown user: 404", func(t *testing.T) {
		sippCalls(t, "message_unknown.xml", p.udp, 1, 1, "-inf", injection(t, "carol;nobody"))
	})
	t.Run("body over max_body: 413", func(t *testing.T) {
		sippCalls(t, "message_too_large.xml", p.udp, 1, 1, "-inf", injection(t, "carol;bob"))
	})
	t.Run("past max_stored: 486", func(t *testing.T) {
		port := freeUDPPort(t)
		registerUAS(t, p.udp, "erin", port, 3600) // known from now on
		registerUAS(t, p.udp, "erin", port, 0)    // and offline
		sippCalls(t, "message_stored.xml", p.udp, 2, 10, "-inf", injection(t, "carol;erin", "carol;erin"))
		sippCalls(t, "message_full.xml", p.udp, 1, 1, "-inf", injection(t, "carol;erin"))
	})

	// Stored for an offline user, the server killed -9 after the 202, and
	// the message delivered after the restart, when the user registers,
	// with its original Date (message_uas.xml checks it).
	port := freeUDPPort(t)
	registerUAS(t, p.udp, "dave", port, 3600)
	registerUAS(t, p.udp, "dave", port, 0)
	sippCalls(t, "message_stored.xml", p.udp, 1, 1, "-inf", injection(t, "carol;dave"))
	p.kill()
	p = start(t, dir, "--config", cfg)
	u := startUAS(t, p.udp, 1)
	registerUAS(t, p.udp, "dave", u.port, 3600)
	u.wait(t)
	if logs := p.logs.String(); strings.Contains(logs, `"level":"error"`) {
		t.Fatalf("errors logged:\n%s", head(logs, 6000))
	}
}

// TestMessageBearerWithSIPp: with authentication on, MESSAGE needs a token
// with sip:call whose identity is the From.
func TestMessageBearerWithSIPp(t *testing.T) {
	needSIPp(t)
	dir := t.TempDir()
	p := start(t, dir, "--auth", "bearer,digest")
	for _, u := range []string{"alice", "carol"} {
		cli(t, dir, p.http, "pw-"+u+"\n", "user", "add", u, "--password-stdin")
	}
	alice := accessToken(t, p.http, "alice", "sip:call")
	carol := accessToken(t, p.http, "carol", "sip:register")
	t.Run("From is not the token's identity", func(t *testing.T) {
		sippCalls(t, "message_forbidden.xml", p.udp, 1, 1, "-inf", injection(t, "carol;alice;"+alice))
	})
	t.Run("token without sip:call", func(t *testing.T) {
		sippCalls(t, "message_forbidden.xml", p.udp, 1, 1, "-inf", injection(t, "carol;alice;"+carol))
	})
}
