package presence

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestSubscribeNotifyRefreshUnsubscribe(t *testing.T) {
	h := run(t, openStore(t, t.TempDir()), testConfig(), map[string][]string{"sip:alice@example.com": {"sip:alice@10.0.0.1"}})
	defer h.stop()
	const aor = "sip:alice@example.com"
	res, d := h.subscribe(aor, "sip:bob@example.com", EventPresence, 600)
	if res.Err != nil || res.State != StateActive || res.Expires != 600 {
		t.Fatalf("SUBSCRIBE = %+v, want 200 active 600 s", res)
	}
	n := h.port.notifies(t, "bob", 1)[0]
	if got := header(n, "Subscription-State"); !strings.HasPrefix(got, "active;expires=") {
		t.Errorf("Subscription-State = %q", got)
	}
	if got := header(n, "Event"); got != "presence" {
		t.Errorf("Event = %q", got)
	}
	if !strings.Contains(string(n.Body()), "<basic>open</basic>") { // registered: at least Available
		t.Errorf("first NOTIFY does not show the registered contact open:\n%s", n.Body())
	}
	if from, to := n.From(), n.To(); from == nil || to == nil || !from.Params.Has("tag") || !to.Params.Has("tag") {
		t.Fatalf("NOTIFY without dialog tags: %v", n)
	}
	cseq1 := n.CSeq().SeqNo

	h.publish(aor, "", 600, body("at lunch"))
	n2 := h.port.notifies(t, "bob", 2)[1]
	if !strings.Contains(string(n2.Body()), "at lunch") {
		t.Errorf("NOTIFY after PUBLISH lacks the note:\n%s", n2.Body())
	}
	if n2.CSeq().SeqNo <= cseq1 {
		t.Errorf("CSeq %d after %d: not ordered", n2.CSeq().SeqNo, cseq1)
	}

	if r := h.resubscribe(d, 2, 900); r.Err != nil || r.Expires != 900 {
		t.Fatalf("refresh = %+v", r)
	}
	h.port.notifies(t, "bob", 3) // RFC 6665 §4.2.1.2: a refresh gets a NOTIFY
	if r := h.resubscribe(d, 2, 900); !errors.Is(r.Err, ErrOutOfOrder) {
		t.Fatalf("refresh with an old CSeq = %+v, want ErrOutOfOrder", r)
	}
	if r := h.resubscribe(d, 3, 0); r.Err != nil {
		t.Fatalf("unsubscribe = %+v", r)
	}
	last := h.port.notifies(t, "bob", 4)[3]
	if got := header(last, "Subscription-State"); got != "terminated;reason=timeout" {
		t.Errorf("final Subscription-State = %q", got)
	}
	if r := h.resubscribe(d, 4, 600); !errors.Is(r.Err, ErrNoSubscription) {
		t.Fatalf("refresh after unsubscribe = %+v, want 481", r)
	}
}

func TestSubscribeRules(t *testing.T) {
	c := testConfig()
	c.MaxDialogsPerWatcher = 2
	h := run(t, openStore(t, t.TempDir()), c, nil)
	defer h.stop()
	const aor = "sip:alice@example.com"
	var brief *IntervalTooBriefError
	cases := []struct {
		name    string
		watcher string
		event   Event
		expires int
		want    func(*SubscribeResult) error
	}{
		{"same domain", "sip:bob@example.com", EventPresence, -1, wantState(StateActive, 3600)},
		{"foreign domain refused", "sip:eve@evil.test", EventPresence, 600, wantErr(ErrForbidden)},
		{"winfo by someone else", "sip:bob@example.com", EventWinfo, 600, wantErr(ErrForbidden)},
		{"winfo by the owner", aor, EventWinfo, 600, wantState(StateActive, 600)},
		{"unknown event", "sip:bob@example.com", EventUnknown, 600, wantErr(ErrBadEvent)},
		{"too brief", "sip:bob@example.com", EventPresence, 10, func(r *SubscribeResult) error {
			if !errors.As(r.Err, &brief) {
				return fmt.Errorf("got %+v, want 423", r)
			}
			return nil
		}},
		{"second dialog of bob", "sip:bob@example.com", EventPresence, 600, wantState(StateActive, 600)},
		{"third dialog of bob is past the cap", "sip:bob@example.com", EventPresence, 600, wantErr(ErrTooManyDialogs)},
		{"fetch", "sip:carl@example.com", EventPresence, 0, wantState(StateActive, 0)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := h.subscribe(aor, tc.watcher, tc.event, tc.expires)
			if err := tc.want(r); err != nil {
				t.Error(err)
			}
		})
	}
	got := h.port.notifies(t, "carl", 1)[0]
	if s := header(got, "Subscription-State"); s != "terminated;reason=timeout" || len(got.Body()) == 0 {
		t.Errorf("fetch NOTIFY: state %q, body %d bytes; want terminated with the state", s, len(got.Body()))
	}
}

