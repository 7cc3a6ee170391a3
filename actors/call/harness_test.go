package call

// The harness runs the call kind the way the server does (a shard tree on
// a supervision system) with fakes for everything around it: the outbound
// port records what every leg sends and lets the test answer it, the
// caller's INVITE transaction records what leg A was answered, and the
// dialog registry is the real one, so in-dialog requests reach the legs
// exactly as the edge sends them. It is meant for every test of the
// package: start a call, answer leg B, send requests into either dialog,
// look at what each leg sent.

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

	"github.com/b2bua/b2bua/actors/dialog"
	"github.com/b2bua/b2bua/actors/outbound"
	"github.com/b2bua/b2bua/actors/shard"
	"github.com/b2bua/b2bua/supervision"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
}

// offerSDP is a valid SDP offer; answerSDP a valid answer.
const (
	offerSDP  = "v=0\r\no=alice 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	answerSDP = "v=0\r\no=bob 2 2 IN IP4 192.0.2.2\r\ns=-\r\nc=IN IP4 192.0.2.2\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)

// ---- the outbound port ----

// sent is one request a leg sent through the port; answer it with the
// methods below (each delivers to the leg as the real port does).
type sent struct {
	Req  *sip.Request
	to   *actor.PID
	id   uint64
	root *actor.RootContext
}

// Provisional delivers a 1xx to the sender; opts change the response.
func (s *sent) Provisional(code int, opts ...resOpt) *sip.Response {
	res := makeResponse(s.Req, code, opts...)
	s.root.Send(s.to, &outbound.Provisional{ID: s.id, Response: res})
	return res
}

// Final delivers the final response.
func (s *sent) Final(code int, opts ...resOpt) *sip.Response {
	res := makeResponse(s.Req, code, opts...)
	s.root.Send(s.to, &outbound.Result{ID: s.id, Response: res})
	return res
}

// Fail delivers a port error (outbound.ErrTimeout, ErrTransport).
func (s *sent) Fail(err error) { s.root.Send(s.to, &outbound.Result{ID: s.id, Err: err}) }

// Done answers a request nobody answers on the wire (ACK), as the port
// does.
func (s *sent) Done() { s.root.Send(s.to, &outbound.Result{ID: s.id}) }

// resOpt changes a response made by makeResponse.
type resOpt func(*sip.Response)

// withTag sets the To tag (a dialog-making response needs one).
func withTag(tag string) resOpt {
	return func(r *sip.Response) {
		r.To().Params.Remove("tag")
		r.To().Params.Add("tag", tag)
	}
}

// withHeader appends a header.
func withHeader(name, value string) resOpt {
	return func(r *sip.Response) { r.AppendHeader(sip.NewHeader(name, value)) }
}

// withBody sets an SDP body.
func withBody(body string) resOpt {
	return func(r *sip.Response) {
		r.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		r.SetBody([]byte(body))
	}
}

// calleeContact is the Contact leg B's callee answers with.
const calleeContact = "<sip:bob@192.0.2.20:5062>"

func makeResponse(req *sip.Request, code int, opts ...resOpt) *sip.Response {
	res := sip.NewResponseFromRequest(req, code, "R"+strconv.Itoa(code), nil)
	res.To().Params.Remove("tag") // sipgo makes one up; tests choose
	if code > 100 && code < 300 && (req.Method == sip.INVITE || req.Method == sip.UPDATE) {
		res.AppendHeader(sip.NewHeader("Contact", calleeContact))
	}
	for _, o := range opts {
		o(res)
	}
	return res
}

// port is the fake outbound.Port: it records every request.
type port struct {
	root *actor.RootContext
	mu   sync.Mutex
	sent []*sent
	// auto answers ACK at once when set (the real port does).
	noAutoAck bool
}

func (p *port) Send(req *sip.Request, replyTo *actor.PID, id uint64) {
	s := &sent{Req: req, to: replyTo, id: id, root: p.root}
	p.mu.Lock()
	p.sent = append(p.sent, s)
	auto := !p.noAutoAck
	p.mu.Unlock()
	if req.IsAck() && auto && id != 0 {
		s.Done()
	}
}

// all is every request sent so far.
func (p *port) all() []*sent {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*sent(nil), p.sent...)
}

// of is the requests of method sent so far.
func (p *port) of(method sip.RequestMethod) []*sent {
	var out []*sent
	for _, s := range p.all() {
		if s.Req.Method == method {
			out = append(out, s)
		}
	}
	return out
}

