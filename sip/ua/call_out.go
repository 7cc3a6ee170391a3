package ua

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// CallOption configures Call.
type CallOption func(*callConfig)

type callConfig struct {
	progress func(code int, reason string)
	sdp      []byte // WithSDP
}

// WithProgress calls fn for each provisional response of the call other
// than 100 Trying: 180 Ringing, 183 Session Progress.
func WithProgress(fn func(code int, reason string)) CallOption {
	return func(c *callConfig) { c.progress = fn }
}

// Call places a call to target: a user name ("bob"), an AOR
// ("sip:bob@example.com") or, peer to peer, a URI with the peer's address
// ("sip:bob@127.0.0.1:5070"). Through a server (after Register or with
// WithServer) the INVITE goes there with the peer's credentials.
//
// It returns when the call is answered (a 2xx, acknowledged) or fails: a
// *StatusError for a final answer other than 2xx (486 Busy Here, 480,
// 404, …). When ctx ends first, the INVITE is cancelled (CANCEL, RFC 3261
// §9.1) and the error matches both ctx.Err() and, when it came, the
// *StatusError of the 487.
func (p *Peer) Call(ctx context.Context, target string, opts ...CallOption) (*Call, error) {
	var cfg callConfig
	for _, o := range opts {
		o(&cfg)
	}
	u, err := p.target(target)
	if err != nil {
		return nil, err
	}
	req := p.newRequest(sip.INVITE, u)
	req.AppendHeader(sip.NewHeader("Allow", allow))
	req.AppendHeader(sip.NewHeader("Supported", "100rel"))
	req.AppendHeader(sip.NewHeader("Content-Type", ctSDP))
	sessID := rand.Uint64N(1 << 62)
	offer := buildSDP(p.contactHost(), p.conf.mediaPort, sessID, 1, dirSendRecv)
	if cfg.sdp != nil {
		offer, sessID = cfg.sdp, sdpSessionID(cfg.sdp)
	}
	req.SetBody(offer)
	o := &outgoing{p: p, req: req, cfg: cfg,
		log: p.log.With(zap.String("call_id", req.CallID().Value()), zap.String("method", "INVITE"))}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if !p.placing(o, cancel) {
		return nil, ErrClosed
	}
	defer p.placed(o)
	res, err := o.run(ctx)
	if err != nil {
		return nil, err
	}
	c := p.newCall(o.dialogOf(res), sessID, true, false)
	c.mu.Lock()
	if cfg.sdp != nil {
		c.custom, c.version = cfg.sdp, sdpVersion(cfg.sdp)
	}
	c.gotSDPLocked(res.Body())
	c.mu.Unlock()
	c.ack(req)
	o.reACK(c)
	c.log.Info("call answered")
	return c, nil
}

// placing notes a Call under way, which Close cancels; false once the
// peer is closing.
func (p *Peer) placing(o *outgoing, cancel context.CancelCauseFunc) bool {
	p.calls.mu.Lock()
	defer p.calls.mu.Unlock()
	if p.calls.closed {
		return false
	}
	p.calls.placing[o] = cancel
	p.calls.placed.Add(1)
	return true
}

// placed ends what placing began.
func (p *Peer) placed(o *outgoing) {
	p.calls.mu.Lock()
	delete(p.calls.placing, o)
	p.calls.mu.Unlock()
	p.calls.placed.Done()
}

// outgoing is an INVITE on its way: its transaction, and the early dialog
// its reliable provisional responses set up (RFC 3262).
type outgoing struct {
	p   *Peer
	req *sip.Request
	cfg callConfig
	log *zap.Logger
	tx  sip.ClientTransaction

	early    *dialog // of the last reliable provisional, for PRACK
	lastRSeq uint32
	answered bool // a provisional came: CANCEL may go (RFC 3261 §9.1)
}

