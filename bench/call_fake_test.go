package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeProxy is a minimal registrar and stateless record-routing proxy on
// UDP for the call scenario's tests, shaped like bench/kamailio/call.cfg:
// REGISTER binds the Contact; an initial INVITE is answered 100, then
// record-routed and forwarded to the callee's contact (404 for a callee
// without one); requests with a Route to it (ACK, BYE) are forwarded to
// their Request-URI; responses go back to the caller of their Call-ID
// with the proxy's Via removed.
type fakeProxy struct {
	conn *net.UDPConn
	wg   sync.WaitGroup
	opt  fakeProxyOptions

	mu       sync.Mutex
	contacts map[string]*net.UDPAddr
	callers  map[string]*net.UDPAddr // Call-ID → the generator's address
	next     int
	routed   map[string]int // in-dialog requests that came with a Route to the proxy, by method
	unrouted map[string]int // in-dialog requests without one (the ACK of a failure), by method
}

// fakeProxyOptions make the fake proxy misbehave.
type fakeProxyOptions struct {
	// forget answers REGISTER 200 and keeps no contact: INVITE gets 404.
	forget bool
	// dup200 passes each 2xx to INVITE on twice, as a UAS that did not
	// see the ACK in time retransmits it.
	dup200 bool
}

func newFakeProxy(t *testing.T, opt fakeProxyOptions) *fakeProxy {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeProxy{conn: conn, opt: opt, contacts: map[string]*net.UDPAddr{}, callers: map[string]*net.UDPAddr{},
		routed: map[string]int{}, unrouted: map[string]int{}}
	f.wg.Go(f.serve)
	t.Cleanup(func() { _ = conn.Close(); f.wg.Wait() })
	return f
}

func (f *fakeProxy) addr() string { return f.conn.LocalAddr().String() }

func (f *fakeProxy) serve() {
	buf := make([]byte, 64<<10)
	for {
		n, from, err := f.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		msg := bytes.Clone(buf[:n])
		if bytes.HasPrefix(msg, []byte("SIP/2.0 ")) {
			f.response(msg)
			continue
		}
		var r IncomingRequest
		if ParseRequest(msg, &r) != nil {
			continue
		}
		switch {
		case string(r.Method) == "REGISTER":
			f.register(msg, from)
		case r.ToTag != nil:
			f.inDialog(msg, string(r.Method))
		case string(r.Method) == "INVITE":
			f.invite(msg, from, string(r.CallID))
		}
	}
}

func (f *fakeProxy) reply(req []byte, to *net.UDPAddr, status int) {
	if b, _, err := AppendEchoResponse(nil, req, status, ""); err == nil {
		_, _ = f.conn.WriteToUDP(b, to)
	}
}

func (f *fakeProxy) register(req []byte, from *net.UDPAddr) {
	contact := header(req, "Contact")
	i, j := strings.IndexByte(contact, '@'), strings.IndexByte(contact, '>')
	addr, err := net.ResolveUDPAddr("udp", contact[i+1:max(j, i+1)])
	if i < 0 || j < i || err != nil {
		f.reply(req, from, 400)
		return
	}
	if !f.opt.forget {
		f.mu.Lock()
		f.contacts[uriUser(header(req, "To"))] = addr
		f.mu.Unlock()
	}
	f.reply(req, from, 200)
}

// invite answers 100 and forwards the INVITE, record-routed, to the
// callee's contact (RFC 3261 §16.6).
func (f *fakeProxy) invite(req []byte, from *net.UDPAddr, callID string) {
	f.reply(req, from, 100)
	user := uriUser(string(req[:bytes.IndexByte(req, '\r')]))
	f.mu.Lock()
	contact := f.contacts[user]
	f.callers[callID] = from
	f.next++
	branch := fmt.Sprintf("z9hG4bKfp%d", f.next)
	f.mu.Unlock()
	if contact == nil {
		f.reply(req, from, 404)
		return
	}
	rest := req[bytes.IndexByte(req, '\n')+1:]
	fwd := fmt.Appendf(nil, "INVITE sip:%s@%s SIP/2.0\r\nRecord-Route: <sip:%s;lr>\r\nVia: SIP/2.0/UDP %s;branch=%s\r\n",
		user, contact, f.addr(), f.addr(), branch)
	_, _ = f.conn.WriteToUDP(append(fwd, rest...), contact)
}