// wait waits for the n-th (1-based) request of method and returns it.
func (p *port) wait(t testing.TB, method sip.RequestMethod, n int) *sent {
	t.Helper()
	var got []*sent
	eventually(t, fmt.Sprintf("%d %s sent", n, method), func() bool {
		got = p.of(method)
		return len(got) >= n
	})
	return got[n-1]
}

// none checks that no request of method is sent within d.
func (p *port) none(t testing.TB, method sip.RequestMethod, want int, d time.Duration) {
	t.Helper()
	time.Sleep(d)
	if got := len(p.of(method)); got != want {
		t.Fatalf("%d %s sent, want %d", got, method, want)
	}
}

// ---- leg A's server transaction ----

// tx is the fake call.ServerTx of the caller's INVITE.
type tx struct {
	mu   sync.Mutex
	res  []*sip.Response
	errs []error
}

func (x *tx) Respond(res *sip.Response) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.res = append(x.res, res)
}

func (x *tx) Fail(err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.errs = append(x.errs, err)
}

func (x *tx) responses() []*sip.Response {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]*sip.Response(nil), x.res...)
}

func (x *tx) failures() []error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]error(nil), x.errs...)
}

// wait waits for the n-th (1-based) response with code (0: any) and
// returns it.
func (x *tx) wait(t testing.TB, code, n int) *sip.Response {
	t.Helper()
	var out *sip.Response
	eventually(t, fmt.Sprintf("response %d #%d to A", code, n), func() bool {
		k := 0
		for _, r := range x.responses() {
			if code == 0 || r.StatusCode == code {
				k++
				if k == n {
					out = r
					return true
				}
			}
		}
		return false
	})
	return out
}

// final waits for A's final response (a response >= 200, or a Fail).
func (x *tx) final(t testing.TB) (*sip.Response, error) {
	t.Helper()
	var res *sip.Response
	var err error
	eventually(t, "final response to A", func() bool {
		for _, r := range x.responses() {
			if r.StatusCode >= 200 {
				res = r
				return true
			}
		}
		if errs := x.failures(); len(errs) > 0 {
			err = errs[0]
			return true
		}
		return false
	})
	return res, err
}

// ---- the harness ----

type harness struct {
	t       testing.TB
	sys     *actor.ActorSystem
	tree    *shard.Tree
	router  *Router
	port    *port
	dialogs *dialog.Registry
	conf    Config

	mu       sync.Mutex
	contacts map[string][]Contact
	claimed  map[*sent]bool // leg B INVITEs nextInvite returned
}

// testConfig is the default configuration with short timers, no session
// timers (tests that want them set SessionExpires) and two shards.
func testConfig() Config {
	c := DefaultConfig()
	c.Shards = 2
	c.SessionExpires = 0
	c.AckTimeout = 2 * time.Second
	return c
}

// newHarness runs the call kind with c; bob is online at one contact.
// opts change the kind's dependencies (a media engine).
func newHarness(t testing.TB, c Config, opts ...func(*Deps)) *harness {
	t.Helper()
	log := zap.NewNop()
	sys := supervision.NewSystem(log)
	h := &harness{t: t, sys: sys, port: &port{root: sys.Root}, dialogs: dialog.NewRegistry(sys.Root), conf: c,
		contacts: map[string][]Contact{bob: {{URI: "sip:bob@192.0.2.20:5062", Source: "udp:192.0.2.20:5062", Q: -1}}}}
	d := Deps{Log: log, Config: c, Port: h.port, Dialogs: h.dialogs, Lookup: h.lookup}
	for _, o := range opts {
		o(&d)
	}
	tree, err := shard.Start(sys, log, "t", 5*time.Second, Spec(d))
	if err != nil {
		t.Fatal(err)
	}
	h.tree, h.router = tree, NewRouter(tree.Routers[Name])
	t.Cleanup(h.stop)
	return h
}

func (h *harness) stop() {
	if err := h.tree.Stop(); err != nil {
		h.t.Error(err)
	}
	time.Sleep(100 * time.Millisecond) // dead-letter throttle (DEPENDENCIES.md)
}

func (h *harness) lookup(aor string, reply func([]Contact, error)) {
	h.mu.Lock()
	cs := h.contacts[aor]
	h.mu.Unlock()
	reply(cs, nil)
}

