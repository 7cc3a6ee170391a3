package call

import (
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/dialog"
	"github.com/b2bua/b2bua/actors/outbound"
	"github.com/b2bua/b2bua/media"
	"github.com/b2bua/b2bua/sip/status"
)

// env is what every actor of a call shares, read-only.
type env struct {
	conf    *Config
	port    outbound.Port
	dialogs *dialog.Registry
	lookup  LookupFunc
	known   Known
	inCall  InCallFunc
	log     *zap.Logger
	// media relays media (nil: passthrough).
	media *media.Engine
}

type role uint8

const (
	uas role = iota // leg A: we answer the caller's INVITE
	uac             // leg B: we call a contact
)

type legState uint8

const (
	early     legState = iota // INVITE not finally answered
	confirmed                 // 2xx sent or received
	ended                     // over: BYE, CANCEL, a failure
)

// legMiddleware wraps every leg's Receive: set only by tests that inject
// faults into a leg (as shard.Spec.EntityMiddleware does for the call).
var legMiddleware []actor.ReceiverMiddleware

// ErrNoAck ends a dialog whose 2xx got no ACK (RFC 3261 §13.3.1.4).
var ErrNoAck = errors.New("call: no ACK for the 2xx")

// errNoPeer answers an in-dialog request that has no dialog on the other
// side to go to (an early request while several forks ring).
var errNoPeer = status.New(status.ServerInternalError, "No Peer Dialog")

// leg is one dialog of a call, as an actor of its own (a child of the
// call): its CSeq spaces, route set, remote target and the transactions
// in flight on it. It reports to its call by event and does what the call
// asks (respond, send, reply, hangup); it never sees the other leg.
type leg struct {
	*env
	role  role
	state legState
	d     dlg
	call  *actor.PID
	self  *actor.PID

	// uas: A's INVITE until its final response, and its transaction.
	invite *sip.Request
	tx     ServerTx
	acked  bool
	// uac: the INVITE we sent (its Via is the port's once a response
	// came: CANCEL copies it), and what hangup left to do.
	out         *sip.Request
	path        []string
	provisional bool   // a provisional came: CANCEL may go (RFC 3261 §9.1)
	cancelling  bool   // hangup while early: CANCEL at the first provisional
	holdAck     bool   // our INVITE had no offer: the ACK carries A's answer
	ackSeq      uint32 // the CSeq of the 2xx whose ACK waits for A's answer (holdAck)

	registered bool
	nextID     uint64
	invID      uint64                     // port id of our INVITE
	outOps     map[uint64]outOp           // port id -> the call's op; nil until the first
	inbound    map[uint64]*dialog.Request // op -> the peer's request waiting for the call's answer; nil until the first
	inviting   bool                       // a re-INVITE in progress, either way (491 for another)
	timer      *time.Timer
	byeID      uint64

	// mid-dialog state (prack.go, timer.go, sdp.go)
	rel        reliable      // uas: our reliable provisionals (RFC 3262)
	rseqIn     uint32        // uac: the last RSeq PRACKed
	prackHeld  uint32        // uac: the RSeq whose PRACK waits for the caller's answer
	retried    bool          // uac: our INVITE was retried after a 422
	st         sessionTimer  // RFC 4028
	sdpIn      []byte        // the last SDP the peer sent
	sdpOut     []byte        // the last SDP we sent the peer
	offerOut   bool          // an offer of ours waits for its answer (RFC 3311 §5.2)
	offerIn    bool          // an offer of the peer's waits for our answer
	reAck      *sip.Response // uac: a re-INVITE's 2xx offer whose ACK waits for the other leg's answer
	awaitReAck bool          // uas: our 2xx to a re-INVITE without SDP offered; its ACK answers

	media *media.Session // the leg's relayed media; nil: passthrough (media.go)
}

type outOp struct {
	op     uint64
	method sip.RequestMethod
	offer  bool // it carried a body (re-INVITE: an offer)
}

// legStart is what a leg starts with: the first message the call sends
// it. It is a message and not the producer's closure because protoactor
// keeps a child's Props (and all its closure holds) for the child's
// lifetime: A's INVITE and ours stayed reachable for the whole call, about
// 4 KB of an idle call. Every leg comes from the kind's one Spec.Child.
type legStart struct {
	role    role
	inv     *Invite      // uas: the caller's INVITE
	contact Contact      // uac: where to call
	req     *sip.Request // uac: our INVITE, built by the call
	d       dlg          // uac: the dialog the INVITE starts
	resume  *handedOver  // a dialog another call handed over (replaces.go)
	media   *media.Session
}

