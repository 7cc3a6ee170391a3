package ua

// The requests the other side sends in a call's dialog, and the ACKs our
// 2xx wait for.

import (
	"context"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// onRequest serves a request in the call's dialog.
func (c *Call) onRequest(req *sip.Request, tx sip.ServerTransaction) {
	if !c.d.matches(req) {
		if req.Method != sip.ACK {
			c.p.respond(tx, req, 481, "Call/Transaction Does Not Exist")
		}
		return
	}
	if req.Method == sip.ACK {
		c.gotACK(req.CSeq().SeqNo)
		return
	}
	if !c.d.accept(req) { // RFC 3261 §12.2.2
		c.p.respond(tx, req, 500, "Server Internal Error", sip.NewHeader("Retry-After", "1"))
		return
	}
	switch req.Method {
	case sip.BYE:
		c.p.respond(tx, req, 200, "OK")
		c.end("remote hangup")
	case sip.INVITE:
		c.onReinvite(req, tx)
	case sip.UPDATE:
		c.onUpdate(req, tx)
	case sip.INFO:
		c.onInfo(req, tx)
	case sip.PRACK: // we send no reliable provisional to acknowledge (RFC 3262 §3)
		c.p.respond(tx, req, 481, "Call/Transaction Does Not Exist")
	default:
		c.p.respond(tx, req, 405, "Method Not Allowed", sip.NewHeader("Allow", allow))
	}
}

// answerOffer answers an offer in req (re-INVITE or UPDATE): it notes
// whether the other side holds us and returns our answer; nil when req
// has no offer. c.mu is held.
func (c *Call) answerOfferLocked(req *sip.Request) ([]byte, error) {
	if len(req.Body()) == 0 {
		return nil, nil
	}
	dir, err := sdpDirection(req.Body())
	if err != nil {
		return nil, err
	}
	c.held = holds(dir)
	c.gotSDPLocked(req.Body())
	return c.sdpLocked(answerDirection(dir, c.holding)), nil
}

// onReinvite answers a re-INVITE (RFC 3261 §14.2): 491 while our own is
// pending, 500 while our 2xx to the previous INVITE waits for its ACK,
// else 200 with our answer (or an offer, when it had none), retransmitted
// until its ACK.
func (c *Call) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	if !c.acked(sip.T1) { // RFC 3261 §14.2: our 2xx to the last INVITE still waits for its ACK
		c.p.respond(tx, req, 500, "Server Internal Error", sip.NewHeader("Retry-After", "1"))
		return
	}
	c.mu.Lock()
	if c.reinviting {
		c.mu.Unlock()
		c.p.respond(tx, req, 491, "Request Pending")
		return
	}
	body, err := c.answerOfferLocked(req)
	if body == nil && err == nil { // no offer: ours goes in the 200, the answer in the ACK
		body = c.sdpLocked(offerDirection(c.holding))
	}
	ackCh := make(chan struct{})
	seq := req.CSeq().SeqNo
	c.acks[seq] = ackCh
	c.mu.Unlock()
	if err != nil {
		c.mu.Lock()
		delete(c.acks, seq)
		c.mu.Unlock()
		c.p.respond(tx, req, 488, "Not Acceptable Here")
		return
	}
	c.d.refreshTarget(req)
	res := c.p.okWithSDP(req, c.d.localTag, body)
	if err := tx.Respond(res); err != nil {
		c.log.Debug("respond re-INVITE", zap.Error(err))
	}
	c.p.goLoop(func() {
		_ = c.awaitACK(c.p.ctx, res, seq, ackCh)
	})
}

