package ua

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// Call errors.
var (
	// ErrCallEnded: the call is over (a BYE either way, or Close).
	ErrCallEnded = errors.New("ua: call ended")
	// ErrCallCancelled: the caller cancelled the call before it was answered.
	ErrCallCancelled = errors.New("ua: call cancelled by the caller")
	// ErrNoACK: the caller never acknowledged our 200 OK (64×T1); the call was hung up.
	ErrNoACK = errors.New("ua: no ACK for 200 OK")
	// ErrBadDigit: SendDTMF was given something other than 0-9, *, #, A-D.
	ErrBadDigit = errors.New("ua: not a DTMF digit")
)

// dtmfQueue is how many received digits wait for the application; when
// it is full the oldest is dropped.
const dtmfQueue = 32

// Call is an established call (an INVITE dialog, RFC 3261 §12), placed
// by Call or answered by IncomingCall.Answer. Its methods are safe for
// concurrent use.
type Call struct {
	p   *Peer
	log *zap.Logger
	d   *dialog

	sessID uint64 // of our SDP's o= line
	caller bool   // we sent the INVITE: the Call-ID is ours (RFC 3261 §14.1)

	mu         sync.Mutex               // guards the fields below
	version    uint64                   // of our SDP, +1 per new offer or answer
	holding    bool                     // we put the call on hold (Hold)
	held       bool                     // the remote party put us on hold
	reinviting bool                     // our re-INVITE is pending: theirs gets 491 (RFC 3261 §14.2)
	acks       map[uint32]chan struct{} // our 2xx to their INVITE of this CSeq waits for its ACK
	ended      bool

	done chan struct{}
	dtmf chan rune
}

// calls is the call half of a Peer.
type calls struct {
	mu       sync.Mutex                            // guards the fields below
	active   map[string]*Call                      // by Call-ID
	placing  map[*outgoing]context.CancelCauseFunc // Calls not answered yet
	closed   bool                                  // Close began: no new Call
	placed   sync.WaitGroup                        // the Calls of placing
	incoming chan *IncomingCall
}

// incomingQueue is how many unanswered incoming calls wait for the
// application before new ones are answered 486.
const incomingQueue = 4

func (p *Peer) initCalls() {
	p.calls.active = map[string]*Call{}
	p.calls.placing = map[*outgoing]context.CancelCauseFunc{}
	p.calls.incoming = make(chan *IncomingCall, incomingQueue)
	p.handle(sip.INVITE, p.onInvite)
	p.handle(sip.CANCEL, func(req *sip.Request, tx sip.ServerTransaction) {
		p.respond(tx, req, 481, "Call/Transaction Does Not Exist") // sipgo answered those it knows
	})
	p.handle(sip.ACK, func(*sip.Request, sip.ServerTransaction) {}) // a stray ACK gets no answer
}

// newCall sets up an established call on dialog d and starts serving its
// in-dialog requests.
func (p *Peer) newCall(d *dialog, sessID uint64, caller, held bool) *Call {
	c := &Call{p: p, d: d, sessID: sessID, caller: caller, version: 1, held: held, acks: map[uint32]chan struct{}{},
		done: make(chan struct{}), dtmf: make(chan rune, dtmfQueue),
		log: p.log.With(zap.String("call_id", d.callID), zap.String("remote", d.remote.String()))}
	p.calls.mu.Lock()
	p.calls.active[d.callID] = c
	first := len(p.calls.active) == 1
	p.calls.mu.Unlock()
	p.dialogs.Store(d.callID, c.onRequest)
	if first {
		p.notifyDirect() // peer to peer, watchers see InCall
	}
	return c
}

// end marks the call over, once.
func (c *Call) end(why string) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended = true
	c.mu.Unlock()
	close(c.done)
	c.p.dialogs.Delete(c.d.callID)
	c.p.calls.mu.Lock()
	delete(c.p.calls.active, c.d.callID)
	last := len(c.p.calls.active) == 0
	c.p.calls.mu.Unlock()
	if last {
		c.p.notifyDirect()
	}
	c.log.Info("call ended", zap.String("reason", why))
}

