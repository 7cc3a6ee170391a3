package call

import (
	"errors"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/dialog"
	"github.com/b2bua/b2bua/sip/status"
)

// Reliable provisional responses (RFC 3262), negotiated per leg.
//
// Leg B always offers 100rel (the B2BUA PRACKs for itself): a 18x with
// Require: 100rel and an RSeq is PRACKed at once on the early dialog, and
// a retransmission (an RSeq not above the last) is neither PRACKed again
// nor relayed. Leg A sends 18x reliably when the caller's INVITE had
// Supported or Require 100rel: Require: 100rel, our own RSeq (random
// start, +1 each), retransmitted at T1 doubling until the caller's PRACK,
// given up after 64*T1 (the INVITE gets 500 and the call ends, §3). A
// second reliable provisional waits for the PRACK of the first; a 2xx
// waits too when the one unacknowledged carried SDP (§3).

// ErrNoPrack ends a call whose caller never PRACKed a reliable provisional
// response (RFC 3262 §3).
var ErrNoPrack = errors.New("call: no PRACK for a reliable provisional response")

// reliable is leg A's state of reliable provisional responses.
type reliable struct {
	on       bool          // the caller supports 100rel
	rseq     uint32        // the last RSeq sent
	pending  *sip.Response // sent, not PRACKed yet
	queue    []*respond    // provisionals waiting for pending's PRACK
	final    *respond      // a 2xx waiting for pending's PRACK
	interval time.Duration
	until    time.Time
	timer    *time.Timer
}

// maxQueued bounds the provisionals waiting for a PRACK: a callee that
// repeats its 180 toward a caller slow to PRACK does not grow the queue
// without end (the latest ones are dropped; the 2xx never waits here).
const maxQueued = 8

// relRetransmit fires the retransmission of the reliable provisional
// numbered rseq.
type relRetransmit struct{ rseq uint32 }

// firstRSeq is a random first RSeq, 1..2^31 (RFC 3262 §3).
func firstRSeq() uint32 { return 1 + mrand.Uint32N(1<<31) }

// respondReliably sends a provisional response to the caller reliably, or
// queues it behind the one waiting for its PRACK.
func (l *leg) respondReliably(ctx actor.Context, m *respond) {
	r := &l.rel
	if r.pending != nil {
		if len(r.queue) < maxQueued {
			r.queue = append(r.queue, m)
		}
		return
	}
	if r.rseq == 0 {
		r.rseq = firstRSeq() - 1
	}
	r.rseq++
	m = l.toCaller(m)
	res := l.response(l.invite, m.code, m.reason, m.headers, m.body)
	res.AppendHeader(sip.NewHeader("Require", "100rel"))
	res.AppendHeader(sip.NewHeader("RSeq", strconv.FormatUint(uint64(r.rseq), 10)))
	r.pending, r.interval, r.until = res, sip.T1, time.Now().Add(64*sip.T1)
	l.tx.Respond(res)
	l.armReliable(ctx)
}

func (l *leg) armReliable(ctx actor.Context) {
	r := &l.rel
	root, self, rseq := ctx.ActorSystem().Root, l.self, r.rseq
	r.timer = time.AfterFunc(r.interval, func() { root.Send(self, &relRetransmit{rseq: rseq}) })
}

// retransmitReliable resends the pending reliable provisional, or gives
// up after 64*T1: the INVITE gets 500 and the call ends.
func (l *leg) retransmitReliable(ctx actor.Context, m *relRetransmit) {
	r := &l.rel
	if r.pending == nil || m.rseq != r.rseq || l.invite == nil {
		return
	}
	if !time.Now().Before(r.until) {
		l.log.Info("no PRACK for a reliable provisional, ending the call", zap.String("call_id", l.d.id.CallID))
		l.stopReliable()
		res := l.response(l.invite, status.ServerInternalError, "No PRACK", nil, nil)
		l.invite = nil
		l.tx.Respond(res)
		l.end(ctx, ErrNoPrack)
		return
	}
	l.tx.Respond(r.pending)
	r.interval *= 2
	l.armReliable(ctx)
}

// stopReliable forgets reliable provisionals: a final response went.
func (l *leg) stopReliable() {
	r := &l.rel
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	r.pending, r.queue, r.final = nil, nil, nil
}

// holdFinal reports whether a final response must wait for the PRACK of
// the pending provisional (a 2xx after one with SDP, RFC 3262 §3) and
// keeps it if so. Any other final response ends reliability.
func (l *leg) holdFinal(m *respond) bool {
	r := &l.rel
	if r.pending != nil && m.code < 300 && len(r.pending.Body()) > 0 {
		r.final = m
		return true
	}
	l.stopReliable()
	return false
}

