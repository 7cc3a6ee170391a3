package edge_test

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/b2bua/b2bua/actors"
	"github.com/b2bua/b2bua/actors/outbound"
	"github.com/b2bua/b2bua/bench"
	"github.com/b2bua/b2bua/sip/edge"
	"github.com/b2bua/b2bua/sip/siptest"
)

// portHarness is an edge whose client port an actor sends through, the
// messages that actor gets, and the edge's metrics.
type portHarness struct {
	s    *server
	port outbound.Port
	pid  *actor.PID
	got  chan any
	reg  *prometheus.Registry
}

func startPort(t *testing.T, edit func(*edge.Config)) *portHarness {
	t.Helper()
	reg := prometheus.NewRegistry()
	s := startServerOpts(t, options{metrics: edge.NewMetrics(reg), edit: func(c *edge.Config, _ *actors.System, _ *actors.Routers) {
		if edit != nil {
			edit(c)
		}
	}})
	h := &portHarness{s: s, port: s.edge.Port(s.sys.Actors), got: make(chan any, 64), reg: reg}
	h.pid = s.sys.Actors.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch m := c.Message().(type) {
		case *outbound.Result, *outbound.Provisional:
			h.got <- m
		}
	}))
	t.Cleanup(func() { _ = s.sys.Actors.Root.StopFuture(h.pid).Wait() })
	return h
}

// next is the actor's next message, failing after wait.
func (h *portHarness) next(t *testing.T, wait time.Duration) any {
	t.Helper()
	select {
	case m := <-h.got:
		return m
	case <-time.After(wait):
		t.Fatal("no message")
		return nil
	}
}

// none asserts the actor gets nothing for wait.
func (h *portHarness) none(t *testing.T, wait time.Duration) {
	t.Helper()
	select {
	case m := <-h.got:
		t.Fatalf("unexpected %+v", m)
	case <-time.After(wait):
	}
}

// result is the actor's next message, which must be the Result of id.
func (h *portHarness) result(t *testing.T, id uint64, wait time.Duration) *outbound.Result {
	t.Helper()
	r, ok := h.next(t, wait).(*outbound.Result)
	if !ok || r.ID != id {
		t.Fatalf("want the Result of %d, got %+v", id, r)
	}
	return r
}

// counter is the value of the edge's counter name.
func (h *portHarness) counter(t *testing.T, name string) float64 {
	t.Helper()
	return counterValue(t, h.reg, name)
}