func wantState(s SubState, expires int) func(*SubscribeResult) error {
	return func(r *SubscribeResult) error {
		if r.Err != nil || r.State != s || r.Expires != expires {
			return fmt.Errorf("got %+v, want %v for %d s", r, s, expires)
		}
		return nil
	}
}

func wantErr(err error) func(*SubscribeResult) error {
	return func(r *SubscribeResult) error {
		if !errors.Is(r.Err, err) {
			return fmt.Errorf("got %+v, want %v", r, err)
		}
		return nil
	}
}

// TestFanOutToAThousandWatchers: one change reaches every watcher, and a
// watcher that never answers delays nobody.
func TestFanOutToAThousandWatchers(t *testing.T) {
	h := run(t, openStore(t, t.TempDir()), testConfig(), nil)
	defer h.stop()
	const aor = "sip:star@example.com"
	h.port.mu.Lock()
	h.port.silent["w0"] = true
	h.port.mu.Unlock()
	const n = 1000
	for i := range n {
		if r, _ := h.subscribe(aor, fmt.Sprintf("sip:w%d@example.com", i), EventPresence, 600); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	for i := range n {
		h.port.notifies(t, fmt.Sprintf("w%d", i), 1)
	}
	h.publish(aor, "", 600, body("news"))
	for i := 1; i < n; i++ {
		got := h.port.notifies(t, fmt.Sprintf("w%d", i), 2)
		if !strings.Contains(string(got[1].Body()), "news") {
			t.Fatalf("w%d got %s", i, got[1].Body())
		}
	}
	if c := h.port.count("w0"); c != 1 {
		t.Fatalf("the silent watcher got %d NOTIFYs with its first unanswered, want 1 (one at a time)", c)
	}
}

func TestWatcherAnswering481IsRemoved(t *testing.T) {
	h := run(t, openStore(t, t.TempDir()), testConfig(), nil)
	defer h.stop()
	const aor = "sip:alice@example.com"
	_, d := h.subscribe(aor, "sip:ghost@example.com", EventPresence, 600)
	h.port.notifies(t, "ghost", 1)
	h.port.mu.Lock()
	h.port.gone["ghost"] = true
	h.port.mu.Unlock()
	h.publish(aor, "", 600, body("x"))
	h.port.notifies(t, "ghost", 2)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if r := h.resubscribe(d, 5, 600); errors.Is(r.Err, ErrNoSubscription) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("subscription kept after a 481")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if w := h.watchers(aor); len(w) != 0 {
		t.Fatalf("presentity still lists %+v", w)
	}
}

func (h *harness) watchers(aor string) []WatcherInfo {
	h.t.Helper()
	ch := make(chan *WatchersResult, 1)
	h.router.Watchers(&Watchers{AOR: aor, Reply: func(r *WatchersResult) { ch <- r }})
	return wait(h.t, ch, "Watchers").Watchers
}

func (h *harness) decide(aor, watcher string, d Decision, level string) {
	h.t.Helper()
	ch := make(chan error, 1)
	h.router.Decide(&Decide{AOR: aor, Watcher: watcher, Decision: d, Visibility: level, Reply: func(err error) { ch <- err }})
	if err := wait(h.t, ch, "Decide"); err != nil {
		h.t.Fatal(err)
	}
}

// TestApprovePolicy: under approve, a watcher waits pending (202, NOTIFY
// pending without a body) until the owner allows it; a blocked one is
// terminated with reason=rejected; the owner's winfo shows both.
func TestApprovePolicy(t *testing.T) {
	c := testConfig()
	c.Policy = PolicyApprove
	h := run(t, openStore(t, t.TempDir()), c, nil)
	defer h.stop()
	const aor = "sip:alice@example.com"
	h.publish(aor, "", 600, body("secret note"))
	if r, _ := h.subscribe(aor, aor, EventWinfo, 600); r.Err != nil {
		t.Fatal(r.Err)
	}
	h.port.notifies(t, "alice", 1)
	r, _ := h.subscribe(aor, "sip:bob@example.com", EventPresence, 600)
	if r.Err != nil || r.State != StatePending {
		t.Fatalf("SUBSCRIBE under approve = %+v, want pending (202)", r)
	}
	n := h.port.notifies(t, "bob", 1)[0]
	if got := header(n, "Subscription-State"); !strings.HasPrefix(got, "pending") || len(n.Body()) != 0 {
		t.Fatalf("pending NOTIFY: %q with %d bytes of body", got, len(n.Body()))
	}
	winfo := h.port.notifies(t, "alice", 2)[1]
	if !strings.Contains(string(winfo.Body()), "sip:bob@example.com") || !strings.Contains(string(winfo.Body()), `status="pending"`) {
		t.Fatalf("winfo does not show bob pending:\n%s", winfo.Body())
	}
	h.decide(aor, "sip:bob@example.com", DecisionAllow, LevelBasic)
	got := h.port.notifies(t, "bob", 2)
	active := got[len(got)-1]
	if s := header(active, "Subscription-State"); !strings.HasPrefix(s, "active") {
		t.Fatalf("after allow: %q", s)
	}
	if strings.Contains(string(active.Body()), "secret note") {
		t.Errorf("a basic watcher sees the note:\n%s", active.Body())
	}
	h.decide(aor, "sip:bob@example.com", DecisionBlock, "")
	deadline := time.Now().Add(5 * time.Second)
	for {
		got = h.port.notifies(t, "bob", 1)
		if header(got[len(got)-1], "Subscription-State") == "terminated;reason=rejected" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("blocked watcher's last NOTIFY: %q", header(got[len(got)-1], "Subscription-State"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r, _ := h.subscribe(aor, "sip:bob@example.com", EventPresence, 600); !errors.Is(r.Err, ErrForbidden) {
		t.Fatalf("a blocked watcher subscribing again = %+v, want 403", r)
	}
}

// TestSubscriptionsSurviveRestart: subscriptions and publications are in
// the store; a new actor system on the same store fans out to the same
// watchers.
func TestSubscriptionsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	h := run(t, openStore(t, dir), testConfig(), nil)
	const aor = "sip:alice@example.com"
	pub := h.publish(aor, "", 600, body("before"))
	for _, w := range []string{"a", "b", "c"} {
		if r, _ := h.subscribe(aor, "sip:"+w+"@example.com", EventPresence, 600); r.Err != nil {
			t.Fatal(r.Err)
		}
		h.port.notifies(t, w, 1)
	}
	h.stop()

	h = run(t, openStore(t, dir), testConfig(), nil)
	defer h.stop()
	if r := h.publish(aor, pub.ETag, 600, body("after")); r.Err != nil {
		t.Fatalf("publication lost in the restart: %v", r.Err)
	}
	for _, w := range []string{"a", "b", "c"} {
		got := h.port.notifies(t, w, 1)
		if !strings.Contains(string(got[0].Body()), "after") {
			t.Fatalf("%s got %s", w, got[0].Body())
		}
	}
}

// TestNotifyTooLargeForUDPGoesOverTCP: a NOTIFY the port cannot send over
// UDP is sent again over TCP (RFC 3261 §18.1.1) instead of dropping the
// watcher.
func TestNotifyTooLargeForUDPGoesOverTCP(t *testing.T) {
	h := run(t, openStore(t, t.TempDir()), testConfig(), nil)
	defer h.stop()
	h.port.mu.Lock()
	h.port.udpFails = true
	h.port.mu.Unlock()
	const aor = "sip:alice@example.com"
	ch := make(chan *SubscribeResult, 1)
	d := Dialog{CallID: "big", LocalTag: "l", RemoteTag: "r", LocalURI: aor, RemoteURI: "<sip:big@example.com>",
		RemoteTarget: "sip:big@192.0.2.9:5060", RemoteCSeq: 1, Source: "udp:192.0.2.9:5060", Contact: "sip:127.0.0.1:5060"}
	h.router.Subscribe(&Subscribe{Presentity: aor, Watcher: "sip:big@example.com", Event: EventPresence, Expires: 600, Dialog: d,
		Reply: func(r *SubscribeResult) { ch <- r }})
	if r := wait(t, ch, "Subscribe"); r.Err != nil {
		t.Fatal(r.Err)
	}
	got := h.port.notifies(t, "big", 2)
	if got[0].Transport() != "UDP" || got[1].Transport() != "TCP" {
		t.Fatalf("transports %s then %s, want UDP then TCP", got[0].Transport(), got[1].Transport())
	}
}

// TestSubscribeRetransmissions: over UDP SUBSCRIBE is stateless, so the
// actors answer retransmissions: a copy of the initial SUBSCRIBE and of a
// refresh get the same answer again, without another NOTIFY.
func TestSubscribeRetransmissions(t *testing.T) {
	h := run(t, openStore(t, t.TempDir()), testConfig(), nil)
	defer h.stop()
	const aor = "sip:alice@example.com"
	d := Dialog{CallID: "rtx", LocalTag: "l", RemoteTag: "r", LocalURI: aor, RemoteURI: "<sip:rtx@example.com>",
		RemoteTarget: "sip:rtx@watcher.test:5070", RemoteCSeq: 1, Contact: "sip:127.0.0.1:5060"}
	send := func() *SubscribeResult {
		ch := make(chan *SubscribeResult, 1)
		h.router.Subscribe(&Subscribe{Presentity: aor, Watcher: "sip:rtx@example.com", Event: EventPresence, Expires: 600, Branch: "z9hG4bK-1", Dialog: d,
			Reply: func(r *SubscribeResult) { ch <- r }})
		return wait(t, ch, "Subscribe")
	}
	first := send()
	h.port.notifies(t, "rtx", 1)
	again := send()
	if first.Err != nil || again.Err != nil || again.State != first.State || again.Expires != first.Expires {
		t.Fatalf("original %+v, retransmission %+v", first, again)
	}
	refresh := func() *SubscribeResult {
		ch := make(chan *SubscribeResult, 1)
		h.router.Resubscribe(d.Key(), &Resubscribe{Expires: 300, CSeq: 2, Branch: "z9hG4bK-2", Reply: func(r *SubscribeResult) { ch <- r }})
		return wait(t, ch, "Resubscribe")
	}
	if r := refresh(); r.Err != nil || r.Expires != 300 {
		t.Fatalf("refresh = %+v", r)
	}
	h.port.notifies(t, "rtx", 2)
	if r := refresh(); r.Err != nil || r.Expires != 300 {
		t.Fatalf("refresh retransmitted = %+v, want the same 200", r)
	}
	time.Sleep(50 * time.Millisecond)
	if n := h.port.count("rtx"); n != 2 {
		t.Fatalf("%d NOTIFYs, want 2: retransmissions must not notify again", n)
	}
}

// TestNotifyRateLimitDeliversTheLatest: changes closer together than
// MinNotifyInterval are merged, and the last NOTIFY carries the latest
// state (RFC 6446 style).
func TestNotifyRateLimitDeliversTheLatest(t *testing.T) {
	c := testConfig()
	c.MinNotifyInterval = 300 * time.Millisecond
	c.MaxPublishRate = 100
	h := run(t, openStore(t, t.TempDir()), c, nil)
	defer h.stop()
	const aor = "sip:alice@example.com"
	h.subscribe(aor, "sip:slow@example.com", EventPresence, 600)
	h.port.notifies(t, "slow", 1)
	etag := h.publish(aor, "", 600, body("v0")).ETag
	for i := 1; i <= 5; i++ {
		etag = h.publish(aor, etag, 600, body(fmt.Sprintf("v%d", i))).ETag
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		got := h.port.notifies(t, "slow", 2)
		if strings.Contains(string(got[len(got)-1].Body()), "v5") {
			if len(got) > 4 {
				t.Fatalf("%d NOTIFYs for 6 changes within %v: not merged", len(got), c.MinNotifyInterval)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the latest state never went out; last NOTIFY:\n%s", got[len(got)-1].Body())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