// InCall says whether the peer has a call up.
func (p *Peer) InCall() bool {
	p.calls.mu.Lock()
	defer p.calls.mu.Unlock()
	return len(p.calls.active) > 0
}

// hangupAll cancels the calls being placed and ends every call with a BYE
// (Close), bounded by ctx.
func (p *Peer) hangupAll(ctx context.Context) {
	p.calls.mu.Lock()
	p.calls.closed = true
	for _, cancel := range p.calls.placing {
		cancel(ErrClosed)
	}
	p.calls.mu.Unlock()
	placed := make(chan struct{})
	go func() { p.calls.placed.Wait(); close(placed) }()
	select {
	case <-placed:
	case <-ctx.Done():
	}
	p.calls.mu.Lock()
	cs := make([]*Call, 0, len(p.calls.active))
	for _, c := range p.calls.active {
		cs = append(cs, c)
	}
	p.calls.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() { defer wg.Done(); _ = c.Hangup(ctx) }()
	}
	wg.Wait()
}

// CallID returns the call's Call-ID.
func (c *Call) CallID() string { return c.d.callID }

// Remote returns the other party's AOR.
func (c *Call) Remote() string { return normalizeAOR(c.d.remote.String()) }

// Done is closed when the call has ended, by either side.
func (c *Call) Done() <-chan struct{} { return c.done }

// DTMF yields the digits the other side sends by INFO
// (application/dtmf-relay). It holds 32; when it is full the oldest digit
// is dropped.
func (c *Call) DTMF() <-chan rune { return c.dtmf }

// Held says whether the other side has put us on hold: its last offer was
// sendonly or inactive (RFC 3264 §8.4).
func (c *Call) Held() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held
}

// Hangup ends the call with a BYE. The call is over whatever the answer;
// the error says the other side may not know (no answer, or a refusal
// other than 481, which means it had ended the call already).
func (c *Call) Hangup(ctx context.Context) error {
	select {
	case <-c.done:
		return nil
	default:
	}
	req := c.p.request(c.d, sip.BYE, 0)
	c.end("hangup")
	res, err := c.send(ctx, req)
	if err != nil {
		return err
	}
	if res.StatusCode >= 300 && res.StatusCode != 481 {
		return statusError(req, res)
	}
	return nil
}

// Hold puts the call on hold: a re-INVITE offering a=sendonly.
func (c *Call) Hold(ctx context.Context) error { return c.reinvite(ctx, true) }

// Resume takes the call off hold: a re-INVITE offering a=sendrecv.
func (c *Call) Resume(ctx context.Context) error { return c.reinvite(ctx, false) }

// reinvite offers the call again with us holding it or not. A 491 (glare)
// is retried once after a random wait (RFC 3261 §14.1): 2.1 to 4 s for
// the owner of the Call-ID (the caller), up to 2 s for the other side.
func (c *Call) reinvite(ctx context.Context, hold bool) error {
	for attempt := 0; ; attempt++ {
		err := c.reinviteOnce(ctx, hold)
		var se *StatusError
		if attempt > 0 || !errors.As(err, &se) || se.Code != 491 {
			return err
		}
		select {
		case <-time.After(glareWait(c.caller)):
		case <-ctx.Done():
			return ctx.Err()
		case <-c.done:
			return ErrCallEnded
		}
	}
}

// glareWait is how long to wait before a re-INVITE refused with 491 is
// sent again (RFC 3261 §14.1).
func glareWait(caller bool) time.Duration {
	if caller {
		return 2100*time.Millisecond + time.Duration(rand.Int64N(int64(1900*time.Millisecond)))
	}
	return time.Duration(rand.Int64N(int64(2 * time.Second)))
}