// inDialog forwards a request with a Route to the proxy to its
// Request-URI, the Route removed; one without is counted and dropped (an
// ACK to a failure the proxy answered itself).
func (f *fakeProxy) inDialog(req []byte, method string) {
	route := header(req, "Route")
	f.mu.Lock()
	if !strings.Contains(route, f.addr()) {
		f.unrouted[method]++
		f.mu.Unlock()
		return
	}
	f.routed[method]++
	f.next++
	branch := fmt.Sprintf("z9hG4bKfp%d", f.next)
	f.mu.Unlock()
	line := string(req[:bytes.IndexByte(req, '\r')])
	target := line[strings.IndexByte(line, '@')+1 : strings.LastIndexByte(line, ' ')]
	to, err := net.ResolveUDPAddr("udp", strings.SplitN(target, ";", 2)[0])
	if err != nil {
		return
	}
	fwd := bytes.Replace(req, []byte("Route: "+route+"\r\n"), nil, 1)
	nl := bytes.IndexByte(fwd, '\n') + 1
	fwd = append(fmt.Appendf(bytes.Clone(fwd[:nl]), "Via: SIP/2.0/UDP %s;branch=%s\r\n", f.addr(), branch), fwd[nl:]...)
	_, _ = f.conn.WriteToUDP(fwd, to)
}

// response removes the proxy's Via and passes the response on to the
// caller of its Call-ID.
func (f *fakeProxy) response(msg []byte) {
	var r Response
	if ParseResponse(msg, &r) != nil {
		return
	}
	f.mu.Lock()
	to := f.callers[string(r.CallID)]
	f.mu.Unlock()
	i := bytes.Index(msg, []byte("\r\nVia: "))
	if to == nil || i < 0 {
		return
	}
	j := bytes.Index(msg[i+2:], []byte("\r\n"))
	out := append(bytes.Clone(msg[:i]), msg[i+2+j:]...)
	_, _ = f.conn.WriteToUDP(out, to)
	if f.opt.dup200 && r.Status == 200 && string(r.CSeqMethod) == "INVITE" {
		time.Sleep(time.Millisecond) // after the ACK went out
		_, _ = f.conn.WriteToUDP(out, to)
	}
}

// counts returns the in-dialog requests seen, under the lock.
func (f *fakeProxy) counts() (routed, unrouted map[string]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return copyMap(f.routed), copyMap(f.unrouted)
}

// countsWhen waits up to d for ok to hold of the counts, and returns
// them. The ACK of a failure is the last message of its call and nothing
// answers it: Run may return before serve has read the last one.
func (f *fakeProxy) countsWhen(d time.Duration, ok func(routed, unrouted map[string]int) bool) (routed, unrouted map[string]int) {
	deadline := time.Now().Add(d)
	for {
		routed, unrouted = f.counts()
		if ok(routed, unrouted) || time.Now().After(deadline) {
			return routed, unrouted
		}
		time.Sleep(time.Millisecond)
	}
}

