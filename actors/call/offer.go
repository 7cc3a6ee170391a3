package call

import (
	"errors"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/dialog"
	"github.com/b2bua/b2bua/sip/status"
)

// Offer/answer on an established (or early) dialog: re-INVITE and UPDATE
// from the peer, and the outcome of those we send. The bodies pass
// through untouched (Config.Media passthrough: a=sendonly or inactive of
// a hold crosses as it is); the leg only checks them and remembers the
// last SDP each way, which session refreshes reuse.

// offerAnswer checks a re-INVITE or UPDATE from the peer before it is
// relayed, and reports whether it goes on. A body that is not a usable
// SDP is 400, 488 or 415 (with Accept); a re-INVITE while another is in
// progress on this leg, or an offer while ours waits for its answer, is
// 491 (RFC 3261 §14.2, RFC 3311 §5.2); an offer while the peer's last
// one is unanswered is 500 with Retry-After (RFC 3311 §5.2). A session
// refresh that changes nothing else is answered here (peerRefresh).
func (l *leg) offerAnswer(ctx actor.Context, m *dialog.Request) bool {
	req := m.Request
	if err := checkBody(req); err != nil {
		code, reason := status.Of(err)
		r := &dialog.Reply{Code: code, Reason: reason}
		if errors.Is(err, ErrBodyType) {
			r.Headers = []sip.Header{acceptSDP}
		}
		m.Reply(r)
		return false
	}
	offer := isSDP(req)
	switch {
	case req.Method == sip.INVITE && (l.inviting || l.invite != nil), offer && l.offerOut:
		m.Reply(&dialog.Reply{Code: status.RequestPending, Reason: status.Reason(status.RequestPending)})
		return false
	case offer && l.offerIn:
		m.Reply(&dialog.Reply{Code: status.ServerInternalError, Reason: "Offer Pending",
			Headers: []sip.Header{sip.NewHeader("Retry-After", "1")}})
		return false
	}
	if l.peerRefresh(ctx, m) {
		return false
	}
	if offer {
		if err := l.sdpRecv(req.Body(), true); err != nil { // an offer the relay cannot take: 488 or 503
			code, reason := status.Of(err)
			m.Reply(&dialog.Reply{Code: code, Reason: reason})
			return false
		}
	}
	if req.Method == sip.INVITE {
		l.inviting = true
	}
	if offer {
		l.offerIn = true
	}
	l.d.refresh(req, l.path)
	return true
}

// answered takes the final response to a re-INVITE, UPDATE or other
// request we sent for the call: a 2xx to a re-INVITE or UPDATE refreshes
// the remote target (RFC 3261 §12.2.1.2, RFC 3311 §5.1) and the session
// timer; a re-INVITE's 2xx is ACKed at once, unless the re-INVITE had no
// offer and the 2xx has one: then its ACK carries the other leg's answer
// (ackWith) and waits for it.
func (l *leg) answered(ctx actor.Context, op outOp, res *sip.Response) {
	method := op.method
	if method == sip.INVITE {
		l.inviting = false
	}
	if method == sip.INVITE || method == sip.UPDATE {
		l.offerOut = false
	}
	if res == nil || !res.IsSuccess() || method != sip.INVITE && method != sip.UPDATE {
		return
	}
	l.d.refresh(res, l.path)
	if se, ref, ok := sessionExpires(res); ok && se > 0 {
		l.st.interval, l.st.refresher = se, ref != "uas"
	}
	l.armSession(ctx)
	if isSDP(res) {
		_ = l.sdpRecv(res.Body(), !op.offer) // the answer to our offer, or the offer of a 2xx to our bare re-INVITE
	}
	if method != sip.INVITE {
		return
	}
	if !op.offer && isSDP(res) {
		l.reAck = res
		root, self := ctx.ActorSystem().Root, l.self
		time.AfterFunc(l.conf.ackTimeout(), func() { root.Send(self, &reAckTimeout{res: res}) })
		return
	}
	l.ackFor(ctx, res.CSeq().SeqNo, nil)
}

// reAckTimeout fires when the answer for a held ACK (reAck) did not come
// from the other leg in time.
type reAckTimeout struct{ res *sip.Response }

// reAckExpired ends a leg whose re-INVITE 2xx offer never got the other
// leg's answer: the ACK goes bare (it must go), then BYE, as for a 2xx
// never ACKed (RFC 3261 §13.3.1.4).
func (l *leg) reAckExpired(ctx actor.Context, m *reAckTimeout) {
	if l.reAck != m.res || l.state != confirmed {
		return
	}
	l.reAck = nil
	l.ackFor(ctx, m.res.CSeq().SeqNo, nil)
	l.log.Warn("no answer for a re-INVITE's offer, ending the call", zap.String("call_id", l.d.id.CallID))
	l.bye(ctx)
	l.end(ctx, ErrNoAck)
}

// retryInvite sends our INVITE again after a 422 (RFC 4028 §7.4): a new
// transaction (CSeq + 1) asking for at least the callee's Min-SE.
func (l *leg) retryInvite(ctx actor.Context, peerMin time.Duration) {
	l.retried = true
	req := l.out.Clone()
	req.RemoveHeader("Via")
	req.RemoveHeader("Session-Expires")
	req.RemoveHeader("Min-SE")
	req.AppendHeader(sip.NewHeader("Session-Expires", secs(max(l.conf.SessionExpires, peerMin))))
	req.AppendHeader(sip.NewHeader("Min-SE", secs(peerMin)))
	l.d.cseq++
	req.CSeq().SeqNo = l.d.cseq
	l.out, l.provisional, l.rseqIn = req, false, 0
	l.invID = l.sendReq(ctx, req)
}
