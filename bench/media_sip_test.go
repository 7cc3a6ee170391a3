package bench

import (
	"context"
	"testing"
	"time"
)

// TestRunMediaSIP places the calls through the call scenario's fake
// record-routing proxy, which passes the SDP on unchanged: the UAS learns
// peer A's address from the INVITE and the UAC peer B's from the 200, so
// the peers stream straight to each other, and the dialogs end with BYE.
func TestRunMediaSIP(t *testing.T) {
	p := newFakeProxy(t, fakeProxyOptions{})
	cfg := MediaConfig{Control: "sip", Target: p.addr(), Calls: 3, PPS: 50, Duration: 500 * time.Millisecond,
		Drain: 500 * time.Millisecond, Sockets: 2}
	res, err := RunMedia(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 150 || res.Received != 150 || res.Misrouted != 0 || res.TeardownError != "" {
		t.Errorf("sent %d received %d misrouted %d teardown %q", res.Sent, res.Received, res.Misrouted, res.TeardownError)
	}
	routed, _ := p.countsWhen(time.Second, func(r, _ map[string]int) bool { return r["BYE"] == 3 })
	if routed["ACK"] != 3 || routed["BYE"] != 3 {
		t.Errorf("routed %v, want 3 ACK and 3 BYE", routed)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.contacts) != 3 {
		t.Errorf("%d contacts registered, want 3", len(p.contacts))
	}
}

func TestRunMediaSIPNoCallee(t *testing.T) {
	p := newFakeProxy(t, fakeProxyOptions{forget: true})
	cfg := MediaConfig{Control: "sip", Target: p.addr(), Calls: 1, Duration: 100 * time.Millisecond}
	if _, err := RunMedia(context.Background(), cfg); err == nil {
		t.Fatal("no error for a call answered 404")
	}
}

func TestSIPControlCallOf(t *testing.T) {
	s := &sipControl{cfg: MediaConfig{SIP: DefaultMediaSIPOptions()}, calls: make([]*mediaCall, 12)}
	for i := range s.calls {
		s.calls[i] = &mediaCall{idx: i}
	}
	for req, want := range map[string]int{
		"INVITE sip:mcallee11@127.0.0.1:5060 SIP/2.0\r\n": 11,
		"INVITE sip:mcallee0@h SIP/2.0\r\n":               0,
		"INVITE sip:mcallee12@h SIP/2.0\r\n":              -1,
		"INVITE sip:other1@h SIP/2.0\r\n":                 -1,
		"INVITE sip:mcalleex@h SIP/2.0\r\n":               -1,
		"INVITE\r\n":                                      -1,
	} {
		mc := s.callOf([]byte(req))
		if got := -1; mc != nil {
			got = mc.idx
			if got != want {
				t.Errorf("%q: call %d, want %d", req, got, want)
			}
		} else if want != -1 {
			t.Errorf("%q: no call, want %d", req, want)
		}
	}
}