// online sets aor's contacts.
func (h *harness) online(aor string, cs ...Contact) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.contacts[aor] = cs
}

const (
	alice = "sip:alice@example.com"
	bob   = "sip:bob@example.com"
)

var callSeq struct {
	sync.Mutex
	n int
}

// reqOpt changes a request made by the harness.
type reqOpt func(*sip.Request)

// reqHeader appends a header.
func reqHeader(name, value string) reqOpt {
	return func(r *sip.Request) { r.AppendHeader(sip.NewHeader(name, value)) }
}

// reqBody sets the body with a Content-Type.
func reqBody(contentType, body string) reqOpt {
	return func(r *sip.Request) {
		r.RemoveHeader("Content-Type")
		if contentType != "" {
			r.AppendHeader(sip.NewHeader("Content-Type", contentType))
		}
		r.SetBody([]byte(body))
	}
}

// noBody removes the body (a delayed offer).
func noBody() reqOpt {
	return func(r *sip.Request) {
		r.RemoveHeader("Content-Type")
		r.SetBody(nil)
	}
}

// caller is leg A's far end: alice's INVITE and the dialog it makes.
type caller struct {
	h      *harness
	inv    *sip.Request
	tx     *tx
	key    string
	callID string
	tag    string
	cseq   uint32
	local  string // our tag on leg A, from a response
}

// call sends alice's INVITE to bob (with offerSDP unless opts change it).
func (h *harness) call(opts ...reqOpt) *caller {
	callSeq.Lock()
	callSeq.n++
	n := callSeq.n
	callSeq.Unlock()
	c := &caller{h: h, tx: &tx{}, callID: "call" + strconv.Itoa(n) + "@192.0.2.10", tag: "at" + strconv.Itoa(n), cseq: 1}
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "bob", Host: "example.com"})
	req.AppendHeader(sip.NewHeader("Via", "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK"+c.tag))
	req.AppendHeader(sip.NewHeader("From", "<"+alice+">;tag="+c.tag))
	req.AppendHeader(sip.NewHeader("To", "<"+bob+">"))
	cid := sip.CallIDHeader(c.callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE})
	req.AppendHeader(sip.NewHeader("Contact", "<sip:alice@192.0.2.10:5060>"))
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody([]byte(offerSDP))
	req.SetTransport("UDP")
	req.SetSource("192.0.2.10:5060")
	for _, o := range opts {
		o(req)
	}
	c.inv, c.key = req, Key(c.callID, c.tag)
	h.router.Invite(c.key, &Invite{Request: req, Callee: bob, Caller: alice, Source: "udp:192.0.2.10:5060",
		Contact: "sip:b2bua@192.0.2.1:5060", Local: func(string) string { return "sip:b2bua@192.0.2.1:5060" }, Tx: c.tx})
	return c
}

// answered runs a call to its answer: leg B's INVITE gets 180 then 200
// with answerSDP, and A gets the 200. It returns leg B's INVITE.
func (c *caller) answered(t testing.TB) *sent {
	t.Helper()
	b := c.h.nextInvite(t)
	b.Provisional(180, withTag("bt"))
	b.Final(200, withTag("bt"), withBody(answerSDP))
	res := c.tx.wait(t, 200, 1)
	c.local, _ = res.To().Params.Get("tag")
	c.ack()
	return b
}

// invites counts the INVITEs sent so far (to wait for the next).
func (h *harness) invites() int { return len(h.port.of(sip.INVITE)) }

// nextInvite waits for the first initial INVITE (no To tag) of a leg B
// that nextInvite has not returned yet: the next fork.
func (h *harness) nextInvite(t testing.TB) *sent {
	t.Helper()
	var out *sent
	eventually(t, "a new leg B INVITE", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, s := range h.port.of(sip.INVITE) {
			if s.Req.To().Params.Has("tag") || h.claimed[s] {
				continue
			}
			if h.claimed == nil {
				h.claimed = map[*sent]bool{}
			}
			h.claimed[s], out = true, s
			return true
		}
		return false
	})
	return out
}

