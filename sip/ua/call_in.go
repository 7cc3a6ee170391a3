package ua

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// ringTimeout is how long an incoming call rings unanswered before the
// peer answers 480 itself.
const ringTimeout = 3 * time.Minute

// rejectACKWait bounds how long Reject waits for the ACK of its answer.
const rejectACKWait = 2 * time.Second

// IncomingCall is an INVITE to the peer, ringing (180 sent) until the
// application answers or rejects it, or the caller cancels.
type IncomingCall struct {
	From   string // AOR of the caller
	To     string // AOR called
	CallID string
	Offer  []byte // the caller's SDP offer; empty when it made none

	p        *Peer
	req      *sip.Request
	tx       sip.ServerTransaction
	localTag string
	log      *zap.Logger

	decide    chan decision // taken by the INVITE's handler
	cancelled chan struct{} // closed by the caller's CANCEL
	cancelOne sync.Once
	finished  chan struct{} // the INVITE has its final response
}

// decision is what the application did with an incoming call.
type decision struct {
	code  int    // 200 to answer
	sdp   []byte // the application's answer (WithSDP); nil: the SDK's
	reply chan decided
}

type decided struct {
	call *Call
	res  *sip.Response
	err  error
}

// IncomingCalls yields the calls to the peer. It holds 4; when it is
// full, a new INVITE is answered 486 Busy Here at once, so the SIP stack
// never waits for the application.
func (p *Peer) IncomingCalls() <-chan *IncomingCall { return p.calls.incoming }

// Cancelled is closed when the caller cancelled the call (CANCEL; the
// INVITE was answered 487).
func (ic *IncomingCall) Cancelled() <-chan struct{} { return ic.cancelled }

// Answer accepts the call: 200 OK with an SDP answer (an offer when the
// INVITE had none), then waits for the caller's ACK, sending the 200
// again on UDP until it comes (RFC 3261 §13.3.1.4). Without an ACK after
// 32 s the call is hung up and ErrNoACK returned. When ctx ends first
// the call is hung up too. WithSDP gives the SDP to answer with; the
// other options of Call do not apply.
func (ic *IncomingCall) Answer(ctx context.Context, opts ...CallOption) (*Call, error) {
	var cfg callConfig
	for _, o := range opts {
		o(&cfg)
	}
	d, err := ic.send(ctx, 200, cfg.sdp)
	if err != nil {
		return nil, err
	}
	c := d.call
	seq := ic.req.CSeq().SeqNo
	c.mu.Lock()
	ch := c.acks[seq]
	c.mu.Unlock()
	if ch == nil { // the ACK came already
		return c, nil
	}
	if err := c.awaitACK(ctx, d.res, seq, ch); err != nil {
		if ctx.Err() != nil {
			hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ic.p.conf.timeout)
			_ = c.Hangup(hctx)
			cancel()
		}
		return nil, err
	}
	return c, nil
}

// Reject refuses the call with code (486 Busy Here, 603 Decline, …;
// anything not in 300-699 becomes 603). It returns once the caller
// acknowledged the refusal, or after 2 s.
func (ic *IncomingCall) Reject(code int) error {
	if code < 300 || code > 699 {
		code = 603
	}
	_, err := ic.send(context.Background(), code, nil)
	return err
}

// send hands the decision to the INVITE's handler and waits for what it
// did.
func (ic *IncomingCall) send(ctx context.Context, code int, body []byte) (decided, error) {
	reply := make(chan decided, 1)
	select {
	case ic.decide <- decision{code: code, sdp: body, reply: reply}:
	case <-ic.cancelled:
		return decided{}, ErrCallCancelled
	case <-ic.finished:
		return decided{}, ErrCallEnded
	case <-ctx.Done():
		return decided{}, ctx.Err()
	}
	d := <-reply
	return d, d.err
}

