package call

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/b2bua/b2bua/actors/dialog"
	"github.com/b2bua/b2bua/actors/outbound"
	"github.com/b2bua/b2bua/actors/shard"
	"github.com/b2bua/b2bua/sip/status"
	"github.com/b2bua/b2bua/supervision"
)

// This file is the supervision tests' harness: the call kind started
// through shard as the server starts it, a fake outbound port that records
// what the legs send and lets the test answer, and a fake ServerTx for leg
// A. Names start with sup so that they cannot clash with other tests'.

// supSent is one request a leg sent through the port.
type supSent struct {
	req *sip.Request
	to  *actor.PID
	id  uint64
}

// supPort is the outbound port of the tests. Requests of a method in auto
// are answered at once with that status (INVITE: a 2xx with a To tag, a
// Contact and an SDP answer); the others wait for the test.
type supPort struct {
	root *actor.RootContext
	mu   sync.Mutex
	sent []supSent
	auto map[sip.RequestMethod]int
	// forget: record nothing (the memory test must not count what the
	// test keeps).
	forget bool
}

func (p *supPort) Send(req *sip.Request, replyTo *actor.PID, id uint64) {
	p.mu.Lock()
	s := supSent{req: req, to: replyTo, id: id}
	if !p.forget {
		p.sent = append(p.sent, s)
	}
	code, ok := p.auto[req.Method]
	p.mu.Unlock()
	switch {
	case req.Method == sip.ACK: // written without a transaction: answered at once
		p.root.Send(replyTo, &outbound.Result{ID: id})
	case ok:
		p.answer(s, code)
	}
}

// answer sends the final response code to the request s.
func (p *supPort) answer(s supSent, code int) {
	p.root.Send(s.to, &outbound.Result{ID: s.id, Response: p.response(s.req, code)})
}

// provisional sends a 1xx with the callee's tag to the request s.
func (p *supPort) provisional(s supSent, code int) {
	p.root.Send(s.to, &outbound.Provisional{ID: s.id, Response: p.response(s.req, code)})
}

// fail ends the request s with err (outbound.ErrTimeout: the port's timer
// fired).
func (p *supPort) fail(s supSent, err error) {
	p.root.Send(s.to, &outbound.Result{ID: s.id, Err: err})
}

// response is the callee's response to req: on an INVITE, its To tag
// (one per Call-ID: a fork is one dialog) and Contact, and an answer on a
// 2xx.
func (p *supPort) response(req *sip.Request, code int) *sip.Response {
	res := sip.NewResponseFromRequest(req, code, status.Reason(code), nil)
	if req.Method != sip.INVITE || code == 100 {
		return res
	}
	if to := res.To(); to != nil {
		to.Params.Remove("tag")
		to.Params.Add("tag", "b-"+req.CallID().Value()[:8])
	}
	if code < 300 {
		res.AppendHeader(sip.NewHeader("Contact", "<sip:bob@"+req.Recipient.Host+":5070>"))
	}
	if code >= 200 && code < 300 {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.SetBody([]byte(supSDP("10.0.0.2")))
	}
	return res
}