// request is an in-dialog request from alice on leg A (CSeq one more than
// the last unless opts change it).
func (c *caller) request(method sip.RequestMethod, opts ...reqOpt) *sip.Request {
	if method != sip.ACK {
		c.cseq++
	}
	req := sip.NewRequest(method, sip.Uri{Scheme: "sip", User: "b2bua", Host: "192.0.2.1", Port: 5060})
	req.AppendHeader(sip.NewHeader("Via", "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK"+c.tag+strconv.Itoa(int(c.cseq))+string(method)))
	req.AppendHeader(sip.NewHeader("From", "<"+alice+">;tag="+c.tag))
	req.AppendHeader(sip.NewHeader("To", "<"+bob+">;tag="+c.local))
	cid := sip.CallIDHeader(c.callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: c.cseq, MethodName: method})
	req.AppendHeader(sip.NewHeader("Contact", "<sip:alice@192.0.2.10:5060>"))
	for _, o := range opts {
		o(req)
	}
	return req
}

// ack sends A's ACK of the INVITE's 2xx.
func (c *caller) ack(opts ...reqOpt) {
	req := c.request(sip.ACK, opts...)
	req.CSeq().SeqNo = 1
	c.h.deliver(dialog.ID{CallID: c.callID, LocalTag: c.local, RemoteTag: c.tag}, req)
}

// send sends an in-dialog request on leg A and returns the channel its
// reply comes on.
func (c *caller) send(req *sip.Request) <-chan *dialog.Reply {
	return c.h.send(dialog.ID{CallID: c.callID, LocalTag: c.local, RemoteTag: c.tag}, req)
}

// deliver sends a request without a reply (ACK) to a dialog's owner.
func (h *harness) deliver(id dialog.ID, req *sip.Request) {
	if err := h.dialogs.Send(&dialog.Request{ID: id, Request: req}); err != nil {
		h.t.Logf("ACK for no dialog: %v", err)
	}
}

// send sends a request to a dialog's owner as the edge does; a dialog
// nobody owns replies ErrNoDialog at once.
func (h *harness) send(id dialog.ID, req *sip.Request) <-chan *dialog.Reply {
	ch := make(chan *dialog.Reply, 1)
	m := &dialog.Request{ID: id, Request: req, Reply: func(r *dialog.Reply) { ch <- r }}
	if err := h.dialogs.Send(m); err != nil {
		ch <- &dialog.Reply{Err: err}
	}
	return ch
}

// replied waits for a reply.
func replied(t testing.TB, ch <-chan *dialog.Reply) *dialog.Reply {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no reply")
		return nil
	}
}

// callee is leg B's far end once it answered: requests from bob on leg B.
type callee struct {
	h    *harness
	inv  *sip.Request // leg B's INVITE
	tag  string
	cseq uint32
}

// calleeOf is bob's side of leg B, whose INVITE was b and whose To tag is
// tag.
func (h *harness) calleeOf(b *sent, tag string) *callee {
	return &callee{h: h, inv: b.Req, tag: tag, cseq: 100}
}

func (e *callee) id() dialog.ID {
	from, _ := e.inv.From().Params.Get("tag")
	return dialog.ID{CallID: e.inv.CallID().Value(), LocalTag: from, RemoteTag: e.tag}
}

// request is an in-dialog request from bob on leg B.
func (e *callee) request(method sip.RequestMethod, opts ...reqOpt) *sip.Request {
	e.cseq++
	req := sip.NewRequest(method, sip.Uri{Scheme: "sip", User: "b2bua", Host: "192.0.2.1", Port: 5060})
	req.AppendHeader(sip.NewHeader("Via", "SIP/2.0/UDP 192.0.2.20:5062;branch=z9hG4bKb"+strconv.Itoa(int(e.cseq))))
	req.AppendHeader(sip.NewHeader("From", "<"+bob+">;tag="+e.tag))
	req.AppendHeader(sip.NewHeader("To", e.inv.From().Value()))
	cid := sip.CallIDHeader(e.inv.CallID().Value())
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: e.cseq, MethodName: method})
	req.AppendHeader(sip.NewHeader("Contact", calleeContact))
	for _, o := range opts {
		o(req)
	}
	return req
}

func (e *callee) send(req *sip.Request) <-chan *dialog.Reply { return e.h.send(e.id(), req) }

// eventually waits until cond holds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// header is the value of a message's first header name ("" if none).
func header(m sip.Message, name string) string {
	if hs := m.GetHeaders(name); len(hs) > 0 {
		return hs[0].Value()
	}
	return ""
}

// hasLine reports whether body has the SDP line.
func hasLine(body []byte, line string) bool {
	for _, l := range strings.Split(string(body), "\n") {
		if strings.TrimRight(l, "\r") == line {
			return true
		}
	}
	return false
}