// rack reads a RAck header: response number, CSeq number, method.
func rack(req *sip.Request) (rseq, cseq uint32, method string, ok bool) {
	hs := req.GetHeaders("RAck")
	if len(hs) == 0 {
		return 0, 0, "", false
	}
	f := strings.Fields(hs[0].Value())
	if len(f) != 3 {
		return 0, 0, "", false
	}
	a, err1 := strconv.ParseUint(f[0], 10, 32)
	b, err2 := strconv.ParseUint(f[1], 10, 32)
	if err1 != nil || err2 != nil {
		return 0, 0, "", false
	}
	return uint32(a), uint32(b), f[2], true
}

// prack answers a PRACK from the peer (RFC 3262 §4): 200 when its RAck
// names the reliable provisional waiting, which stops its retransmissions
// and lets the next response go; 481 otherwise. A PRACK is not relayed:
// each leg does 100rel on its own. An offer or answer in its body is not
// taken (200 without a body).
func (l *leg) prack(ctx actor.Context, m *dialog.Request) {
	r := &l.rel
	rseq, cseq, method, ok := rack(m.Request)
	if l.role != uas || r.pending == nil || l.invite == nil || !ok || rseq != r.rseq ||
		cseq != l.invite.CSeq().SeqNo || !strings.EqualFold(method, string(sip.INVITE)) {
		m.Reply(&dialog.Reply{Code: status.NoSuchDialog, Reason: "No Matching Reliable Provisional"})
		return
	}
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	r.pending = nil
	m.Reply(&dialog.Reply{Code: status.OK})
	if isSDP(m.Request) {
		_ = l.sdpRecv(m.Request.Body(), false) // the answer to our reliable 18x's offer
	}
	l.tell(ctx, &event{kind: evPrack, req: m.Request}) // a fork may wait for its body (prackWith)
	switch {
	case r.final != nil:
		f := r.final
		r.final = nil
		l.respond(ctx, f)
	case len(r.queue) > 0:
		next := r.queue[0]
		r.queue = r.queue[1:]
		l.respondReliably(ctx, next)
	}
}

// ---- leg B: the callee's reliable provisionals ----

// prackFor PRACKs a reliable provisional response to our INVITE, and
// reports whether it is new (a retransmission is PRACKed by its first
// PRACK's transaction and not relayed again).
func (l *leg) prackFor(ctx actor.Context, res *sip.Response) bool {
	if !has(res, "Require", "100rel") {
		return true
	}
	hs := res.GetHeaders("RSeq")
	if len(hs) == 0 {
		return true // not reliable after all
	}
	n, err := strconv.ParseUint(strings.TrimSpace(hs[0].Value()), 10, 32)
	if err != nil {
		return true
	}
	rseq := uint32(n)
	if l.rseqIn != 0 && rseq <= l.rseqIn {
		return false
	}
	l.rseqIn = rseq
	if heldPrack(res, l.holdAck) {
		l.prackHeld = rseq
		return true
	}
	l.sendPrack(ctx, rseq, nil)
	return true
}

// heldPrack reports whether a fork keeps its PRACK of a reliable
// provisional for the caller's answer: our INVITE had no offer (noOffer)
// and the provisional offers SDP, so the PRACK must carry the answer
// (RFC 3262 §5), which only the caller's PRACK can give.
func heldPrack(res *sip.Response, noOffer bool) bool {
	return noOffer && res.StatusCode > 100 && has(res, "Require", "100rel") && len(res.GetHeaders("RSeq")) > 0 && isSDP(res)
}

// reliableA reports whether the caller does 100rel.
func (c *Call) reliableA() bool {
	if c.inv == nil {
		return false
	}
	r := c.inv.Request
	return has(r, "Supported", "100rel") || has(r, "Require", "100rel")
}

// prackWith sends the PRACK kept for the caller's answer, with the body of
// the caller's PRACK: the offer/answer is then complete, and the ACK of
// the 2xx goes bare.
func (l *leg) prackWith(ctx actor.Context, body []byte) {
	if l.prackHeld == 0 || l.state != early {
		return
	}
	rseq := l.prackHeld
	l.prackHeld = 0
	if len(body) > 0 {
		l.holdAck = false
		body = l.answerOut(body)
	}
	l.sendPrack(ctx, rseq, body)
}

// sendPrack PRACKs the reliable provisional rseq on the early dialog.
func (l *leg) sendPrack(ctx actor.Context, rseq uint32, body []byte) {
	req := l.d.request(sip.PRACK)
	req.AppendHeader(sip.NewHeader("RAck", strconv.FormatUint(uint64(rseq), 10)+" "+strconv.FormatUint(uint64(l.out.CSeq().SeqNo), 10)+" INVITE"))
	if len(body) > 0 {
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(body)
	}
	l.sendReq(ctx, req)
}
