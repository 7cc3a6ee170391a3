package ua

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/b2bua/b2bua/pidf"
)

// newTestPeer starts a peer that the test closes.
func newTestPeer(t *testing.T, identity, listen string, opts ...Option) *Peer {
	t.Helper()
	p, err := New(identity, listen, zaptest.NewLogger(t), opts...)
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

// waitUpdate reads ch until an update satisfies ok (5 s at most).
func waitUpdate(t *testing.T, ch <-chan Update, what string, ok func(Update) bool) Update {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case u, open := <-ch:
			if !open {
				t.Fatalf("%s: updates closed", what)
			}
			if ok(u) {
				return u
			}
		case <-deadline:
			t.Fatalf("%s: no such update in 5 s", what)
		}
	}
}

func isStatus(s pidf.Status, sub SubState) func(Update) bool {
	return func(u Update) bool { return u.State.Status == s && u.Sub == sub }
}

// waitFor polls cond for 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not within 5 s", what)
}

func directCount(p *Peer) int {
	p.pres.mu.Lock()
	defer p.pres.mu.Unlock()
	return len(p.pres.direct)
}

// testCtx is in register_test.go (both branches added the same helper).

// TestP2PWatch: peer to peer over UDP and TCP, bob watches alice: the
// first NOTIFY says Available, SetPresence Busy with a note reaches him,
// Stop unsubscribes, and nothing is left running.
func TestP2PWatch(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			ctx := testCtx(t)
			alice := newTestPeer(t, "sip:alice@example.com", network+":127.0.0.1:0")
			bob := newTestPeer(t, "sip:bob@example.com", network+":127.0.0.1:0")
			w, err := bob.Watch(ctx, "sip:alice@"+alice.Addr())
			if err != nil {
				t.Fatal(err)
			}
			if w.Target() != "sip:alice@"+alice.Addr() {
				t.Fatalf("target %q", w.Target())
			}
			waitUpdate(t, w.Updates(), "available", isStatus(pidf.StatusAvailable, SubActive))
			if err := alice.SetPresence(ctx, pidf.StatusBusy, WithNote("in a meeting"), WithCaps(pidf.CapAudio)); err != nil {
				t.Fatal(err)
			}
			u := waitUpdate(t, w.Updates(), "busy", isStatus(pidf.StatusBusy, SubActive))
			if u.State.Note != "in a meeting" || u.State.Caps != pidf.CapAudio || u.Target != w.Target() || u.At.IsZero() {
				t.Fatalf("update %+v", u)
			}
			if err := w.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "alice forgets bob", func() bool { return directCount(alice) == 0 })
			if _, open := <-w.Updates(); open {
				// drain what was queued before Stop
				for range w.Updates() {
				}
			}
		})
	}
}

