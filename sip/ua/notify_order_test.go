package ua

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/b2bua/b2bua/pidf"
)

// rawNotifier is a notifier written by hand on a UDP socket, so a test
// can order its messages as it likes.
type rawNotifier struct {
	t    *testing.T
	conn net.PacketConn
}

func (n *rawNotifier) read() (*sip.Request, *sip.Response, net.Addr) {
	n.t.Helper()
	buf := make([]byte, 65535)
	_ = n.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	k, from, err := n.conn.ReadFrom(buf)
	if err != nil {
		n.t.Fatal(err)
	}
	m, err := sip.ParseMessage(buf[:k])
	if err != nil {
		n.t.Fatal(err)
	}
	if req, ok := m.(*sip.Request); ok {
		return req, nil, from
	}
	return nil, m.(*sip.Response), from
}

func (n *rawNotifier) write(to net.Addr, lines ...string) {
	n.t.Helper()
	if _, err := n.conn.WriteTo([]byte(strings.Join(lines, "\r\n")), to); err != nil {
		n.t.Fatal(err)
	}
}

// notify sends a NOTIFY in sub's dialog and returns the status of the
// answer.
func (n *rawNotifier) notify(sub *sip.Request, to net.Addr, fromTag string, cseq int, state, body string) int {
	n.t.Helper()
	lines := []string{
		"NOTIFY " + sub.Contact().Address.String() + " SIP/2.0",
		"Via: SIP/2.0/UDP " + n.conn.LocalAddr().String() + ";branch=z9hG4bK-n" + strconv.FormatInt(time.Now().UnixNano(), 36),
		"From: <sip:alice@example.com>;tag=" + fromTag,
		"To: " + sub.From().Value(),
		"Call-ID: " + sub.CallID().Value(),
		"CSeq: " + strconv.Itoa(cseq) + " NOTIFY",
		"Contact: <sip:alice@" + n.conn.LocalAddr().String() + ">",
		"Event: presence",
		"Subscription-State: " + state,
	}
	if body != "" {
		lines = append(lines, "Content-Type: application/pidf+xml")
	}
	lines = append(lines, "Content-Length: "+strconv.Itoa(len(body)), "", body)
	n.write(to, lines...)
	_, res, _ := n.read()
	if res == nil {
		n.t.Fatal("a request instead of the NOTIFY's answer")
	}
	return res.StatusCode
}

// TestNotifyOrdering: a NOTIFY that beats the SUBSCRIBE's 2xx sets up the
// dialog; a NOTIFY with an old CSeq gets 500 and one from another tag
// 481; terminated with reason noresource ends the watch for good.
func TestNotifyOrdering(t *testing.T) {
	ctx := testCtx(t)
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	n := &rawNotifier{t: t, conn: conn}
	bob := newTestPeer(t, "sip:bob@example.com", "udp:127.0.0.1:0")
	type watchResult struct {
		w   *Watcher
		err error
	}
	done := make(chan watchResult, 1)
	go func() {
		w, err := bob.Watch(ctx, "sip:alice@"+conn.LocalAddr().String())
		done <- watchResult{w, err}
	}()
	sub, _, from := n.read()
	if sub == nil || sub.Method != sip.SUBSCRIBE || headerValue(sub, "Event") != "presence" || headerValue(sub, "Accept") != ctPIDF {
		t.Fatalf("not a presence SUBSCRIBE: %v", sub)
	}
	busy := string(pidf.State{Status: pidf.StatusBusy, Note: "early"}.Document("sip:alice@example.com").Marshal())
	if code := n.notify(sub, from, "a1", 5, "active;expires=600", busy); code != 200 {
		t.Fatalf("NOTIFY before the 2xx: %d", code)
	}
	res := sip.NewResponseFromRequest(sub, 200, "OK", nil)
	res.To().Params.Add("tag", "a1")
	res.AppendHeader(sip.NewHeader("Expires", "600"))
	res.SetBody(nil) // Content-Length: 0
	n.write(from, res.String())
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	u := waitUpdate(t, r.w.Updates(), "early", isStatus(pidf.StatusBusy, SubActive))
	if u.State.Note != "early" {
		t.Fatalf("update %+v", u)
	}
	for _, tc := range []struct {
		name string
		tag  string
		cseq int
		want int
	}{
		{"old cseq", "a1", 5, 500},
		{"other tag", "zz", 9, 481},
		{"in order", "a1", 6, 200},
	} {
		if code := n.notify(sub, from, tc.tag, tc.cseq, "active;expires=600", busy); code != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, code, tc.want)
		}
	}
	if code := n.notify(sub, from, "a1", 7, "terminated;reason=noresource", ""); code != 200 {
		t.Fatalf("terminated: %d", code)
	}
	waitUpdate(t, r.w.Updates(), "terminated", func(u Update) bool { return u.Sub == SubTerminated && u.Reason == "noresource" })
	for range r.w.Updates() { // closed: no resubscribe after noresource
	}
}

// TestSubscribeExpiries: a 423 is asked again with the Min-Expires
// (RFC 6665 §4.1.2.1), and a NOTIFY whose expires is shorter than granted
// brings the refresh forward (§4.1.2.2).
func TestSubscribeExpiries(t *testing.T) {
	ctx := testCtx(t)
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	n := &rawNotifier{t: t, conn: conn}
	bob := newTestPeer(t, "sip:bob@example.com", "udp:127.0.0.1:0")
	done := make(chan error, 1)
	go func() {
		_, err := bob.Watch(ctx, "sip:alice@"+conn.LocalAddr().String())
		done <- err
	}()
	answer := func(req *sip.Request, to net.Addr, code int, reason string, hdrs ...sip.Header) {
		res := sip.NewResponseFromRequest(req, code, reason, nil)
		if code < 300 {
			res.To().Params.Add("tag", "a1")
		}
		for _, h := range hdrs {
			res.AppendHeader(h)
		}
		res.SetBody(nil)
		n.write(to, res.String())
	}
	sub, _, from := n.read()
	if got := headerValue(sub, "Expires"); got != "3600" {
		t.Fatalf("first SUBSCRIBE asks %s", got)
	}
	answer(sub, from, 423, "Interval Too Brief", sip.NewHeader("Min-Expires", "7200"))
	sub, _, from = n.read()
	if got := headerValue(sub, "Expires"); got != "7200" {
		t.Fatalf("after 423 the SUBSCRIBE asks %s, want the Min-Expires 7200", got)
	}
	answer(sub, from, 200, "OK", sip.NewHeader("Expires", "7200"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if code := n.notify(sub, from, "a1", 1, "active;expires=1", ""); code != 200 {
		t.Fatalf("NOTIFY: %d", code)
	}
	refresh, _, from := n.read()
	if refresh == nil || refresh.Method != sip.SUBSCRIBE || refresh.CallID().Value() != sub.CallID().Value() {
		t.Fatalf("want the refresh in the dialog, got %v", refresh)
	}
	if tag, _ := refresh.To().Params.Get("tag"); tag != "a1" {
		t.Fatalf("refresh To tag %q", tag)
	}
	if waited := time.Since(start); waited > 3*time.Second {
		t.Fatalf("refresh after %v: the NOTIFY's expires=1 did not bring it forward", waited)
	}
	answer(refresh, from, 200, "OK", sip.NewHeader("Expires", "7200"))
}