// onUpdate answers an UPDATE (RFC 3311): 200, with our answer when it
// carried an offer.
func (c *Call) onUpdate(req *sip.Request, tx sip.ServerTransaction) {
	c.mu.Lock()
	body, err := c.answerOfferLocked(req)
	c.mu.Unlock()
	if err != nil {
		c.p.respond(tx, req, 488, "Not Acceptable Here")
		return
	}
	c.d.refreshTarget(req)
	var res *sip.Response
	if body != nil {
		res = c.p.okWithSDP(req, c.d.localTag, body)
	} else {
		res = sip.NewResponseFromRequest(req, 200, "OK", nil)
		res.AppendHeader(c.p.contact())
	}
	if err := tx.Respond(res); err != nil {
		c.log.Debug("respond UPDATE", zap.Error(err))
	}
}

// onInfo answers an INFO: 200, and a dtmf-relay digit goes to DTMF. Other
// bodies are accepted and ignored (RFC 6086 would answer 469 for an
// unknown package; the relay predates packages). The digit is queued
// before the 200 goes: a sender waits for it before the next digit, and
// sipgo runs each request on its own goroutine, so the order holds.
func (c *Call) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	defer c.p.respond(tx, req, 200, "OK")
	ct := req.ContentType()
	if ct == nil || !strings.EqualFold(strings.TrimSpace(strings.Split(ct.Value(), ";")[0]), ctDTMFRelay) {
		return
	}
	d, _, ok := parseDTMFRelay(req.Body())
	if !ok {
		return
	}
	for {
		select {
		case c.dtmf <- d:
			return
		default:
		}
		select {
		case <-c.dtmf: // drop the oldest
		default:
		}
	}
}

// okWithSDP is the 200 OK to an INVITE or UPDATE, carrying body.
func (p *Peer) okWithSDP(req *sip.Request, localTag string, body []byte) *sip.Response {
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.To().Params.Add("tag", localTag) // sipgo put a tag of its own there
	res.AppendHeader(p.contact())
	res.AppendHeader(sip.NewHeader("Allow", allow))
	res.AppendHeader(sip.NewHeader("Content-Type", ctSDP))
	res.SetBody(body)
	return res
}

// acked waits up to d for the ACKs our 2xx still wait for. sipgo serves
// each request on its own goroutine, so an ACK sent before the next
// re-INVITE may be handled after it.
func (c *Call) acked(d time.Duration) bool {
	c.mu.Lock()
	pending := make([]chan struct{}, 0, len(c.acks))
	for _, ch := range c.acks {
		pending = append(pending, ch)
	}
	c.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	for _, ch := range pending {
		select {
		case <-ch:
		case <-t.C:
			return false
		}
	}
	return true
}

// gotACK ends the wait for the ACK of our 2xx to the INVITE of CSeq seq.
func (c *Call) gotACK(seq uint32) {
	c.mu.Lock()
	ch := c.acks[seq]
	delete(c.acks, seq)
	c.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}

// awaitACK waits for the ACK of our 2xx res. On UDP the 2xx is sent again
// at T1, 2×T1, … up to T2 until the ACK comes (RFC 3261 §13.3.1.4); with
// none after 64×T1 the call is hung up and ErrNoACK returned.
func (c *Call) awaitACK(ctx context.Context, res *sip.Response, seq uint32, ackCh chan struct{}) error {
	defer func() {
		c.mu.Lock()
		delete(c.acks, seq)
		c.mu.Unlock()
	}()
	wait := sip.T1
	t := time.NewTimer(wait)
	defer t.Stop()
	giveUp := time.NewTimer(64 * sip.T1)
	defer giveUp.Stop()
	for {
		select {
		case <-ackCh:
			return nil
		case <-c.done:
			return ErrCallEnded
		case <-t.C:
			if c.p.network == "udp" {
				if err := c.p.srv.WriteResponse(res); err != nil {
					c.log.Debug("2xx retransmission", zap.Error(err))
				}
			}
			wait = min(2*wait, sip.T2)
			t.Reset(wait)
		case <-giveUp.C:
			c.log.Warn("no ACK for 200 OK: hanging up")
			hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.p.conf.timeout)
			_ = c.Hangup(hctx)
			cancel()
			return ErrNoACK
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