// onInvite serves an INVITE out of a dialog: it queues the call for the
// application, rings (180), and holds the transaction until the
// application decides, the caller cancels, or ringTimeout (sipgo ends the
// transaction when the handler returns).
func (p *Peer) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	log := p.log.With(zap.String("call_id", req.CallID().Value()), zap.String("method", "INVITE"))
	if !strings.EqualFold(req.Recipient.User, p.aor.User) {
		p.respond(tx, req, 404, "Not Found")
		return
	}
	if _, ok := p.dialogs.Load(req.CallID().Value()); ok { // RFC 3261 §8.2.2.2: a merged request
		p.respond(tx, req, 482, "Loop Detected")
		return
	}
	if r := req.GetHeader("Require"); r != nil { // RFC 3261 §8.2.2.3: only 100rel is known
		for _, ext := range splitTokens(r.Value()) {
			if ext != "100rel" {
				p.respond(tx, req, 420, "Bad Extension", sip.NewHeader("Unsupported", ext))
				return
			}
		}
	}
	var offered string
	if len(req.Body()) > 0 {
		d, err := sdpDirection(req.Body())
		if err != nil {
			log.Info("bad offer", zap.Error(err))
			p.respond(tx, req, 488, "Not Acceptable Here")
			return
		}
		offered = d
	}
	ic := &IncomingCall{From: normalizeAOR(req.From().Address.String()), To: normalizeAOR(req.To().Address.String()),
		CallID: req.CallID().Value(), Offer: req.Body(), p: p, req: req, tx: tx, localTag: sip.GenerateTagN(16), log: log,
		decide: make(chan decision), cancelled: make(chan struct{}), finished: make(chan struct{})}
	defer close(ic.finished)
	if !tx.OnCancel(func(*sip.Request) { ic.cancel() }) {
		ic.cancel()
		return
	}
	select {
	case p.calls.incoming <- ic:
	default:
		log.Warn("incoming calls queue full: busy", zap.String("from", ic.From))
		p.respond(tx, req, 486, "Busy Here")
		return
	}
	ring := sip.NewResponseFromRequest(req, 180, "Ringing", nil)
	ring.To().Params.Add("tag", ic.localTag)
	ring.AppendHeader(p.contact())
	if err := tx.Respond(ring); err != nil {
		log.Debug("respond 180", zap.Error(err))
	}
	timer := time.NewTimer(ringTimeout)
	defer timer.Stop()
	select {
	case d := <-ic.decide:
		d.reply <- ic.decided(d.code, d.sdp, offered)
	case <-ic.cancelled: // sipgo answered 487
		log.Info("call cancelled by the caller")
	case <-timer.C:
		p.respond(tx, req, 480, "Temporarily Unavailable")
	case <-p.ctx.Done():
		p.respond(tx, req, 480, "Temporarily Unavailable")
	}
}

func (ic *IncomingCall) cancel() { ic.cancelOne.Do(func() { close(ic.cancelled) }) }

// decided carries out the application's decision on the INVITE.
func (ic *IncomingCall) decided(code int, custom []byte, offered string) decided {
	p, req := ic.p, ic.req
	if code != 200 {
		res := sip.NewResponseFromRequest(req, code, reasonPhrase(code), nil)
		res.To().Params.Add("tag", ic.localTag)
		if err := ic.tx.Respond(res); err != nil {
			return decided{err: fmt.Errorf("ua: reject: %w", err)}
		}
		ic.log.Info("call rejected", zap.Int("status", code))
		// Wait a little for the ACK, so that a peer closed right after
		// Reject still takes it (on TCP its connection would be gone).
		t := time.NewTimer(rejectACKWait)
		defer t.Stop()
		select {
		case <-ic.tx.Acks():
		case <-ic.tx.Done():
		case <-t.C:
		case <-p.ctx.Done():
		}
		return decided{}
	}
	fromTag, _ := req.From().Params.Get("tag")
	d := &dialog{callID: ic.CallID, localTag: ic.localTag, local: req.To().Address, remote: req.From().Address,
		remoteTag: fromTag, remoteTarget: contactOf(req, req.From().Address), routes: routeSet(req, false),
		cseq: rand.Uint32N(1 << 30), remoteCSeq: req.CSeq().SeqNo}
	sessID := rand.Uint64N(1 << 62)
	if custom != nil {
		sessID = sdpSessionID(custom)
	}
	c := p.newCall(d, sessID, false, holds(offered))
	c.mu.Lock()
	c.gotSDPLocked(req.Body())
	var body []byte
	switch {
	case custom != nil:
		c.custom, c.version, body = custom, sdpVersion(custom), custom
	case offered != "":
		body = c.sdpLocked(answerDirection(offered, false))
	default:
		body = c.sdpLocked(dirSendRecv) // a late offer: the answer comes in the ACK
	}
	ackCh := make(chan struct{})
	c.acks[req.CSeq().SeqNo] = ackCh
	c.mu.Unlock()
	res := p.okWithSDP(req, ic.localTag, body)
	if err := ic.tx.Respond(res); err != nil {
		c.end("200 OK not sent")
		return decided{err: fmt.Errorf("ua: answer: %w", err)}
	}
	c.log.Info("call answered", zap.String("from", ic.From))
	return decided{call: c, res: res}
}

// splitTokens splits a comma-separated header value into lower-case tokens.
func splitTokens(v string) []string {
	var out []string
	for _, t := range strings.Split(v, ",") {
		if t = strings.ToLower(strings.TrimSpace(t)); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// reasonPhrase is the reason of the rejection codes an application uses.
func reasonPhrase(code int) string {
	switch code {
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 480:
		return "Temporarily Unavailable"
	case 486:
		return "Busy Here"
	case 488:
		return "Not Acceptable Here"
	case 600:
		return "Busy Everywhere"
	case 603:
		return "Decline"
	}
	return "Rejected"
}