// ackTimeout fires when the ACK of a 2xx we sent did not come.
type ackTimeout struct{}

// start sets the leg up and begins: leg A owns its dialog at once, a leg B
// sends its INVITE, and a dialog handed over by another call (replaces.go)
// is owned at once too.
func (l *leg) start(ctx actor.Context, s *legStart) {
	l.role, l.media = s.role, s.media
	if s.resume != nil {
		l.resume(s.resume)
		l.register()
		return
	}
	switch s.role {
	case uas:
		l.initUAS(s.inv)
	case uac:
		l.out, l.path, l.d = s.req, s.contact.Path, s.d
		l.d.cseq = 1
		l.holdAck = len(s.req.Body()) == 0
		body, err := l.sdpSend(s.req.Body(), true)
		if err != nil { // no ports, no SRTP we can offer: this fork fails before it starts
			l.tell(ctx, &event{kind: evFailed, err: err})
			l.end(ctx, nil)
			return
		}
		if len(body) > 0 {
			s.req.SetBody(body)
		}
	}
	if l.role == uas {
		l.register()
	} else {
		l.invID = l.sendReq(ctx, l.out)
	}
}

// initUAS sets up leg A's dialog from the caller's INVITE (RFC 3261
// §12.1.1): its From is the remote party, its To with our tag the local
// one, its Contact the remote target and its Record-Route the route set.
func (l *leg) initUAS(inv *Invite) {
	req := inv.Request
	l.invite, l.tx = req, inv.Tx
	from, to := req.From(), req.To()
	remoteTag, _ := from.Params.Get("tag")
	l.d.id = dialog.ID{CallID: req.CallID().Value(), LocalTag: newTag(), RemoteTag: remoteTag}
	l.d.local, l.d.remote = party(to.DisplayName, &to.Address), party(from.DisplayName, &from.Address)
	if c := req.Contact(); c != nil {
		l.d.target = *c.Address.Clone()
	} else {
		l.d.target = *from.Address.Clone()
	}
	l.d.routes = recordRoute(req, false)
	l.d.rcseq = req.CSeq().SeqNo
	l.d.contact, l.d.source = inv.Contact, inv.Source
	l.d.route(nil)
	l.rel.on = has(req, "Supported", "100rel") || has(req, "Require", "100rel")
	l.st = uasTimer(l.conf, req)
	if isSDP(req) {
		_ = l.sdpRecv(req.Body(), true) // a body the relay cannot use gets 488 from the call (Prepare)
	}
}

func (l *leg) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		l.call, l.self = ctx.Parent(), actor.NewPID(ctx.Self().Address, ctx.Self().Id)
	case *legStart:
		l.start(ctx, msg)
	case *replace: // another call's attended transfer names our dialog
		msg.leg = l.self
		ctx.Send(l.call, msg)
	case *handover:
		l.handover(ctx, msg)
	case *respond:
		l.respond(ctx, msg)
	case *send:
		l.sendOp(ctx, msg)
	case *reply:
		l.reply(ctx, msg)
	case *ackWith:
		l.ack(ctx, msg.body)
	case *hangup:
		l.hangup(ctx, msg)
	case *dialog.Request:
		l.request(ctx, msg)
	case *dialog.Retransmitted:
		if l.role == uac && l.state == confirmed && !l.holdAck && l.reAck == nil { // a held ACK waits for its answer (offer.go)
			l.ackFor(ctx, msg.Response.CSeq().SeqNo, nil)
		}
	case *outbound.Provisional:
		if msg.ID == l.invID {
			l.provisionalRes(ctx, msg.Response)
		}
	case *outbound.Result:
		l.result(ctx, msg)
	case *prackWith:
		l.prackWith(ctx, msg.body)
	case *reAckTimeout:
		l.reAckExpired(ctx, msg)
	case *relRetransmit:
		l.retransmitReliable(ctx, msg)
	case *sessionTick:
		l.sessionTicked(ctx, msg)
	case *ackTimeout:
		if l.state == confirmed && !l.acked {
			l.log.Warn("no ACK for the 2xx, ending the call", zap.String("call_id", l.d.id.CallID))
			l.bye(ctx)
			l.end(ctx, ErrNoAck)
		}
	case *actor.Stopping:
		l.teardown()
	}
}