// run sends the INVITE, answering a 401/407 once with the credentials,
// until a final response. It returns the 2xx, or the error Call returns.
func (o *outgoing) run(ctx context.Context) (*sip.Response, error) {
	p := o.p
	cred := p.credentials()
	if cred != nil && p.server() != "" {
		if _, err := cred.authorize(ctx, o.req, nil); err != nil {
			return nil, err
		}
	}
	for attempt := 0; ; attempt++ {
		res, err := o.transaction(ctx)
		if err != nil {
			return nil, err
		}
		if res.StatusCode >= 200 && res.StatusCode < 300 {
			return res, nil
		}
		o.tx.Terminate()
		if (res.StatusCode != 401 && res.StatusCode != 407) || cred == nil || attempt == 2 {
			return nil, statusError(o.req, res)
		}
		ok, err := cred.authorize(ctx, o.req, res)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, statusError(o.req, res)
		}
		o.req.CSeq().SeqNo++
		o.req.RemoveHeader("Via")
	}
}

// transaction runs one INVITE transaction to its final response, sending
// PRACK for reliable provisionals and CANCEL when ctx ends.
func (o *outgoing) transaction(ctx context.Context) (*sip.Response, error) {
	tctx, cancel := context.WithTimeout(ctx, o.p.conf.timeout) // bounds the connection setup only
	tx, err := o.p.client.TransactionRequest(tctx, o.req)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("ua: INVITE %s: %w", o.req.Recipient.String(), err)
	}
	o.tx = tx
	// Without any answer (not even 100) for the transaction timeout the
	// callee is unreachable; sipgo's Timer B would wait 32 s.
	silence := time.NewTimer(o.p.conf.timeout)
	defer silence.Stop()
	for {
		select {
		case res := <-tx.Responses():
			silence.Stop()
			o.answered = true
			if res.IsProvisional() {
				o.provisional(ctx, res)
				continue
			}
			return res, nil
		case <-tx.Done():
			if err := tx.Err(); err != nil {
				return nil, fmt.Errorf("ua: INVITE %s: %w", o.req.Recipient.String(), err)
			}
			return nil, fmt.Errorf("ua: INVITE %s: transaction ended without an answer", o.req.Recipient.String())
		case <-silence.C:
			tx.Terminate()
			return nil, fmt.Errorf("ua: INVITE %s: %w", o.req.Recipient.String(), context.DeadlineExceeded)
		case <-ctx.Done():
			return nil, o.cancel(context.Cause(ctx))
		}
	}
}

// provisional handles a 1xx: tells the application, and PRACKs a reliable
// one (Require: 100rel with an RSeq, RFC 3262 §4) once.
func (o *outgoing) provisional(ctx context.Context, res *sip.Response) {
	if res.StatusCode > 100 && o.cfg.progress != nil {
		o.cfg.progress(res.StatusCode, res.Reason)
	}
	rseq, reliable := rseqOf(res)
	if !reliable || res.StatusCode == 100 || rseq <= o.lastRSeq && o.lastRSeq != 0 {
		return
	}
	if o.early == nil || o.early.remoteTag != toTag(res) {
		o.early = o.dialogOf(res)
	}
	o.lastRSeq = rseq
	pr := o.p.request(o.early, sip.PRACK, 0)
	// RFC 3262 §7.2: RAck is the RSeq, then the CSeq number and method of the INVITE.
	pr.AppendHeader(sip.NewHeader("RAck", fmt.Sprintf("%d %d INVITE", rseq, o.req.CSeq().SeqNo)))
	copyAuth(o.req, pr)
	pctx, cancel := context.WithTimeout(ctx, o.p.conf.timeout)
	defer cancel()
	pres, err := o.p.do(pctx, pr)
	o.early.sent(pr)
	switch {
	case err != nil:
		o.log.Debug("prack", zap.Error(err))
	case pres.StatusCode >= 300:
		o.log.Debug("prack refused", zap.Int("status", pres.StatusCode))
	}
}

// rseqOf reads the RSeq of a response that requires 100rel.
func rseqOf(res *sip.Response) (uint32, bool) {
	req := res.GetHeader("Require")
	rs := res.GetHeader("RSeq")
	if req == nil || rs == nil || !hasToken(req.Value(), "100rel") {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSpace(rs.Value()), 10, 32)
	if err != nil || n == 0 {
		return 0, false
	}
	return uint32(n), true
}

// hasToken says whether a comma-separated header value lists tok.
func hasToken(v, tok string) bool {
	for _, t := range strings.Split(v, ",") {
		if strings.EqualFold(strings.TrimSpace(t), tok) {
			return true
		}
	}
	return false
}

func toTag(res *sip.Response) string {
	t, _ := res.To().Params.Get("tag")
	return t
}