func (c *Call) reinviteOnce(ctx context.Context, hold bool) error {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return ErrCallEnded
	}
	if c.reinviting {
		c.mu.Unlock()
		return &StatusError{Method: "INVITE", Code: 491, Reason: "Request Pending"}
	}
	c.reinviting = true
	prevHolding := c.holding
	c.holding = hold
	offer := c.sdpLocked(offerDirection(hold))
	c.mu.Unlock()
	ok := false
	defer func() {
		c.mu.Lock()
		c.reinviting = false
		if !ok {
			c.holding = prevHolding
		}
		c.mu.Unlock()
	}()
	req := c.p.request(c.d, sip.INVITE, 0)
	req.AppendHeader(sip.NewHeader("Allow", allow))
	req.AppendHeader(sip.NewHeader("Content-Type", ctSDP))
	req.SetBody(offer)
	res, err := c.send(ctx, req)
	if err != nil {
		return err
	}
	if res.StatusCode < 200 || res.StatusCode >= 300 {
		if res.StatusCode == 481 || res.StatusCode == 408 { // RFC 3261 §12.2.1.2: the dialog is gone
			c.end(fmt.Sprintf("re-INVITE answered %d", res.StatusCode))
		}
		return statusError(req, res)
	}
	c.d.refreshTarget(res)
	c.ack(req)
	ok = true
	return nil
}

func offerDirection(hold bool) string {
	if hold {
		return dirSendOnly
	}
	return dirSendRecv
}

// sdpLocked is our next SDP, in direction dir. c.mu is held.
func (c *Call) sdpLocked(dir string) []byte {
	c.version++
	return buildSDP(c.p.contactHost(), c.p.conf.mediaPort, c.sessID, c.version, dir)
}

// ack sends the ACK of our INVITE req's 2xx (RFC 3261 §13.2.2.4): not
// through a transaction, with the INVITE's CSeq and credentials.
func (c *Call) ack(invite *sip.Request) {
	a := c.p.request(c.d, sip.ACK, invite.CSeq().SeqNo)
	copyAuth(invite, a)
	if err := c.p.client.WriteRequest(a); err != nil {
		c.log.Debug("ack", zap.Error(err))
	}
}

// copyAuth copies the credentials of req onto to.
func copyAuth(req, to *sip.Request) {
	for _, name := range []string{"Authorization", "Proxy-Authorization"} {
		for _, h := range req.GetHeaders(name) {
			to.AppendHeader(sip.HeaderClone(h))
		}
	}
}

// send runs an in-dialog request's transaction.
func (c *Call) send(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	res, err := c.p.send(ctx, req)
	c.d.sent(req)
	return res, err
}

// SendDTMF sends each digit (0-9, *, #, A-D) in its own INFO
// (application/dtmf-relay, Signal=5, Duration=160), one after the other.
func (c *Call) SendDTMF(ctx context.Context, digits string) error {
	digits = strings.ToUpper(digits)
	for _, r := range digits {
		if !validDigit(r) {
			return fmt.Errorf("%w: %q", ErrBadDigit, r)
		}
	}
	for _, r := range digits {
		select {
		case <-c.done:
			return ErrCallEnded
		default:
		}
		req := c.p.request(c.d, sip.INFO, 0)
		req.AppendHeader(sip.NewHeader("Content-Type", ctDTMFRelay))
		req.SetBody(formatDTMFRelay(r, dtmfDuration))
		res, err := c.send(ctx, req)
		if err != nil {
			return err
		}
		if res.StatusCode < 200 || res.StatusCode >= 300 {
			return statusError(req, res)
		}
	}
	return nil
}

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
	return c.sdpLocked(answerDirection(dir, c.holding)), nil
}

// onReinvite answers a re-INVITE (RFC 3261 §14.2): 491 while our own is
// pending, else 200 with our answer (or an offer, when it had none),
// retransmitted until its ACK.
func (c *Call) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
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
// unknown package; the relay predates packages).
func (c *Call) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	c.p.respond(tx, req, 200, "OK")
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