// TestP2PAuthorization: an allow list refuses with 403; an approve
// callback keeps bob pending until alice approves, or blocks him.
func TestP2PAuthorization(t *testing.T) {
	ctx := testCtx(t)
	t.Run("allow list", func(t *testing.T) {
		alice := newTestPeer(t, "sip:alice@example.com", "udp:127.0.0.1:0", WithAllowList("sip:carol@example.com"))
		bob := newTestPeer(t, "sip:bob@example.com", "udp:127.0.0.1:0")
		carol := newTestPeer(t, "sip:carol@example.com", "udp:127.0.0.1:0")
		_, err := bob.Watch(ctx, "sip:alice@"+alice.Addr())
		var se *StatusError
		if !errors.As(err, &se) || se.Code != 403 {
			t.Fatalf("bob: %v, want 403", err)
		}
		w, err := carol.Watch(ctx, "sip:alice@"+alice.Addr())
		if err != nil {
			t.Fatal(err)
		}
		waitUpdate(t, w.Updates(), "carol sees alice", isStatus(pidf.StatusAvailable, SubActive))
	})
	t.Run("approve", func(t *testing.T) {
		asked := make(chan string, 1)
		alice := newTestPeer(t, "sip:alice@example.com", "udp:127.0.0.1:0", WithApprove(func(w string) Decision {
			asked <- w
			return Pending
		}))
		bob := newTestPeer(t, "sip:bob@example.com", "udp:127.0.0.1:0")
		w, err := bob.Watch(ctx, "sip:alice@"+alice.Addr())
		if err != nil {
			t.Fatal(err)
		}
		if got := <-asked; got != "sip:bob@example.com" {
			t.Fatalf("asked about %q", got)
		}
		waitUpdate(t, w.Updates(), "pending", func(u Update) bool { return u.Sub == SubPending })
		pend, err := alice.PendingWatchers(ctx)
		if err != nil || len(pend) != 1 || pend[0].AOR != "sip:bob@example.com" {
			t.Fatalf("pending %v %v", pend, err)
		}
		if err := alice.SetPresence(ctx, pidf.StatusAway, WithNote("lunch")); err != nil {
			t.Fatal(err)
		}
		if err := alice.Approve(ctx, "sip:bob@example.com"); err != nil {
			t.Fatal(err)
		}
		u := waitUpdate(t, w.Updates(), "active", isStatus(pidf.StatusAway, SubActive))
		if u.State.Note != "lunch" {
			t.Fatalf("update %+v", u)
		}
		if pend, _ := alice.PendingWatchers(ctx); len(pend) != 0 {
			t.Fatalf("still pending: %v", pend)
		}
		// Blocking ends the subscription for good: reason rejected, no resubscribe.
		if err := alice.Block(ctx, "bob@example.com"); err != nil {
			t.Fatal(err)
		}
		waitUpdate(t, w.Updates(), "rejected", func(u Update) bool { return u.Sub == SubTerminated && u.Reason == "rejected" })
		for range w.Updates() { // closed: the watch gave up
		}
		if _, err := bob.Watch(ctx, "sip:alice@"+alice.Addr()); err == nil {
			t.Fatal("a blocked watcher subscribed again")
		}
	})
}

