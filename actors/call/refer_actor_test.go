package call_test

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap/zaptest"

	"github.com/b2bua/b2bua/actors/call"
	"github.com/b2bua/b2bua/actors/dialog"
	"github.com/b2bua/b2bua/actors/outbound"
	"github.com/b2bua/b2bua/actors/shard"
)

// A blind transfer through the call actor with the edge faked: the port
// records what the legs send and the test answers for the far ends.

type sent struct {
	req     *sip.Request
	replyTo *actor.PID
	id      uint64
}

type fakePort struct{ ch chan sent }

func (p *fakePort) Send(req *sip.Request, replyTo *actor.PID, id uint64) {
	p.ch <- sent{req: req, replyTo: replyTo, id: id}
}

type fakeTx struct{ ch chan *sip.Response }

func (x *fakeTx) Respond(res *sip.Response) { x.ch <- res }
func (x *fakeTx) Fail(err error)            { x.ch <- sip.NewResponse(500, err.Error()) }

type harness struct {
	t       *testing.T
	sys     *actor.ActorSystem
	port    *fakePort
	dialogs *dialog.Registry
	calls   *call.Router
	mu      sync.Mutex
	inCall  map[string]map[string]bool // aor -> call-ids in, as the presentity counts them
	backlog []sent
	proxy   string // Config.Outbound
}

var contacts = map[string]string{
	"sip:bob@localhost":   "sip:bob@127.0.0.1:5002",
	"sip:carol@localhost": "sip:carol@127.0.0.1:5003",
}

func newHarness(t *testing.T) *harness { return newHarnessWith(t, "") }