// register makes the leg the owner of its dialog, so the edge routes the
// peer's in-dialog requests (and ACK) here.
func (l *leg) register() {
	if l.registered || l.d.id.RemoteTag == "" && l.role == uac {
		return
	}
	if err := l.dialogs.Add(l.d.id, l.self); err != nil {
		l.log.Warn("dialog id taken", zap.String("call_id", l.d.id.CallID), zap.Error(err))
		return
	}
	l.registered = true
}

func (l *leg) unregister() {
	if l.registered {
		l.dialogs.Remove(l.d.id, l.self)
		l.registered = false
	}
}

func (l *leg) tell(ctx actor.Context, ev *event) {
	ev.leg = l.self
	ctx.Send(l.call, ev)
}

// sendReq sends req through the port; the result comes back with the id
// returned.
func (l *leg) sendReq(ctx actor.Context, req *sip.Request) uint64 {
	l.nextID++
	l.port.Send(req, l.self, l.nextID)
	return l.nextID
}

// ---- uas: answering A's INVITE ----

func (l *leg) respond(ctx actor.Context, m *respond) {
	if l.role != uas || l.invite == nil {
		return
	}
	switch {
	case m.code > 100 && m.code < 200 && l.rel.on:
		l.respondReliably(ctx, m)
		return
	case m.code >= 200 && l.holdFinal(m):
		return
	}
	m = l.toCaller(m)
	headers := m.headers
	if m.code >= 200 && m.code < 300 {
		headers = append(headers[:len(headers):len(headers)], l.st.answerHeaders()...)
	}
	res := l.response(l.invite, m.code, m.reason, headers, m.body)
	tx := l.tx
	if m.code >= 200 { // the transaction is over: drop the request and the edge's transaction
		l.invite, l.tx = nil, nil
	}
	tx.Respond(res)
	switch {
	case m.code < 200:
	case m.code < 300:
		l.state = confirmed
		l.armAck(ctx)
		l.armSession(ctx)
	default:
		l.end(ctx, nil)
	}
}

// response is our response to one of the peer's requests on this leg: our
// To tag, our Contact on dialog-making and target-refresh answers (RFC
// 3261 §12.1.1), Record-Route copied (NewResponseFromRequest does).
func (l *leg) response(req *sip.Request, code int, reason string, headers []sip.Header, body []byte) *sip.Response {
	if reason == "" {
		reason = status.Reason(code)
	}
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	if to := res.To(); to != nil && code > 100 { // ours, not the one sipgo makes up
		to.Params.Remove("tag")
		to.Params.Add("tag", l.d.id.LocalTag)
	}
	if code > 100 && code < 300 && (req.Method == sip.INVITE || req.Method == sip.UPDATE) {
		res.AppendHeader(sip.NewHeader("Contact", "<"+l.d.contact+">"))
	}
	for _, h := range headers {
		res.AppendHeader(h)
	}
	if len(body) > 0 {
		res.SetBody(body)
	}
	return res
}

// armAck waits for the ACK of the 2xx just sent.
func (l *leg) armAck(ctx actor.Context) {
	l.acked = false
	root, self := ctx.ActorSystem().Root, l.self
	l.stopTimer()
	l.timer = time.AfterFunc(l.conf.ackTimeout(), func() { root.Send(self, &ackTimeout{}) })
}

func (l *leg) stopTimer() {
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
}

// ---- in-dialog requests from the peer ----

func (l *leg) request(ctx actor.Context, m *dialog.Request) {
	req := m.Request
	if req.IsAck() {
		switch {
		case !l.acked && l.state == confirmed:
			l.acked = true
			l.stopTimer()
			if isSDP(req) {
				_ = l.sdpRecv(req.Body(), false) // the answer to our 2xx's offer
			}
			l.tell(ctx, &event{kind: evAck, req: req})
		case l.awaitReAck && l.state == confirmed && len(req.Body()) > 0:
			l.awaitReAck = false
			if isSDP(req) {
				_ = l.sdpRecv(req.Body(), false)
			}
			l.tell(ctx, &event{kind: evAck, req: req})
		}
		return
	}
	if l.state == ended {
		m.Reply(&dialog.Reply{Err: dialog.ErrNoDialog})
		return
	}
	if !l.d.inOrder(req) {
		m.Reply(&dialog.Reply{Code: status.ServerInternalError, Reason: "CSeq Out of Order"})
		return
	}
	switch req.Method {
	case sip.BYE:
		m.Reply(&dialog.Reply{Code: status.OK})
		l.tell(ctx, &event{kind: evRequest, req: req})
		l.end(ctx, nil)
		return
	case sip.PRACK:
		l.prack(ctx, m)
		return
	case sip.INVITE, sip.UPDATE:
		if !l.offerAnswer(ctx, m) {
			return
		}
	}
	l.nextID++
	if l.inbound == nil {
		l.inbound = map[uint64]*dialog.Request{}
	}
	l.inbound[l.nextID] = m
	l.tell(ctx, &event{kind: evRequest, op: l.nextID, req: req})
}

