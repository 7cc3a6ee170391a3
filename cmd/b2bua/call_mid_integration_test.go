package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Mid-dialog methods of calls (PRACK, re-INVITE, UPDATE, INFO, session
// timers, bad input) driven by SIPp against the real binary. Each test
// runs a callee scenario (a SIPp in server mode on a port of its own,
// registered there through Path by message_register.xml) and a caller
// scenario; both check what they receive, so both legs are asserted.

// calleeUAS runs scenario as user's user agent for calls calls on a free
// port, registered there, in the background; wait returns its result.
func calleeUAS(t *testing.T, p *proc, scenario, user string, calls int) *uas {
	t.Helper()
	needSIPp(t)
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	u := &uas{port: port, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { u.done <- runSIPpAt(ctx, port, scenario, p.udp, calls, 10) }()
	time.Sleep(300 * time.Millisecond) // SIPp binds its port
	registerUAS(t, p.udp, user, port, 3600)
	return u
}

// serverClean fails the test when the server logged an error
// (noErrors) or a panic.
func serverClean(t *testing.T, p *proc) {
	t.Helper()
	noErrors(t, p)
	if logs := p.logs.String(); strings.Contains(logs, "panic") {
		t.Fatalf("panic logged:\n%s", head(logs, 6000))
	}
}

// TestCallPrackWithSIPp: 100rel on both legs. The caller requires it and
// PRACKs our reliable 183; the callee sends its 183 reliably and checks
// the B2BUA's PRACK (RAck: 1 1 INVITE).
func TestCallPrackWithSIPp(t *testing.T) {
	needSIPp(t)
	p := start(t, t.TempDir())
	u := calleeUAS(t, p, "call_prack_uas.xml", "bob", 1)
	sippCalls(t, "call_prack_uac.xml", p.udp, 1, 1, "-s", "bob")
	u.wait(t)
	serverClean(t, p)
}

// shortTimers is a configuration with session timers in seconds (the
// hidden calls.test_short_timers lifts the 90 s floor of Min-SE).
func shortTimers(t *testing.T) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "b2bua.yaml")
	if err := os.WriteFile(cfg, []byte("calls:\n  test_short_timers: true\n  min_se: 2s\n  session_expires: 4s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestCallReinviteHoldWithSIPp: hold and resume by re-INVITE, the SDP
// passed through untouched both ways, each 2xx ACKed on both legs.
func TestCallReinviteHoldWithSIPp(t *testing.T) {
	needSIPp(t)
	p := start(t, t.TempDir())
	u := calleeUAS(t, p, "call_reinvite_hold_uas.xml", "bob", 1)
	sippCalls(t, "call_reinvite_hold_uac.xml", p.udp, 1, 1, "-s", "bob")
	u.wait(t)
	serverClean(t, p)
}

// TestCallUpdateInfoWithSIPp: UPDATE with SDP (a target refresh: Contact
// in both the request and the 200) and INFO dtmf-relay relayed with its
// Content-Type, Info-Package and body.
func TestCallUpdateInfoWithSIPp(t *testing.T) {
	needSIPp(t)
	p := start(t, t.TempDir())
	u := calleeUAS(t, p, "call_update_info_uas.xml", "bob", 1)
	sippCalls(t, "call_update_info_uac.xml", p.udp, 1, 1, "-s", "bob")
	u.wait(t)
	serverClean(t, p)
}

// TestCallSessionTimerWithSIPp: leg A's session (5 s, the caller
// refreshes) is never refreshed and expires: BYE on both legs; leg B's
// (4 s, we refresh) gets our re-INVITE at 2 s first. Timers in seconds
// need the hidden calls.test_short_timers (shortTimers).
func TestCallSessionTimerWithSIPp(t *testing.T) {
	needSIPp(t)
	p := start(t, t.TempDir(), "--config", shortTimers(t))
	u := calleeUAS(t, p, "call_session_timer_uas.xml", "bob", 1)
	sippCalls(t, "call_session_timer_uac.xml", p.udp, 1, 1, "-s", "bob")
	u.wait(t)
	serverClean(t, p)
}

// TestCallBadInputWithSIPp: INVITEs the call refuses before forking (400
// Malformed SDP, 488 no usable media, 415 with Accept, 422 with Min-SE),
// and bad input inside a call (400 for a malformed re-INVITE, 500 for a
// CSeq out of order, 491 for a re-INVITE during a re-INVITE, 481 for a
// BYE of no dialog, an ACK of no dialog dropped), all while other calls
// (re-INVITE hold and resume, to carol) are up: they must complete, and
// the server must log no error.
func TestCallBadInputWithSIPp(t *testing.T) {
	needSIPp(t)
	p := start(t, t.TempDir())
	other := calleeUAS(t, p, "call_reinvite_hold_uas.xml", "carol", 4)
	u := calleeUAS(t, p, "call_bad_dialog_uas.xml", "bob", 1)
	done := make(chan error, 1)
	go func() {
		done <- runSIPp(context.Background(), "call_reinvite_hold_uac.xml", p.udp, 4, 1, "-s", "carol")
	}()
	for _, sc := range []string{"call_bad_sdp.xml", "call_bad_media.xml", "call_bad_type.xml", "call_bad_session.xml"} {
		sippCalls(t, sc, p.udp, 1, 1, "-s", "bob")
	}
	sippCalls(t, "call_bad_dialog_uac.xml", p.udp, 1, 1, "-s", "bob")
	u.wait(t)
	if err := <-done; err != nil {
		t.Fatalf("the other calls: %v", err)
	}
	other.wait(t)
	serverClean(t, p)
}

// TestCallReinviteDelayedOfferWithSIPp: a re-INVITE without SDP; the
// callee's 2xx offer reaches the caller, whose ACK answer reaches the
// callee's ACK.
func TestCallReinviteDelayedOfferWithSIPp(t *testing.T) {
	needSIPp(t)
	p := start(t, t.TempDir())
	u := calleeUAS(t, p, "call_reinvite_delayed_uas.xml", "bob", 1)
	sippCalls(t, "call_reinvite_delayed_uac.xml", p.udp, 1, 1, "-s", "bob")
	u.wait(t)
	serverClean(t, p)
}