// dialogOf is the dialog a response to the INVITE makes (RFC 3261
// §12.1.2): its To tag, Contact as the remote target, the Record-Route
// reversed. Its CSeq goes on from the INVITE's and the early dialog's.
func (o *outgoing) dialogOf(res *sip.Response) *dialog {
	fromTag, _ := o.req.From().Params.Get("tag")
	d := &dialog{callID: o.req.CallID().Value(), localTag: fromTag, local: o.req.From().Address,
		remote: o.req.To().Address, remoteTag: toTag(res), remoteTarget: contactOf(res, o.req.Recipient),
		routes: routeSet(res, true), cseq: o.req.CSeq().SeqNo}
	if o.early != nil {
		o.early.mu.Lock()
		d.cseq = max(d.cseq, o.early.cseq)
		o.early.mu.Unlock()
	}
	return d
}

// reACK answers each retransmission of the 2xx with the ACK again, until
// the call ends or 64×T1 passed; then the transaction is let go.
func (o *outgoing) reACK(c *Call) {
	tx := o.tx
	tx.OnRetransmission(func(res *sip.Response) {
		if res.StatusCode >= 200 && res.StatusCode < 300 {
			c.ack(o.req)
		}
	})
	if !o.p.goLoop(func() {
		t := time.NewTimer(64 * sip.T1)
		defer t.Stop()
		select {
		case <-t.C:
		case <-c.done:
		case <-o.p.ctx.Done():
		}
		tx.Terminate()
	}) {
		tx.Terminate()
	}
}

// cancel cancels the INVITE (RFC 3261 §9.1) after ctx ended with cause:
// CANCEL once a provisional came, then the final answer (487) awaited for
// the transaction timeout (RFC 3261 allows 64×T1, but a caller who hung
// up should not wait 32 s). An answer that still came as 2xx is
// acknowledged and hung up.
func (o *outgoing) cancel(cause error) error {
	defer o.tx.Terminate()
	bound := time.NewTimer(o.p.conf.timeout)
	defer bound.Stop()
	if !o.answered { // RFC 3261 §9.1: no CANCEL before a provisional response
		select {
		case res := <-o.tx.Responses():
			if !res.IsProvisional() {
				return o.finalAfterCancel(cause, res)
			}
		case <-o.tx.Done():
			return cause
		case <-bound.C:
			return cause
		}
	}
	cr := sip.NewRequest(sip.CANCEL, o.req.Recipient)
	cr.AppendHeader(sip.HeaderClone(o.req.Via())) // the INVITE's top Via: same branch (RFC 3261 §9.1)
	for _, name := range []string{"From", "To", "Call-ID", "Route", "Max-Forwards"} {
		for _, h := range o.req.GetHeaders(name) {
			cr.AppendHeader(sip.HeaderClone(h))
		}
	}
	cr.AppendHeader(&sip.CSeqHeader{SeqNo: o.req.CSeq().SeqNo, MethodName: sip.CANCEL})
	copyAuth(o.req, cr)
	cr.SetTransport(o.req.Transport())
	cr.SetDestination(o.req.Destination())
	cr.Laddr = o.req.Laddr
	cctx, ccancel := context.WithTimeout(context.Background(), o.p.conf.timeout)
	res, err := o.p.client.Do(cctx, cr)
	ccancel()
	if err != nil {
		o.log.Debug("cancel", zap.Error(err))
	} else if res.StatusCode != 200 {
		o.log.Debug("cancel refused", zap.Int("status", res.StatusCode))
	}
	for {
		select {
		case res := <-o.tx.Responses():
			if res.IsProvisional() {
				continue
			}
			return o.finalAfterCancel(cause, res)
		case <-o.tx.Done():
			return cause
		case <-bound.C:
			return cause
		}
	}
}

// finalAfterCancel is what Call returns for the final answer res that came
// after it gave up; a 2xx (the callee answered as we cancelled) is
// acknowledged and ended with a BYE.
func (o *outgoing) finalAfterCancel(cause error, res *sip.Response) error {
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		c := o.p.newCall(o.dialogOf(res), 0, true, false)
		c.ack(o.req)
		ctx, cancel := context.WithTimeout(context.Background(), o.p.conf.timeout)
		_ = c.Hangup(ctx)
		cancel()
		return cause
	}
	return errors.Join(cause, statusError(o.req, res))
}