// reply answers the peer's request op as the call says.
func (l *leg) reply(ctx actor.Context, m *reply) {
	in, ok := l.inbound[m.op]
	if !ok {
		return
	}
	delete(l.inbound, m.op)
	method := in.Request.Method
	if method == sip.INVITE {
		l.inviting = false
	}
	if method == sip.INVITE || method == sip.UPDATE {
		l.offerIn = false
	}
	r := &dialog.Reply{Code: m.code, Reason: m.reason, Headers: m.headers, Body: m.body}
	if (method == sip.INVITE || method == sip.UPDATE) && bodyIsSDP(m.headers, m.body) {
		body, err := l.sdpSend(m.body, len(in.Request.Body()) == 0) // an answer, or our offer when the request had none
		if err != nil {
			code, reason := status.Of(err)
			r = &dialog.Reply{Code: code, Reason: reason}
			m = &reply{op: m.op, code: code, reason: reason}
		} else {
			r.Body = body
		}
	}
	if m.code >= 200 && m.code < 300 && (method == sip.INVITE || method == sip.UPDATE) {
		r.Headers = append(r.Headers, sip.NewHeader("Contact", "<"+l.d.contact+">"))
		l.takeRefresh(in.Request)
		r.Headers = append(r.Headers, l.st.answerHeaders()...)
		l.awaitReAck = method == sip.INVITE && len(in.Request.Body()) == 0 && len(m.body) > 0
		l.armSession(ctx)
	}
	in.Reply(r)
}

// ---- requests we send on this leg ----

func (l *leg) sendOp(ctx actor.Context, m *send) {
	if l.state == ended {
		l.tell(ctx, &event{kind: evResult, op: m.op, err: dialog.ErrNoDialog})
		return
	}
	if m.method == sip.INVITE {
		if l.inviting {
			l.tell(ctx, &event{kind: evResult, op: m.op, res: syntheticResponse(status.RequestPending, status.Reason(status.RequestPending))})
			return
		}
		l.inviting = true
	}
	body := m.body
	if (m.method == sip.INVITE || m.method == sip.UPDATE) && bodyIsSDP(m.headers, body) {
		b, err := l.sdpSend(body, true)
		if err != nil {
			if m.method == sip.INVITE {
				l.inviting = false
			}
			code, reason := status.Of(err)
			l.tell(ctx, &event{kind: evResult, op: m.op, res: syntheticResponse(code, reason)})
			return
		}
		body = b
	}
	req := l.d.request(m.method)
	for _, h := range m.headers {
		req.AppendHeader(h)
	}
	if len(body) > 0 {
		req.SetBody(body)
	}
	if m.method == sip.INVITE || m.method == sip.UPDATE {
		for _, h := range l.st.requestHeaders() {
			req.AppendHeader(h)
		}
		if len(body) > 0 {
			l.offerOut = true
		}
	}
	id := l.sendReq(ctx, req)
	if l.outOps == nil {
		l.outOps = map[uint64]outOp{}
	}
	l.outOps[id] = outOp{op: m.op, method: m.method, offer: len(m.body) > 0}
}

// syntheticResponse is a response made up for the call (no request to
// answer on the wire).
func syntheticResponse(code int, reason string) *sip.Response {
	return sip.NewResponse(code, reason)
}

// result is the outcome of a request we sent.
func (l *leg) result(ctx actor.Context, m *outbound.Result) {
	switch m.ID {
	case l.invID:
		l.invited(ctx, m)
		return
	case l.byeID:
		if l.byeID != 0 {
			l.end(ctx, nil)
		}
		return
	case l.st.refreshID:
		if l.st.refreshID != 0 {
			l.refreshResult(ctx, m.Response, m.Err)
		}
		return
	}
	op, ok := l.outOps[m.ID]
	if !ok { // CANCEL, ACK
		if m.Err != nil {
			l.log.Debug("request failed", zap.String("call_id", l.d.id.CallID), zap.Error(m.Err))
		}
		return
	}
	delete(l.outOps, m.ID)
	l.answered(ctx, op, m.Response)
	l.tell(ctx, &event{kind: evResult, op: op.op, res: m.Response, err: m.Err})
	switch {
	case op.method == sip.BYE:
	case m.Response != nil && (m.Response.StatusCode == 481 || m.Response.StatusCode == 408):
		// RFC 5057 §5.1: the dialog is gone (481) or the peer unreachable
		// (408): the call ends.
		l.end(ctx, fmt.Errorf("call: %s answered %d", op.method, m.Response.StatusCode))
	case errors.Is(m.Err, outbound.ErrTimeout):
		// RFC 3261 §12.2.1.2: no response at all ends the dialog as a 408
		// does; otherwise a peer gone silent leaves a half call up.
		l.end(ctx, fmt.Errorf("call: %s: %w", op.method, m.Err))
	}
}