func copyMap(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestCall runs the call scenario end to end through the fake proxy to
// the generator's own UAS: the setup, each call's INVITE, ACK and BYE on
// the route the proxy record-routed, holds that make calls overlap, a
// retransmitted 2xx acknowledged again, and callees the proxy cannot
// reach (404, whose ACK stays hop by hop).
func TestCallFake(t *testing.T) {
	tests := []struct {
		name  string
		fake  fakeProxyOptions
		opt   CallOptions
		rate  float64
		total uint64
		// want: calls set up, completed, failed with 404; ACKs at the UAS.
		up, done, fail404, acks uint64
		minPeak                 int64
	}{
		{name: "no hold", opt: CallOptions{Callees: 5}, rate: 200, total: 40, up: 40, done: 40, acks: 40, minPeak: 1},
		{name: "hold, two UAS sockets", opt: CallOptions{Callees: 5, Hold: 300 * time.Millisecond, UASSockets: 2},
			rate: 200, total: 60, up: 60, done: 60, acks: 60, minPeak: 30},
		{name: "retransmitted 2xx", fake: fakeProxyOptions{dup200: true}, opt: CallOptions{Callees: 3}, rate: 100,
			total: 10, up: 10, done: 10, acks: 20, minPeak: 1},
		{name: "callees unreachable", fake: fakeProxyOptions{forget: true}, opt: CallOptions{Callees: 3}, rate: 100,
			total: 10, fail404: 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeProxy(t, tc.fake)
			s, err := NewScenario("call", ScenarioOptions{Call: tc.opt})
			if err != nil {
				t.Fatal(err)
			}
			cfg := Config{Scenario: s, Target: f.addr(), Rate: tc.rate, Total: tc.total, MaxFailures: 0.5,
				Timeout: 2 * time.Second, UserPrefix: "caller"}
			res, err := Run(context.Background(), cfg)
			if tc.fail404 > 0 {
				if !errors.Is(err, ErrTooManyFailures) {
					t.Fatalf("err %v, want ErrTooManyFailures", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			cr := res.Call
			if cr == nil {
				t.Fatal("no call result")
			}
			if cr.RegisterOK != uint64(tc.opt.Callees) {
				t.Errorf("setup: %d registered, want %d", cr.RegisterOK, tc.opt.Callees)
			}
			if cr.Established != tc.up || cr.Completed != tc.done || res.Total.OK != tc.done ||
				cr.InviteFailures[404] != tc.fail404 || cr.InviteTimeouts+cr.ByeTimeouts+cr.ByeFailed != 0 {
				t.Errorf("up %d done %d (ok %d) failures %v timeouts %d/%d, bye failed %d; want %d %d 404×%d",
					cr.Established, cr.Completed, res.Total.OK, cr.InviteFailures, cr.InviteTimeouts, cr.ByeTimeouts,
					cr.ByeFailed, tc.up, tc.done, tc.fail404)
			}
			if cr.UASCounts.Acks != tc.acks || cr.UASCounts.Byes != tc.done || cr.UASCounts.Invites != tc.up {
				t.Errorf("UAS saw %+v", cr.UASCounts)
			}
			if cr.PeakCalls < tc.minPeak || cr.InviteLatency.Count != int64(tc.up) || cr.ByeLatency.Count != int64(tc.done) {
				t.Errorf("peak %d (want ≥ %d), latency counts %d/%d", cr.PeakCalls, tc.minPeak,
					cr.InviteLatency.Count, cr.ByeLatency.Count)
			}
			if tc.fake.dup200 && cr.ReACKs != tc.up {
				t.Errorf("re-ACKs %d, want %d", cr.ReACKs, tc.up)
			}
			proxied := func(routed, unrouted map[string]int) bool {
				return routed["ACK"] == int(tc.acks) && routed["BYE"] == int(tc.done) && unrouted["ACK"] == int(tc.fail404)
			}
			if routed, unrouted := f.countsWhen(time.Second, proxied); !proxied(routed, unrouted) {
				t.Errorf("proxy saw routed %v, unrouted %v", routed, unrouted)
			}
			if tc.opt.Hold > 0 {
				if l := res.Latency; l.P50 < tc.opt.Hold {
					t.Errorf("call latency p50 %v shorter than the hold", l.P50)
				}
			}
			line := SummaryLine(res)
			for _, key := range []string{"callees=", "calls_up=", "call_rate=", "invite_p99_ms=", "bye_p99_ms=",
				"peak_calls=", "bytes_per_call=-", "uas_invites="} {
				if !strings.Contains(line, " "+key) {
					t.Errorf("SUMMARY lacks %s: %s", key, line)
				}
			}
		})
	}
}

// The setup's REGISTERs point each callee at a UAS socket in turn, or
// at --uas.
func TestCallRegister(t *testing.T) {
	c, r := testCall(t)
	c.contacts = []string{"127.0.0.1:1", "127.0.0.1:2"}
	for seq, want := range []string{"<sip:callee0@127.0.0.1:1>", "<sip:callee1@127.0.0.1:2>", "<sip:callee2@127.0.0.1:1>"} {
		r.Seq = uint64(seq)
		b := callRegister{c}.AppendRequest(nil, r)
		if header(b, "Contact") != want || !strings.HasPrefix(header(b, "To"), "<sip:callee"+fmt.Sprint(seq)+"@") {
			t.Errorf("REGISTER %d:\n%s", seq, b)
		}
	}
}