// wait waits until n requests of method went to host ("" any) and returns
// them in order.
func (p *supPort) wait(t testing.TB, method sip.RequestMethod, host string, n int) []supSent {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		out := p.of(method, host)
		if len(out) >= n {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s sent to %q, want %d", len(out), method, host, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (p *supPort) of(method sip.RequestMethod, host string) []supSent {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []supSent
	for _, s := range p.sent {
		if s.req.Method == method && (host == "" || s.req.Recipient.Host == host) {
			out = append(out, s)
		}
	}
	return out
}

// supTx is leg A's server transaction: it records what the call answers.
type supTx struct {
	req   *sip.Request
	mu    sync.Mutex
	prov  []*sip.Response
	final *sip.Response
	done  chan struct{}
}

func newSupTx(req *sip.Request) *supTx { return &supTx{req: req, done: make(chan struct{})} }

func (x *supTx) Respond(res *sip.Response) {
	x.mu.Lock()
	defer x.mu.Unlock()
	switch {
	case x.final != nil:
	case res.StatusCode < 200:
		x.prov = append(x.prov, res)
	default:
		x.final = res
		close(x.done)
	}
}

func (x *supTx) Fail(err error) {
	code, reason := status.Of(err)
	x.Respond(sip.NewResponseFromRequest(x.req, code, reason, nil))
}

// result waits for the final response.
func (x *supTx) result(t testing.TB) *sip.Response {
	t.Helper()
	select {
	case <-x.done:
		x.mu.Lock()
		defer x.mu.Unlock()
		return x.final
	case <-time.After(30 * time.Second):
		t.Fatal("no final response to A's INVITE")
		return nil
	}
}

// supH runs the call kind the way the server does.
type supH struct {
	t       testing.TB
	tree    *shard.Tree
	router  *Router
	port    *supPort
	dialogs *dialog.Registry
	metrics *shard.Metrics
	mu      sync.Mutex
	hosts   []string // the callee's contacts
}

// supCallee is the AOR the tests call.
const supCallee = "sip:bob@example.com"

// supOptions change the harness before the kind starts.
type supOptions struct {
	conf   func(*Config)
	spec   func(*shard.Spec)
	auto   map[sip.RequestMethod]int
	quiet  bool // log nothing (benchmarks); else warnings with -v
	noLeak bool // skip the goroutine check (benchmarks check nothing)
}

// startSup starts the kind with the callee's contacts at hosts. The test's
// cleanup stops it and checks that no dialog is left registered and no
// goroutine leaked.
func startSup(t testing.TB, o supOptions, hosts ...string) *supH {
	t.Helper()
	if !o.noLeak {
		t.Cleanup(func() { goleak.VerifyNone(t) }) // runs last
	}
	log := zap.NewNop()
	if testing.Verbose() && !o.quiet {
		log = zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	}
	sys := supervision.NewSystem(log)
	c := DefaultConfig()
	c.Shards = 2
	if o.conf != nil {
		o.conf(&c)
	}
	h := &supH{t: t, port: &supPort{root: sys.Root, auto: o.auto}, dialogs: dialog.NewRegistry(sys.Root), metrics: shard.NewMetrics(nil), hosts: hosts}
	if h.port.auto == nil {
		h.port.auto = map[sip.RequestMethod]int{}
	}
	d := Deps{Log: log, Config: c, Port: h.port, Dialogs: h.dialogs, Metrics: h.metrics, Lookup: h.lookup}
	spec := Spec(d)
	if o.spec != nil {
		o.spec(&spec)
	}
	tree, err := shard.Start(sys, log, "t", 5*time.Second, spec)
	if err != nil {
		t.Fatal(err)
	}
	h.tree, h.router = tree, NewRouter(tree.Routers[Name])
	reap := ReapOrphans(sys, h.port, log) // as actors.Start does
	t.Cleanup(func() {
		if err := tree.Stop(); err != nil {
			t.Error(err)
		}
		reap()
		time.Sleep(100 * time.Millisecond) // dead-letter throttle (DEPENDENCIES.md)
		if n := h.dialogs.Len(); n != 0 {
			t.Errorf("%d dialogs left registered after stop", n)
		}
	})
	return h
}

func (h *supH) lookup(aor string, reply func([]Contact, error)) {
	if aor != supCallee {
		reply(nil, nil)
		return
	}
	h.mu.Lock()
	var cs []Contact
	for _, host := range h.hosts {
		cs = append(cs, Contact{URI: "sip:bob@" + host + ":5070", Source: "udp:" + host + ":5070", Q: -1})
	}
	h.mu.Unlock()
	reply(cs, nil)
}

func supSDP(ip string) string {
	return "v=0\r\no=- 1 1 IN IP4 " + ip + "\r\ns=-\r\nc=IN IP4 " + ip + "\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
}

// supMsg parses a raw request written as lines.
func supMsg(t testing.TB, lines ...string) *sip.Request {
	t.Helper()
	m, err := sip.ParseMessage([]byte(strings.Join(lines, "\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	return m.(*sip.Request)
}

// supCall is one call of the tests, seen from both ends.
type supCall struct {
	h      *supH
	callID string
	key    string
	inv    *sip.Request // A's INVITE
	tx     *supTx
	aTag   string  // our tag on leg A (To of A's 200)
	b      supSent // the winning fork's INVITE
	bTag   string  // the callee's tag on leg B
	aCSeq  uint32
	bCSeq  uint32
}

// invite sends A's INVITE of a new call.
func (h *supH) invite(callID string) *supCall {
	h.t.Helper()
	body := supSDP("192.0.2.1")
	req := supMsg(h.t,
		"INVITE "+supCallee+" SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-"+callID,
		"From: <sip:alice@example.com>;tag=a-"+callID,
		"To: <"+supCallee+">",
		"Call-ID: "+callID,
		"CSeq: 1 INVITE",
		"Contact: <sip:alice@192.0.2.1:5060>",
		"Max-Forwards: 70",
		"Content-Type: application/sdp",
		"Content-Length: "+strconv.Itoa(len(body)),
		"",
		body)
	req.SetSource("192.0.2.1:5060")
	c := &supCall{h: h, callID: callID, key: Key(callID, "a-"+callID), inv: req, tx: newSupTx(req), aCSeq: 1}
	local := func(string) string { return "sip:127.0.0.1:5060" }
	h.router.Invite(c.key, &Invite{Request: req, Callee: supCallee, Source: "udp:192.0.2.1:5060",
		Contact: local("udp"), Local: local, Tx: c.tx})
	return c
}

// answered sets up a call answered by the contact at host, ACKed by A.
// Calls are set up one at a time: the new fork is the next INVITE to host.
func (h *supH) answered(callID, host string) *supCall {
	h.t.Helper()
	n := len(h.port.of(sip.INVITE, host))
	c := h.invite(callID)
	b := h.port.wait(h.t, sip.INVITE, host, n+1)[n]
	h.port.answer(b, 200)
	c.connect(b)
	return c
}

// connect completes the call once fork b was answered 200: A gets the 2xx
// and ACKs it.
func (c *supCall) connect(b supSent) {
	t := c.h.t
	t.Helper()
	res := c.tx.result(t)
	if res.StatusCode != 200 {
		t.Fatalf("A got %d, want 200", res.StatusCode)
	}
	c.aTag, _ = res.To().Params.Get("tag")
	c.b = b
	c.bTag = "b-" + b.req.CallID().Value()[:8]
	c.bCSeq = 0
	ack := c.fromA(sip.ACK, 1)
	if err := c.h.dialogs.Send(&dialog.Request{ID: c.idA(), Request: ack}); err != nil {
		t.Fatalf("ACK: %v", err)
	}
}

func (c *supCall) idA() dialog.ID {
	return dialog.ID{CallID: c.callID, LocalTag: c.aTag, RemoteTag: "a-" + c.callID}
}

func (c *supCall) idB() dialog.ID {
	tag, _ := c.b.req.From().Params.Get("tag")
	return dialog.ID{CallID: c.b.req.CallID().Value(), LocalTag: tag, RemoteTag: c.bTag}
}

// fromA is an in-dialog request of the caller.
func (c *supCall) fromA(method sip.RequestMethod, cseq uint32) *sip.Request {
	return supMsg(c.h.t,
		string(method)+" sip:b2bua@127.0.0.1:5060 SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-"+c.callID+"-"+string(method)+strconv.Itoa(int(cseq)),
		"From: <sip:alice@example.com>;tag=a-"+c.callID,
		"To: <"+supCallee+">;tag="+c.aTag,
		"Call-ID: "+c.callID,
		fmt.Sprintf("CSeq: %d %s", cseq, method),
		"Max-Forwards: 70",
		"Content-Length: 0",
		"", "")
}

// send sends A's in-dialog request method and returns where its answer
// comes.
func (c *supCall) sendA(method sip.RequestMethod) chan *dialog.Reply {
	c.h.t.Helper()
	c.aCSeq++
	ch := make(chan *dialog.Reply, 1)
	err := c.h.dialogs.Send(&dialog.Request{ID: c.idA(), Request: c.fromA(method, c.aCSeq), Reply: func(r *dialog.Reply) { ch <- r }})
	if err != nil {
		c.h.t.Fatalf("%s from A: %v", method, err)
	}
	return ch
}

// supReply waits for the answer to an in-dialog request.
func supReply(t testing.TB, ch chan *dialog.Reply) *dialog.Reply {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("in-dialog request not answered")
		return nil
	}
}

// settled waits until no call is resident and no dialog registered.
func (h *supH) settled() {
	h.t.Helper()
	var live, dialogs int
	supEventually(h.t, "every call stopped and every dialog removed", func() bool {
		live, dialogs = h.metrics.Live(Name), h.dialogs.Len()
		return live == 0 && dialogs == 0
	})
	if h.t.Failed() {
		h.t.Logf("%d calls resident, %d dialogs registered", live, dialogs)
	}
}

func supEventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	supEventuallyFor(t, 5*time.Second, what, cond)
}

func supEventuallyFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Errorf("never: %s", what)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