// ---- uac: our INVITE ----

func (l *leg) provisionalRes(ctx actor.Context, res *sip.Response) {
	l.provisional = true
	if l.cancelling {
		l.cancel(ctx)
		return
	}
	if res.StatusCode == 100 {
		return
	}
	l.learn(res)
	if !l.prackFor(ctx, res) {
		return
	}
	if isSDP(res) {
		_ = l.sdpRecv(res.Body(), l.holdAck) // early media: the answer (or, our INVITE without one, the offer)
	}
	l.tell(ctx, &event{kind: evProvisional, res: res})
}

// learn takes the dialog's remote tag, target and route set from a
// response to our INVITE that creates (or confirms) the dialog.
func (l *leg) learn(res *sip.Response) {
	tag, ok := res.To().Params.Get("tag")
	if !ok || tag == "" {
		return
	}
	if l.d.id.RemoteTag == "" {
		l.d.id.RemoteTag = tag
	} else if l.d.id.RemoteTag != tag {
		return // another early dialog of a fork downstream: the first one stays
	}
	if c := res.Contact(); c != nil && c.Address.Host != "" {
		l.d.target = *c.Address.Clone()
	}
	l.d.routes = recordRoute(res, true)
	l.d.route(l.path)
	l.register()
}

func (l *leg) invited(ctx actor.Context, m *outbound.Result) {
	res := m.Response
	switch {
	case m.Err != nil:
		l.tell(ctx, &event{kind: evFailed, err: m.Err})
		l.end(ctx, nil)
	case res.IsSuccess():
		l.learn(res)
		l.state = confirmed
		if l.holdAck {
			l.ackSeq = res.CSeq().SeqNo
		}
		if isSDP(res) {
			_ = l.sdpRecv(res.Body(), l.holdAck)
		}
		l.st = uacTimer(l.conf, l.out, res)
		l.out = nil // answered: no CANCEL any more, and the INVITE (with its body) is not kept for the call's life
		l.armSession(ctx)
		if l.cancelling { // answered across our CANCEL (RFC 3261 §9.1): ACK, then BYE
			l.ackFor(ctx, res.CSeq().SeqNo, nil)
			l.bye(ctx)
			return
		}
		if !l.holdAck {
			l.ackFor(ctx, res.CSeq().SeqNo, nil)
		}
		l.tell(ctx, &event{kind: evAnswered, res: res})
	case res.StatusCode == status.SessionTooSmall && !l.retried && !l.cancelling && minSE(res) > 0:
		l.retryInvite(ctx, minSE(res))
	default:
		l.tell(ctx, &event{kind: evFailed, res: res})
		l.end(ctx, nil)
	}
}

// ack sends the ACK of the initial 2xx that waited for A's answer.
func (l *leg) ack(ctx actor.Context, body []byte) {
	if l.reAck != nil {
		res := l.reAck
		l.reAck = nil
		l.ackFor(ctx, res.CSeq().SeqNo, l.answerOut(body))
		return
	}
	if l.role != uac || l.ackSeq == 0 || !l.holdAck {
		return
	}
	body = l.answerOut(body)
	l.holdAck = false
	l.ackFor(ctx, l.ackSeq, body)
}

// ackFor sends the ACK of a 2xx to our INVITE numbered cseq (RFC 3261
// §13.2.2.4): a transaction of its own, with the INVITE's CSeq number.
func (l *leg) ackFor(ctx actor.Context, cseq uint32, body []byte) {
	req := l.ackReq(cseq)
	if len(body) > 0 {
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(body)
	}
	if ce := l.log.Check(zap.DebugLevel, "ACK"); ce != nil {
		ce.Write(zap.String("call_id", l.d.id.CallID), zap.String("to", req.Destination()), zap.String("transport", req.Transport()))
	}
	l.sendReq(ctx, req)
}