// newHarnessWith is newHarness with an outbound proxy.
func newHarnessWith(t *testing.T, proxy string) *harness {
	sys := actor.NewActorSystem(actor.WithDeadLetterThrottleInterval(50*time.Millisecond),
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	h := &harness{t: t, sys: sys, port: &fakePort{ch: make(chan sent, 64)}, dialogs: dialog.NewRegistry(sys.Root), inCall: map[string]map[string]bool{}}
	conf := call.DefaultConfig()
	conf.Shards, conf.Outbound = 1, proxy
	h.proxy = proxy
	tree, err := shard.Start(sys, zaptest.NewLogger(t), "calls", 5*time.Second, call.Spec(call.Deps{
		Log: zaptest.NewLogger(t), Config: conf, Port: h.port, Dialogs: h.dialogs,
		Lookup: func(aor string, reply func([]call.Contact, error)) {
			if c, ok := contacts[aor]; ok {
				reply([]call.Contact{{URI: c, Q: -1}}, nil)
				return
			}
			reply(nil, nil)
		},
		InCall: func(aor, callID string, in bool) {
			h.mu.Lock()
			defer h.mu.Unlock()
			if h.inCall[aor] == nil {
				h.inCall[aor] = map[string]bool{}
			}
			if in {
				h.inCall[aor][callID] = true
			} else {
				delete(h.inCall[aor], callID)
			}
		},
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tree.Stop(); time.Sleep(60 * time.Millisecond) })
	h.calls = call.NewRouter(tree.Routers[call.Name])
	return h
}

// want returns the next request of method the legs sent to user.
func (h *harness) want(method sip.RequestMethod, user string) sent {
	h.t.Helper()
	match := func(s sent) bool { return s.req.Method == method && s.req.Recipient.User == user }
	for i, s := range h.backlog {
		if match(s) {
			h.backlog = append(h.backlog[:i], h.backlog[i+1:]...)
			return s
		}
	}
	deadline := time.After(3 * time.Second)
	for {
		select {
		case s := <-h.port.ch:
			if match(s) {
				return s
			}
			h.backlog = append(h.backlog, s)
		case <-deadline:
			h.t.Fatalf("no %s to %s; sent meanwhile: %v", method, user, h.summary())
		}
	}
}

func (h *harness) summary() string {
	var out []string
	for _, s := range h.backlog {
		out = append(out, string(s.req.Method)+" "+s.req.Recipient.User)
	}
	return strings.Join(out, ", ")
}

// answer delivers the final response code to s, from the far end with tag.
func (h *harness) answer(s sent, code int, tag, contact, body string) *sip.Response {
	res := sip.NewResponseFromRequest(s.req, code, "", nil)
	if tag != "" {
		res.To().Params.Remove("tag")
		res.To().Params.Add("tag", tag)
	}
	if contact != "" {
		res.AppendHeader(sip.NewHeader("Contact", "<"+contact+">"))
	}
	if body != "" {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.SetBody([]byte(body))
	}
	h.sys.Root.Send(s.replyTo, &outbound.Result{ID: s.id, Response: res})
	return res
}

func (h *harness) ring(s sent, tag string) {
	res := sip.NewResponseFromRequest(s.req, 180, "Ringing", nil)
	res.To().Params.Remove("tag")
	res.To().Params.Add("tag", tag)
	h.sys.Root.Send(s.replyTo, &outbound.Provisional{ID: s.id, Response: res})
}

// inDialog sends a request into the dialog id and returns its answer.
func (h *harness) inDialog(id dialog.ID, raw string) *dialog.Reply {
	h.t.Helper()
	m, err := sip.ParseMessage([]byte(strings.ReplaceAll(raw, "\n", "\r\n")))
	if err != nil {
		h.t.Fatal(err)
	}
	got := make(chan *dialog.Reply, 1)
	if err := h.dialogs.Send(&dialog.Request{ID: id, Request: m.(*sip.Request), Reply: func(r *dialog.Reply) { got <- r }}); err != nil {
		h.t.Fatalf("dialog %v: %v", id, err)
	}
	select {
	case r := <-got:
		return r
	case <-time.After(3 * time.Second):
		h.t.Fatal("no answer in the dialog")
		return nil
	}
}

// aliceSDP is alice's offer: a valid SDP (the call answers 400 to one that
// does not parse), told apart by its s= line.
const aliceSDP = "v=0\no=alice 1 1 IN IP4 127.0.0.1\ns=alice\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\n"

// setup is alice's call to bob, answered: leg A's dialog id, leg B's, and
// bob's INVITE.
func (h *harness) setup() (a, b dialog.ID, inv sent) { return h.dial("call-a", "a1", "bob", "b1") }

// dial is alice's call cid (her From tag atag) to user, who answers with
// tag btag and the SDP s=<user>.
func (h *harness) dial(cid, atag, user, btag string) (a, b dialog.ID, inv sent) {
	h.t.Helper()
	uri, callee, name := "sip:"+user+"@localhost", "sip:"+user+"@localhost", user
	if u, _, ok := strings.Cut(user, "@"); ok { // another domain: through the outbound proxy
		uri, callee, name = "sip:"+user, "", u
	}
	raw := "INVITE " + uri + " SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5001;branch=z9hG4bK-" + cid + "\nFrom: <sip:alice@localhost>;tag=" + atag + "\n" +
		"To: <" + uri + ">\nCall-ID: " + cid + "\nCSeq: 1 INVITE\nContact: <sip:alice@127.0.0.1:5001>\nMax-Forwards: 70\n" +
		"Content-Type: application/sdp\nContent-Length: " + fmt.Sprint(len(strings.ReplaceAll(aliceSDP, "\n", "\r\n"))) + "\n\n" + aliceSDP
	m, err := sip.ParseMessage([]byte(strings.ReplaceAll(raw, "\n", "\r\n")))
	if err != nil {
		h.t.Fatal(err)
	}
	tx := &fakeTx{ch: make(chan *sip.Response, 8)}
	h.calls.Invite(call.Key(cid, atag), &call.Invite{Request: m.(*sip.Request), Callee: callee, Caller: "sip:alice@localhost",
		Source: "udp:127.0.0.1:5001", Contact: "sip:127.0.0.1:5060", Local: func(string) string { return "sip:127.0.0.1:5060" },
		Target: func(u *sip.Uri) (string, error) {
			if u.Host != "localhost" && h.proxy == "" {
				return "", call.ErrNotFound
			} else if u.Host != "localhost" {
				return "", nil
			}
			return "sip:" + u.User + "@localhost", nil
		}, Tx: tx})
	inv = h.want(sip.INVITE, name)
	h.answer(inv, 200, btag, contacts[callee], "s="+name+"\r\n")
	h.want(sip.ACK, name)
	var ok *sip.Response
	for ok == nil {
		select {
		case r := <-tx.ch:
			if r.StatusCode == 200 {
				ok = r
			}
		case <-time.After(3 * time.Second):
			h.t.Fatal("A got no 200")
		}
	}
	tag, _ := ok.To().Params.Get("tag")
	a = dialog.ID{CallID: cid, LocalTag: tag, RemoteTag: atag}
	ftag, _ := inv.req.From().Params.Get("tag")
	b = dialog.ID{CallID: inv.req.CallID().Value(), LocalTag: ftag, RemoteTag: btag}
	return a, b, inv
}

// fromBob is a request of bob's in leg B's dialog.
func fromBob(b dialog.ID, method string, cseq int, extra ...string) string {
	return fromCallee(b, "bob", method, cseq, extra...)
}

// fromCallee is a request of user's in its leg B dialog b.
func fromCallee(b dialog.ID, user, method string, cseq int, extra ...string) string {
	return fmt.Sprintf("%s sip:127.0.0.1:5060 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5002;branch=z9hG4bK-b%d\nFrom: <sip:%s@localhost>;tag=%s\n"+
		"To: <sip:alice@localhost>;tag=%s\nCall-ID: %s\nCSeq: %d %s\nMax-Forwards: 70\n%sContent-Length: 0\n\n",
		method, cseq, user, b.RemoteTag, b.LocalTag, b.CallID, cseq, method, strings.Join(extra, ""))
}

// fromAlice is a request of alice's in her leg A dialog a.
func fromAlice(a dialog.ID, method string, cseq int, extra ...string) string {
	return fmt.Sprintf("%s sip:127.0.0.1:5060 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5001;branch=z9hG4bK-a%d\nFrom: <sip:alice@localhost>;tag=%s\n"+
		"To: <sip:bob@localhost>;tag=%s\nCall-ID: %s\nCSeq: %d %s\nMax-Forwards: 70\n%sContent-Length: 0\n\n",
		method, cseq, a.RemoteTag, a.LocalTag, a.CallID, cseq, method, strings.Join(extra, ""))
}

func frag(s sent) string {
	return strings.TrimSpace(string(s.req.Body())) + " / " + s.req.GetHeader("Subscription-State").Value()
}

func (h *harness) ok(s sent) { h.answer(s, 200, "", "", "") }

func (h *harness) in(aor string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.inCall[aor]) > 0
}

func wantCode(t *testing.T, r *dialog.Reply, code int) {
	t.Helper()
	if r.Err != nil || r.Code != code {
		t.Fatalf("answer %d %v, want %d", r.Code, r.Err, code)
	}
}

func wantFrag(t *testing.T, s sent, want string) {
	t.Helper()
	if got := frag(s); got != want {
		t.Fatalf("NOTIFY %q, want %q", got, want)
	}
	if ev := s.req.GetHeader("Event"); ev == nil || ev.Value() != "refer" {
		t.Fatalf("NOTIFY Event %v", ev)
	}
	if ct := s.req.GetHeader("Content-Type"); ct == nil || ct.Value() != "message/sipfrag;version=2.0" {
		t.Fatalf("NOTIFY Content-Type %v", ct)
	}
}

// TestTransfer: bob, the callee, transfers alice to carol.
func TestTransfer(t *testing.T) {
	h := newHarness(t)
	a, b, _ := h.setup()
	wantCode(t, h.inDialog(b, fromBob(b, "REFER", 2, "Refer-To: <sip:carol@localhost>\n")), 202)
	n := h.want(sip.NOTIFY, "bob")
	wantFrag(t, n, "SIP/2.0 100 Trying / active;expires=60")
	h.ok(n)
	inv := h.want(sip.INVITE, "carol")
	if got := string(inv.req.Body()); !strings.Contains(got, "\r\ns=alice\r\n") {
		t.Fatalf("carol is offered %q, want alice's SDP", got)
	}
	if inv.req.From().Address.User != "alice" || inv.req.To().Address.User != "carol" || !strings.Contains(inv.req.GetHeader("Referred-By").Value(), "bob") {
		t.Fatalf("carol's INVITE:\n%s", inv.req)
	}
	h.ring(inv, "c1")
	n = h.want(sip.NOTIFY, "bob")
	wantFrag(t, n, "SIP/2.0 180 Ringing / active;expires=60")
	h.ok(n)
	h.answer(inv, 200, "c1", "sip:carol@127.0.0.1:5003", "s=carol\r\n")
	h.want(sip.ACK, "carol")
	n = h.want(sip.NOTIFY, "bob")
	wantFrag(t, n, "SIP/2.0 200 OK / terminated;reason=noresource")
	h.ok(n)
	h.ok(h.want(sip.BYE, "bob"))
	re := h.want(sip.INVITE, "alice")
	if got := string(re.req.Body()); got != "s=carol\r\n" {
		t.Fatalf("alice is re-INVITEd with %q, want carol's SDP", got)
	}
	h.answer(re, 200, "", "sip:alice@127.0.0.1:5001", "s=alice2\r\n")
	h.want(sip.ACK, "alice")
	if !h.in("sip:carol@localhost") || h.in("sip:bob@localhost") || !h.in("sip:alice@localhost") {
		t.Fatalf("presence: %v", h.inCall)
	}
	wantCode(t, h.inDialog(a, fromAlice(a, "BYE", 2)), 200)
	h.ok(h.want(sip.BYE, "carol"))
}

// TestTransferRefused: bad REFERs, 491 during a transfer, a target that
// is busy: the call stays between alice and bob.
func TestTransferRefused(t *testing.T) {
	h := newHarness(t)
	a, b, _ := h.setup()
	for i, tc := range []struct {
		header string
		code   int
	}{
		{"", 400},
		{"Refer-To: <tel:+1555>\n", 403},
		{"Refer-To: <sip:a@localhost>, <sip:b@localhost>\n", 400},
		{"Refer-To: <sip:carol@localhost?Replaces=x%40y>\n", 400},
	} {
		wantCode(t, h.inDialog(b, fromBob(b, "REFER", 2+i, tc.header)), tc.code)
	}
	wantCode(t, h.inDialog(b, fromBob(b, "REFER", 10, "Refer-To: <sip:carol@localhost>\n")), 202)
	h.ok(h.want(sip.NOTIFY, "bob"))
	inv := h.want(sip.INVITE, "carol")
	wantCode(t, h.inDialog(b, fromBob(b, "REFER", 11, "Refer-To: <sip:carol@localhost>\n")), 491)
	h.answer(inv, 486, "c1", "", "")
	n := h.want(sip.NOTIFY, "bob")
	wantFrag(t, n, "SIP/2.0 486 Busy Here / terminated;reason=noresource")
	h.ok(n)
	// Unknown target: 202, then 404 in the NOTIFY.
	wantCode(t, h.inDialog(b, fromBob(b, "REFER", 12, "Refer-To: <sip:nobody@elsewhere.example>\n")), 202)
	h.ok(h.want(sip.NOTIFY, "bob"))
	n = h.want(sip.NOTIFY, "bob")
	wantFrag(t, n, "SIP/2.0 404 Not Found / terminated;reason=noresource")
	h.ok(n)
	// Replaces naming no dialog of ours: 202, then 481.
	wantCode(t, h.inDialog(b, fromBob(b, "REFER", 13, "Refer-To: <sip:carol@localhost?Replaces=x%40y%3Bto-tag%3D1%3Bfrom-tag%3D2>\n")), 202)
	h.ok(h.want(sip.NOTIFY, "bob"))
	n = h.want(sip.NOTIFY, "bob")
	wantFrag(t, n, "SIP/2.0 481 Replaced Dialog Not Found / terminated;reason=noresource")
	h.ok(n)
	// The call is still alice's and bob's.
	wantCode(t, h.inDialog(a, fromAlice(a, "BYE", 2)), 200)
	h.ok(h.want(sip.BYE, "bob"))
}

// TestTransferorLeavesEarly: bob hangs up right after the 202 (RFC 5589
// allows it); the transfer goes on and alice ends up with carol.
func TestTransferorLeavesEarly(t *testing.T) {
	h := newHarness(t)
	a, b, _ := h.setup()
	wantCode(t, h.inDialog(b, fromBob(b, "REFER", 2, "Refer-To: <sip:carol@localhost>\n")), 202)
	h.ok(h.want(sip.NOTIFY, "bob"))
	inv := h.want(sip.INVITE, "carol")
	wantCode(t, h.inDialog(b, fromBob(b, "BYE", 3)), 200)
	h.answer(inv, 200, "c1", "sip:carol@127.0.0.1:5003", "s=carol\r\n")
	h.want(sip.ACK, "carol")
	h.answer(h.want(sip.INVITE, "alice"), 200, "", "sip:alice@127.0.0.1:5001", "s=alice2\r\n")
	h.want(sip.ACK, "alice")
	for _, s := range h.backlog {
		if s.req.Method == sip.BYE || s.req.Method == sip.NOTIFY {
			t.Fatalf("%s to %s after the transferor left", s.req.Method, s.req.Recipient.User)
		}
	}
	wantCode(t, h.inDialog(a, fromAlice(a, "BYE", 2)), 200)
	h.ok(h.want(sip.BYE, "carol"))
}

// TestTransfereeLeaves: alice hangs up while carol rings: bob gets BYE and
// carol CANCEL.
func TestTransfereeLeaves(t *testing.T) {
	h := newHarness(t)
	a, b, _ := h.setup()
	wantCode(t, h.inDialog(b, fromBob(b, "REFER", 2, "Refer-To: <sip:carol@localhost>\n")), 202)
	h.ok(h.want(sip.NOTIFY, "bob"))
	inv := h.want(sip.INVITE, "carol")
	h.ring(inv, "c1")
	wantCode(t, h.inDialog(a, fromAlice(a, "BYE", 2)), 200)
	h.ok(h.want(sip.BYE, "bob"))
	h.ok(h.want(sip.CANCEL, "carol"))
	h.answer(inv, 487, "c1", "", "")
}

// TestTransferByCaller: alice, the caller, transfers bob to carol: leg A
// is the one replaced.
func TestTransferByCaller(t *testing.T) {
	h := newHarness(t)
	a, b, _ := h.setup()
	wantCode(t, h.inDialog(a, fromAlice(a, "REFER", 2, "Refer-To: <sip:carol@localhost>\n")), 202)
	h.ok(h.want(sip.NOTIFY, "alice"))
	inv := h.want(sip.INVITE, "carol")
	if got := strings.TrimSpace(string(inv.req.Body())); got != "s=bob" || inv.req.From().Address.User != "bob" {
		t.Fatalf("carol's INVITE from %s offers %q, want bob's", inv.req.From().Address.User, got)
	}
	h.answer(inv, 200, "c1", "sip:carol@127.0.0.1:5003", "s=carol\r\n")
	h.want(sip.ACK, "carol")
	n := h.want(sip.NOTIFY, "alice")
	wantFrag(t, n, "SIP/2.0 200 OK / terminated;reason=noresource")
	h.ok(n)
	h.ok(h.want(sip.BYE, "alice"))
	h.answer(h.want(sip.INVITE, "bob"), 200, "", "sip:bob@127.0.0.1:5002", "s=bob2\r\n")
	h.want(sip.ACK, "bob")
	if h.in("sip:alice@localhost") || !h.in("sip:bob@localhost") {
		t.Fatalf("presence: %v", h.inCall)
	}
	wantCode(t, h.inDialog(b, fromBob(b, "BYE", 2)), 200)
	h.ok(h.want(sip.BYE, "carol"))
}

// TestAttendedTransfer: alice talks to bob (call-a) and to carol (call-c),
// and refers bob to carol replacing her dialog with carol: call-c hands
// carol's dialog to call-a, which bridges bob and carol; alice's two legs
// get BYE, and carol's BYE, in the dialog she always had, reaches bob.
func TestAttendedTransfer(t *testing.T) {
	h := newHarness(t)
	a1, _, _ := h.setup()
	a2, c2, _ := h.dial("call-c", "a2", "carol", "c1")
	replaces := "call-c%3Bto-tag%3D" + a2.LocalTag + "%3Bfrom-tag%3Da2"
	wantCode(t, h.inDialog(a1, fromAlice(a1, "REFER", 2, "Refer-To: <sip:carol@localhost?Replaces="+replaces+">\n")), 202)
	h.ok(h.want(sip.NOTIFY, "alice"))
	re := h.want(sip.INVITE, "bob")
	if got := strings.TrimSpace(string(re.req.Body())); got != "s=carol" {
		t.Fatalf("bob is re-INVITEd with %q, want carol's SDP", got)
	}
	h.answer(re, 200, "", "sip:bob@127.0.0.1:5002", "s=bob2\r\n")
	h.want(sip.ACK, "bob")
	re = h.want(sip.INVITE, "carol")
	if got := strings.TrimSpace(string(re.req.Body())); got != "s=bob2" || re.req.CallID().Value() != c2.CallID {
		t.Fatalf("carol is re-INVITEd in %s with %q, want bob's answer in her dialog %s", re.req.CallID().Value(), got, c2.CallID)
	}
	h.answer(re, 200, "", "sip:carol@127.0.0.1:5003", "s=carol2\r\n")
	h.want(sip.ACK, "carol")
	n := h.want(sip.NOTIFY, "alice")
	wantFrag(t, n, "SIP/2.0 200 OK / terminated;reason=noresource")
	h.ok(n)
	byes := map[string]bool{}
	for range 2 {
		bye := h.want(sip.BYE, "alice")
		byes[bye.req.CallID().Value()] = true
		h.ok(bye)
	}
	if !byes["call-a"] || !byes["call-c"] {
		t.Fatalf("alice's BYEs were in %v, want call-a and call-c", byes)
	}
	if !h.in("sip:bob@localhost") || !h.in("sip:carol@localhost") {
		t.Fatalf("presence: %v", h.inCall)
	}
	wantCode(t, h.inDialog(c2, fromCallee(c2, "carol", "BYE", 2)), 200)
	h.ok(h.want(sip.BYE, "bob"))
}

// TestAttendedTransferOfSomeoneElse: bob cannot have alice's dialog with
// carol replaced (only its party can): 202, then 403, and both calls go on.
func TestAttendedTransferOfSomeoneElse(t *testing.T) {
	h := newHarness(t)
	_, b1, _ := h.setup()
	a2, _, _ := h.dial("call-c", "a2", "carol", "c1")
	replaces := "call-c%3Bto-tag%3D" + a2.LocalTag + "%3Bfrom-tag%3Da2"
	wantCode(t, h.inDialog(b1, fromBob(b1, "REFER", 2, "Refer-To: <sip:carol@localhost?Replaces="+replaces+">\n")), 202)
	h.ok(h.want(sip.NOTIFY, "bob"))
	n := h.want(sip.NOTIFY, "bob")
	wantFrag(t, n, "SIP/2.0 403 Forbidden / terminated;reason=noresource")
	h.ok(n)
	wantCode(t, h.inDialog(a2, fromAlice(a2, "BYE", 2)), 200)
	h.ok(h.want(sip.BYE, "carol"))
}

// TestTransferOutThroughTheProxy: a local transferor may send the call to
// another domain (through the outbound proxy: the target's URI as
// Request-URI, the proxy as Route); a party of another domain may not.
func TestTransferOutThroughTheProxy(t *testing.T) {
	h := newHarnessWith(t, "sip:127.0.0.1:5099")
	_, b, _ := h.setup()
	wantCode(t, h.inDialog(b, fromBob(b, "REFER", 2, "Refer-To: <sip:dave@example.net>\n")), 202)
	h.ok(h.want(sip.NOTIFY, "bob"))
	inv := h.want(sip.INVITE, "dave")
	if r := inv.req.GetHeader("Route"); r == nil || r.Value() != "<sip:127.0.0.1:5099;lr>" || inv.req.Destination() != "127.0.0.1:5099" {
		t.Fatalf("the INVITE out does not go through the proxy:\n%s", inv.req)
	}
	h.answer(inv, 486, "d1", "", "")
	h.ok(h.want(sip.NOTIFY, "bob"))

	// dave, now reached through the proxy, asks to transfer alice out.
	_, d, _ := h.dial("call-d", "a3", "dave@example.net", "d2")
	wantCode(t, h.inDialog(d, fromCallee(d, "dave", "REFER", 2, "Refer-To: <sip:eve@example.org>\n")), 403)
}