// counterValue is the value of the counter name in reg, 0 when absent.
func counterValue(tb testing.TB, reg *prometheus.Registry, name string) float64 {
	tb.Helper()
	families, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

// topBranch is the branch of the first Via of a raw message.
func topBranch(msg string) string {
	vias := siptest.Header(msg, "Via")
	if len(vias) == 0 {
		return ""
	}
	_, b, _ := strings.Cut(vias[0], "branch=")
	b, _, _ = strings.Cut(b, ";")
	return b
}

const statelessBranch = "z9hG4bK-sl"

// TestPortUDPStateless: a non-INVITE request over UDP leaves from the
// listener with our own Via branch and Max-Forwards 70, its provisional
// and final responses come back as messages, it is retransmitted at Timer
// E while unanswered and ends with ErrTimeout at ClientTimeout; a late
// answer is dropped.
func TestPortUDPStateless(t *testing.T) {
	const timeout = 1500 * time.Millisecond // Timer E fires at 0.5 s; Timer F at 1.5 s ends it
	h := startPort(t, func(c *edge.Config) { c.ClientTimeout = timeout })

	t.Run("answered", func(t *testing.T) {
		ua := h.s.dial(t, "udp")
		h.port.Send(notifyRequest(ua.LocalAddr(), 1), h.pid, 1)
		req, err := ua.Read(time.Second)
		if err != nil || !strings.HasPrefix(req, "NOTIFY sip:watcher@") {
			t.Fatalf("UA got: %v\n%s", err, req)
		}
		if vias := siptest.Header(req, "Via"); len(vias) != 1 || !strings.HasPrefix(topBranch(req), statelessBranch) ||
			!strings.HasPrefix(vias[0], "SIP/2.0/UDP "+h.s.udp+";") {
			t.Fatalf("Via %q, want one from %s with a %s branch", vias, h.s.udp, statelessBranch)
		}
		if mf := siptest.Header(req, "Max-Forwards"); len(mf) != 1 || mf[0] != "70" {
			t.Fatalf("Max-Forwards %q", mf)
		}
		// Back to back: both are read in order off one socket, so the
		// actor gets them in order (a transaction might not).
		for _, status := range []string{"180 Ringing", "200 OK"} {
			if err := ua.Send(reply(req, status)); err != nil {
				t.Fatal(err)
			}
		}
		if p, ok := h.next(t, time.Second).(*outbound.Provisional); !ok || p.ID != 1 || p.Response.StatusCode != 180 {
			t.Fatalf("want the 180 first, got %+v", p)
		}
		r := h.result(t, 1, time.Second)
		if r.Err != nil || r.Response.StatusCode != 200 {
			t.Fatalf("want the 200, got %+v", r)
		}
		if r.Response.Source() != ua.LocalAddr() || r.Response.Transport() != "UDP" {
			t.Fatalf("response from %s over %s, want %s over UDP", r.Response.Source(), r.Response.Transport(), ua.LocalAddr())
		}
		if _, err := ua.Read(800 * time.Millisecond); !errors.Is(err, siptest.ErrNoResponse) {
			t.Fatalf("retransmitted after its final response: %v", err)
		}
	})

	t.Run("retransmitted", func(t *testing.T) {
		ua := h.s.dial(t, "udp")
		before := h.counter(t, "b2bua_sip_client_retransmissions_total")
		start := time.Now()
		h.port.Send(notifyRequest(ua.LocalAddr(), 2), h.pid, 2)
		first, err := ua.Read(time.Second) // lost on the way: no answer
		if err != nil {
			t.Fatal(err)
		}
		again, err := ua.Read(time.Second)
		if err != nil || again != first {
			t.Fatalf("retransmission: %v\n%s\nwant\n%s", err, again, first)
		}
		if d := time.Since(start); d < sip.T1*8/10 {
			t.Fatalf("retransmitted after %v, before T1", d)
		}
		if err := ua.Send(reply(again, "200 OK")); err != nil {
			t.Fatal(err)
		}
		if r := h.result(t, 2, time.Second); r.Err != nil || r.Response.StatusCode != 200 {
			t.Fatalf("want the 200, got %+v", r)
		}
		if n := h.counter(t, "b2bua_sip_client_retransmissions_total") - before; n != 1 {
			t.Fatalf("%v retransmissions, want 1", n)
		}
	})

	t.Run("provisional then T2", func(t *testing.T) {
		ua := h.s.dial(t, "udp")
		h.port.Send(notifyRequest(ua.LocalAddr(), 3), h.pid, 3)
		req, err := ua.Read(time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if err := ua.Send(reply(req, "100 Trying")); err != nil {
			t.Fatal(err)
		}
		if _, ok := h.next(t, time.Second).(*outbound.Provisional); !ok {
			t.Fatal("want the 100")
		}
		// Timer E still fires at T1, then every T2 (4 s): no more
		// copies before Timer F ends it.
		if again, err := ua.Read(time.Second); err != nil || again != req {
			t.Fatalf("retransmission at T1: %v", err)
		}
		if r := h.result(t, 3, timeout); !errors.Is(r.Err, outbound.ErrTimeout) {
			t.Fatalf("want ErrTimeout, got %+v", r)
		}
		if _, err := ua.Read(100 * time.Millisecond); !errors.Is(err, siptest.ErrNoResponse) {
			t.Fatalf("a copy after the provisional before T2: %v", err)
		}
	})

	t.Run("timeout then late answer", func(t *testing.T) {
		ua := h.s.dial(t, "udp")
		start := time.Now()
		h.port.Send(notifyRequest(ua.LocalAddr(), 4), h.pid, 4)
		r := h.result(t, 4, 2*timeout)
		if d := time.Since(start); !errors.Is(r.Err, outbound.ErrTimeout) || d < timeout {
			t.Fatalf("silent UA: %+v after %v", r, d)
		}
		copies := 0
		var req string
		for {
			m, err := ua.Read(50 * time.Millisecond)
			if err != nil {
				break
			}
			req = m
			copies++
		}
		if copies != 2 { // at 0 and at T1; T1+2*T1 is past Timer F
			t.Fatalf("UA got %d copies, want 2", copies)
		}
		stray := h.counter(t, "b2bua_sip_stray_responses_total")
		if err := ua.Send(reply(req, "200 OK")); err != nil {
			t.Fatal(err)
		}
		h.none(t, 300*time.Millisecond)
		if n := h.counter(t, "b2bua_sip_stray_responses_total") - stray; n != 1 {
			t.Fatalf("late answer counted %v times as stray, want 1", n)
		}
	})
}

// TestPortUDPBound: past ClientConcurrency a Send is ErrUnavailable at
// once; a slot comes back when its request ends.
func TestPortUDPBound(t *testing.T) {
	const timeout = 300 * time.Millisecond
	h := startPort(t, func(c *edge.Config) { c.ClientTimeout, c.ClientConcurrency = timeout, 2 })
	ua := h.s.dial(t, "udp")
	for id := uint64(1); id <= 3; id++ {
		h.port.Send(notifyRequest(ua.LocalAddr(), id), h.pid, id)
	}
	if r := h.result(t, 3, 100*time.Millisecond); !errors.Is(r.Err, outbound.ErrUnavailable) {
		t.Fatalf("third Send: %+v", r)
	}
	for range 2 {
		if r, ok := h.next(t, 3*timeout).(*outbound.Result); !ok || !errors.Is(r.Err, outbound.ErrTimeout) {
			t.Fatalf("want ErrTimeout, got %+v", r)
		}
	}
	h.port.Send(notifyRequest(ua.LocalAddr(), 4), h.pid, 4)
	req, err := ua.Read(time.Second)
	for err == nil && !strings.Contains(req, "w-4") { // skip the copies of 1 and 2
		req, err = ua.Read(time.Second)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := ua.Send(reply(req, "200 OK")); err != nil {
		t.Fatal(err)
	}
	if r := h.result(t, 4, time.Second); r.Err != nil {
		t.Fatalf("after the slots came back: %+v", r)
	}
}

// TestPortUDPClose: Close ends every pending request with ErrUnavailable
// and joins the timer goroutine (TestMain's goleak); a Send after it gets
// ErrUnavailable at once.
func TestPortUDPClose(t *testing.T) {
	h := startPort(t, nil)
	ua := h.s.dial(t, "udp")
	for id := uint64(1); id <= 3; id++ {
		h.port.Send(notifyRequest(ua.LocalAddr(), id), h.pid, id)
	}
	for range 3 {
		if _, err := ua.Read(time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.s.edge.Close(); err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for range 3 {
		r, ok := h.next(t, time.Second).(*outbound.Result)
		if !ok || !errors.Is(r.Err, outbound.ErrUnavailable) {
			t.Fatalf("want ErrUnavailable, got %+v", r)
		}
		seen[r.ID] = true
	}
	if len(seen) != 3 {
		t.Fatalf("results for %v", seen)
	}
	h.port.Send(notifyRequest(ua.LocalAddr(), 4), h.pid, 4)
	if r := h.result(t, 4, 100*time.Millisecond); !errors.Is(r.Err, outbound.ErrUnavailable) {
		t.Fatalf("Send after Close: %+v", r)
	}
}

// TestPortTransactions: INVITE over UDP, anything over TCP, and a request
// too large for UDP keep sipgo's client transactions (a branch without
// the stateless prefix); the oversized one fails with ErrTransport, as
// sipgo refuses more than 1300 bytes on UDP (RFC 3261 §18.1.1).
func TestPortTransactions(t *testing.T) {
	h := startPort(t, func(c *edge.Config) { c.ClientTimeout = 2 * time.Second })

	t.Run("tcp", func(t *testing.T) {
		ua := h.s.dial(t, "tcp")
		// sipgo pools a connection once a message came over it, as the
		// REGISTER of a contact does.
		if res, err := ua.Do(optionsTo(ua, "tcp-first"), time.Second); err != nil || siptest.Status(res) != 200 {
			t.Fatalf("OPTIONS: %v\n%s", err, res)
		}
		req := notifyRequest(ua.LocalAddr(), 1)
		req.SetTransport("TCP")
		h.port.Send(req, h.pid, 1)
		got, err := ua.Read(time.Second)
		if err != nil || !strings.HasPrefix(got, "NOTIFY ") || strings.HasPrefix(topBranch(got), statelessBranch) {
			t.Fatalf("UA got: %v\n%s", err, got)
		}
		if err := ua.Send(reply(got, "200 OK")); err != nil {
			t.Fatal(err)
		}
		if r := h.result(t, 1, time.Second); r.Err != nil || r.Response.StatusCode != 200 {
			t.Fatalf("want the 200, got %+v", r)
		}
	})

	t.Run("invite", func(t *testing.T) {
		ua := h.s.dial(t, "udp")
		req := notifyRequest(ua.LocalAddr(), 2)
		req.Method = sip.INVITE
		req.CSeq().MethodName = sip.INVITE
		req.SetBody(nil)
		h.port.Send(req, h.pid, 2)
		got, err := ua.Read(time.Second)
		if err != nil || !strings.HasPrefix(got, "INVITE ") || strings.HasPrefix(topBranch(got), statelessBranch) {
			t.Fatalf("UA got: %v\n%s", err, got)
		}
		if err := ua.Send(reply(got, "486 Busy Here")); err != nil {
			t.Fatal(err)
		}
		if r := h.result(t, 2, time.Second); r.Err != nil || r.Response.StatusCode != 486 {
			t.Fatalf("want the 486, got %+v", r)
		}
		if ack, err := ua.Read(time.Second); err != nil || !strings.HasPrefix(ack, "ACK ") { // sipgo's transaction ACKs it
			t.Fatalf("want the ACK: %v\n%s", err, ack)
		}
	})

	t.Run("too large for udp", func(t *testing.T) {
		ua := h.s.dial(t, "udp")
		req := notifyRequest(ua.LocalAddr(), 3)
		req.SetBody(bytes.Repeat([]byte("x"), 1300))
		h.port.Send(req, h.pid, 3)
		if r := h.result(t, 3, time.Second); !errors.Is(r.Err, outbound.ErrTransport) {
			t.Fatalf("want ErrTransport, got %+v", r)
		}
		if got, err := ua.Read(100 * time.Millisecond); err == nil {
			t.Fatalf("UA got\n%s", got)
		}
	})
}

// TestPortUDPBurst: a NOTIFY fan-out of 10,000 at once to a stateless
// responder on this machine is all answered, none shed or timed out, and
// a REGISTER sent meanwhile is answered too.
func TestPortUDPBurst(t *testing.T) {
	const burst = 10000
	var mu sync.Mutex
	seen := map[string]int{} // branch → copies, to count retransmissions
	echo, err := bench.ListenEcho("udp", "127.0.0.1:0", bench.EchoConfig{Respond: func(req []byte, _ uint64) (int, string) {
		mu.Lock()
		seen[topBranch(string(req))]++
		mu.Unlock()
		return 200, ""
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = echo.Close() }()
	h := startPort(t, nil) // the default ClientConcurrency holds the burst
	h.got = make(chan any, burst)
	dst := echo.Addr().String()
	start := time.Now()
	for id := uint64(1); id <= burst; id++ {
		h.port.Send(notifyRequest(dst, id), h.pid, id)
	}
	// The answers arrive on the listener REGISTERs arrive on: one is
	// still answered meanwhile.
	registerContact(t, h.s.dial(t, "udp"), "udp", "during-burst")
	ok := map[uint64]bool{}
	for range burst {
		r, isResult := h.next(t, 30*time.Second).(*outbound.Result)
		if !isResult || r.Err != nil || r.Response.StatusCode != 200 || ok[r.ID] {
			t.Fatalf("got %+v", r)
		}
		ok[r.ID] = true
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d answered in %v; %d requests reached the responder", burst, time.Since(start), echo.Requests())
	if len(seen) != burst {
		t.Fatalf("%d distinct branches, want %d", len(seen), burst)
	}
}

// TestPortUDPWrongFamily: a destination of an address family no listener
// has is refused at once (ErrTransport), not left to time out.
func TestPortUDPWrongFamily(t *testing.T) {
	h := startPort(t, func(c *edge.Config) { c.ClientTimeout = 5 * time.Second })
	req := notifyRequest("127.0.0.1:9", 1)
	req.SetDestination("[::1]:9")
	h.port.Send(req, h.pid, 1)
	if r := h.result(t, 1, 2*time.Second); !errors.Is(r.Err, outbound.ErrTransport) {
		t.Fatalf("want ErrTransport, got %+v", r)
	}
}