// cancel sends CANCEL for our INVITE (RFC 3261 §9.1).
func (l *leg) cancel(ctx actor.Context) {
	l.cancelling = false
	l.sendReq(ctx, l.cancelReq())
}

// cancelReq is the CANCEL of our INVITE: same Request-URI, Call-ID, From,
// To, CSeq number, Route and top Via (the port's, copied from the INVITE
// it sent) as the INVITE.
func (l *leg) cancelReq() *sip.Request {
	inv := l.out
	req := sip.NewRequest(sip.CANCEL, *inv.Recipient.Clone())
	if via := inv.Via(); via != nil {
		req.AppendHeader(sip.HeaderClone(via))
	}
	for _, h := range inv.GetHeaders("Route") {
		req.AppendHeader(sip.HeaderClone(h))
	}
	req.AppendHeader(sip.HeaderClone(inv.From()))
	req.AppendHeader(sip.HeaderClone(inv.To()))
	req.AppendHeader(sip.HeaderClone(inv.CallID()))
	req.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	req.SetTransport(inv.Transport())
	req.SetDestination(inv.Destination())
	return req
}

// ---- ending ----

// hangup ends the leg as the call asks.
func (l *leg) hangup(ctx actor.Context, m *hangup) {
	switch {
	case l.state == ended:
	case l.role == uas && l.state == early:
		code := m.code
		if code == 0 {
			code = status.RequestTerminated
		}
		l.respond(ctx, &respond{code: code, reason: m.reason})
	case l.role == uac && l.state == early:
		if l.provisional {
			l.cancel(ctx)
		} else {
			l.cancelling = true // RFC 3261 §9.1: not before a provisional
		}
	case l.state == confirmed:
		if l.role == uac && l.holdAck { // never ACKed: ACK first
			l.holdAck = false
			l.ackFor(ctx, l.ackSeq, nil)
		}
		if l.reAck != nil {
			l.ackFor(ctx, l.reAck.CSeq().SeqNo, nil)
			l.reAck = nil
		}
		l.bye(ctx)
	}
}

// bye sends BYE; the leg ends on its answer (or the port's timeout).
func (l *leg) bye(ctx actor.Context) {
	if l.byeID != 0 || l.state == ended {
		return
	}
	l.byeID = l.sendReq(ctx, l.d.request(sip.BYE))
}

// end finishes the leg: its dialog is forgotten, requests still waiting
// get 481, the call is told and the actor stops.
func (l *leg) end(ctx actor.Context, why error) {
	if l.state == ended {
		return
	}
	l.state = ended
	l.stopTimer()
	l.stopSession()
	l.stopReliable()
	l.unregister()
	for op, in := range l.inbound {
		in.Reply(&dialog.Reply{Err: dialog.ErrNoDialog})
		delete(l.inbound, op)
	}
	l.tell(ctx, &event{kind: evEnded, err: why})
	ctx.Stop(ctx.Self())
}

// teardown runs when the leg stops without having ended (its call failed
// or stopped): the peer must not be left in a half call. An unanswered
// INVITE from A gets 500, a ringing one of ours CANCEL, a dialog BYE.
func (l *leg) teardown() {
	l.stopTimer()
	l.stopSession()
	l.stopReliable()
	for op, in := range l.inbound {
		in.Reply(&dialog.Reply{Err: status.New(status.ServerInternalError, "Call Failed")})
		delete(l.inbound, op)
	}
	if l.state == ended {
		return
	}
	l.unregister()
	switch {
	case l.role == uas && l.invite != nil:
		l.tx.Fail(status.New(status.ServerInternalError, "Call Failed"))
	case l.role == uac && l.state == early && l.provisional:
		l.detached(l.cancelReq())
	case l.state == confirmed:
		if l.role == uac && l.holdAck && l.ackSeq != 0 {
			l.detached(l.ackReq(l.ackSeq))
		}
		l.detached(l.d.request(sip.BYE))
	}
	l.state = ended
	l.log.Warn("call leg torn down", zap.String("call_id", l.d.id.CallID), zap.Int("role", int(l.role)))
}

// detached sends a request whose outcome nobody waits for (the leg is
// stopping): its result goes to the dead letters.
func (l *leg) detached(req *sip.Request) {
	l.port.Send(req, l.self, 0)
}

func (l *leg) ackReq(cseq uint32) *sip.Request {
	req := sip.NewRequest(sip.ACK, *l.d.target.Clone())
	l.d.fill(req, cseq, sip.ACK)
	return req
}