// TestP2PClose: closing the watcher unsubscribes; closing the watched
// peer ends the subscription with its last state Offline.
func TestP2PClose(t *testing.T) {
	ctx := testCtx(t)
	alice := newTestPeer(t, "sip:alice@example.com", "udp:127.0.0.1:0")
	bob := newTestPeer(t, "sip:bob@example.com", "udp:127.0.0.1:0")
	carol := newTestPeer(t, "sip:carol@example.com", "tcp:127.0.0.1:0")
	if _, err := bob.Watch(ctx, "sip:alice@"+alice.Addr()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "alice has bob", func() bool { return directCount(alice) == 1 })
	if err := bob.Close(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bob's Close unsubscribes", func() bool { return directCount(alice) == 0 })

	dave := newTestPeer(t, "sip:dave@example.com", "tcp:127.0.0.1:0")
	w, err := dave.Watch(ctx, "sip:carol@"+carol.Addr())
	if err != nil {
		t.Fatal(err)
	}
	waitUpdate(t, w.Updates(), "available", isStatus(pidf.StatusAvailable, SubActive))
	if err := carol.Close(ctx); err != nil {
		t.Fatal(err)
	}
	u := waitUpdate(t, w.Updates(), "offline", isStatus(pidf.StatusOffline, SubTerminated))
	if u.Reason != "deactivated" {
		t.Fatalf("reason %q", u.Reason)
	}
}

// TestP2PHeartbeatOffline: the watched peer stops answering (its
// listener dies without a word): after offlineAfter the watcher reports
// Offline; a peer answering again on that address is resubscribed.
func TestP2PHeartbeatOffline(t *testing.T) {
	ctx := testCtx(t)
	alice := newTestPeer(t, "sip:alice@example.com", "udp:127.0.0.1:0")
	bob := newTestPeer(t, "sip:bob@example.com", "udp:127.0.0.1:0", WithHeartbeat(100*time.Millisecond, 300*time.Millisecond))
	w, err := bob.Watch(ctx, "sip:alice@"+alice.Addr())
	if err != nil {
		t.Fatal(err)
	}
	waitUpdate(t, w.Updates(), "available", isStatus(pidf.StatusAvailable, SubActive))
	addr := alice.Addr()
	alice.pres.mu.Lock()
	alice.pres.direct = map[string]*directWatcher{} // a crash: no NOTIFY on the way out,
	alice.pres.mu.Unlock()
	_ = alice.ln.Close() // and no answer to OPTIONS
	start := time.Now()
	u := waitUpdate(t, w.Updates(), "offline", isStatus(pidf.StatusOffline, SubTerminated))
	if u.Reason != "unreachable" || time.Since(start) < 200*time.Millisecond {
		t.Fatalf("update %+v after %v", u, time.Since(start))
	}
	alice2 := newTestPeer(t, "sip:alice@example.com", "udp:"+addr)
	if err := alice2.SetPresence(ctx, pidf.StatusDoNotDisturb); err != nil {
		t.Fatal(err)
	}
	waitUpdate(t, w.Updates(), "back", isStatus(pidf.StatusDoNotDisturb, SubActive))
}

// TestResubscribeAfterTerminated: a NOTIFY terminated with retry-after
// makes the watcher subscribe again (a new dialog) after that delay.
func TestResubscribeAfterTerminated(t *testing.T) {
	ctx := testCtx(t)
	alice := newTestPeer(t, "sip:alice@example.com", "tcp:127.0.0.1:0")
	bob := newTestPeer(t, "sip:bob@example.com", "tcp:127.0.0.1:0")
	w, err := bob.Watch(ctx, "sip:alice@"+alice.Addr())
	if err != nil {
		t.Fatal(err)
	}
	waitUpdate(t, w.Updates(), "available", isStatus(pidf.StatusAvailable, SubActive))
	alice.pres.mu.Lock()
	var dw *directWatcher
	for _, d := range alice.pres.direct {
		dw = d
	}
	dw.sub, dw.reason = SubTerminated, "probation;retry-after=1"
	alice.removeDirectLocked(dw)
	alice.pres.mu.Unlock()
	sent := time.Now()
	alice.notify(ctx, dw)
	waitUpdate(t, w.Updates(), "terminated", func(u Update) bool { return u.Sub == SubTerminated && u.Reason == "probation" })
	waitUpdate(t, w.Updates(), "active again", isStatus(pidf.StatusAvailable, SubActive))
	if d := time.Since(sent); d < 900*time.Millisecond {
		t.Fatalf("resubscribed after %v, before retry-after", d)
	}
	alice.pres.mu.Lock()
	var again *directWatcher
	for _, d := range alice.pres.direct {
		again = d
	}
	alice.pres.mu.Unlock()
	if again == nil || again.callID == dw.callID {
		t.Fatal("no new dialog")
	}
}

func TestParseSubscriptionState(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want subStatus
	}{
		{"active;expires=600", subStatus{state: SubActive, expires: 600 * time.Second}},
		{"pending", subStatus{state: SubPending}},
		{"terminated;reason=rejected", subStatus{state: SubTerminated, reason: "rejected"}},
		{"Terminated; reason=Probation; retry-after=30", subStatus{state: SubTerminated, reason: "probation", retryAfter: 30 * time.Second, hasRetry: true}},
		{"", subStatus{state: SubActive}},
	} {
		if got := parseSubscriptionState(tc.in); got != tc.want {
			t.Errorf("%q: %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

// TestP2PSubscribeErrors: an unknown event is 489, another user 404.
func TestP2PSubscribeErrors(t *testing.T) {
	ctx := testCtx(t)
	alice := newTestPeer(t, "sip:alice@example.com", "udp:127.0.0.1:0")
	bob := newTestPeer(t, "sip:bob@example.com", "udp:127.0.0.1:0")
	for _, tc := range []struct {
		user, event string
		code        int
	}{{"alice", "dialog", 489}, {"zoe", "presence", 404}, {"alice", "presence", 200}} {
		to, _ := bob.target("sip:" + tc.user + "@" + alice.Addr())
		req := bob.newRequest("SUBSCRIBE", to)
		req.AppendHeader(sipHeader("Event", tc.event))
		req.AppendHeader(sipHeader("Expires", "0"))
		res, err := bob.send(ctx, req)
		if err != nil || res.StatusCode != tc.code {
			t.Errorf("%s/%s: %v %v, want %d", tc.user, tc.event, res, err, tc.code)
		}
		if strings.Contains(tc.event, "dialog") && headerValue(res, "Allow-Events") != "presence" {
			t.Errorf("489 without Allow-Events")
		}
	}
}

func sipHeader(name, value string) sip.Header { return sip.NewHeader(name, value) }

// TestP2PRefresh: a watch granted 2 s is refreshed in its dialog before it
// runs out, and the direct watcher stays.
func TestP2PRefresh(t *testing.T) {
	ctx := testCtx(t)
	alice := newTestPeer(t, "sip:alice@example.com", "udp:127.0.0.1:0")
	bob := newTestPeer(t, "sip:bob@example.com", "udp:127.0.0.1:0", WithSubscribeExpires(2*time.Second))
	w, err := bob.Watch(ctx, "sip:alice@"+alice.Addr())
	if err != nil {
		t.Fatal(err)
	}
	waitUpdate(t, w.Updates(), "available", isStatus(pidf.StatusAvailable, SubActive))
	refreshed := func() bool {
		alice.pres.mu.Lock()
		defer alice.pres.mu.Unlock()
		for _, dw := range alice.pres.direct {
			return dw.remoteCSeq > 1 && time.Until(dw.expires) > time.Second
		}
		return false
	}
	waitFor(t, "refresh", refreshed)
	time.Sleep(1500 * time.Millisecond) // past the first grant
	if directCount(alice) != 1 {
		t.Fatal("the subscription expired despite the refresh")
	}
}

// TestP2PDirectWatcherExpires: a direct watcher that does not refresh is
// dropped when its subscription runs out (RFC 6665 §4.2.2), not before,
// and told so with NOTIFY terminated;reason=timeout.
//
// bob sends a bare SUBSCRIBE, so he must answer the NOTIFYs of its dialog
// himself: a peer answers those of a dialog it does not know with 481,
// and on 481 alice drops the watcher at once, which would race with the
// checks below and leave expiry untested.
func TestP2PDirectWatcherExpires(t *testing.T) {
	ctx := testCtx(t)
	alice := newTestPeer(t, "sip:alice@example.com", "udp:127.0.0.1:0")
	bob := newTestPeer(t, "sip:bob@example.com", "udp:127.0.0.1:0")
	to, _ := bob.target("sip:alice@" + alice.Addr())
	req := bob.newRequest("SUBSCRIBE", to)
	req.AppendHeader(sipHeader("Event", "presence"))
	req.AppendHeader(sipHeader("Expires", "1"))
	states := make(chan string, 8)
	bob.dialogs.Store(req.CallID().Value(), func(r *sip.Request, tx sip.ServerTransaction) {
		if r.Method == sip.NOTIFY {
			select { // never block alice's Close on a full channel
			case states <- headerValue(r, "Subscription-State"):
			default:
				t.Error("more NOTIFYs than expected")
			}
		}
		bob.respond(tx, r, 200, "OK")
	})
	sent := time.Now()
	res, err := bob.send(ctx, req)
	if err != nil || res.StatusCode != 200 || headerValue(res, "Expires") != "1" {
		t.Fatalf("SUBSCRIBE: %v %v", res, err)
	}
	if directCount(alice) != 1 {
		t.Fatal("no direct watcher")
	}
	nextState := func(what string) string {
		t.Helper()
		select {
		case s := <-states:
			return s
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no NOTIFY in 5 s", what)
			return ""
		}
	}
	if s := nextState("first NOTIFY"); !strings.HasPrefix(s, "active") {
		t.Fatalf("first NOTIFY: Subscription-State %q", s)
	}
	if s := nextState("last NOTIFY"); s != "terminated;reason=timeout" {
		t.Fatalf("last NOTIFY: Subscription-State %q", s)
	}
	if d := time.Since(sent); d < time.Second {
		t.Fatalf("expired after %v, before its 1 s", d)
	}
	if directCount(alice) != 0 {
		t.Fatal("the watcher outlived its subscription")
	}
}
