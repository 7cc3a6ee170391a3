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
	custom     []byte                   // the application's SDP (WithSDP); nil: the SDK's
	remoteSDP  []byte                   // the other side's last SDP (RemoteSDP)
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
	c.p.dialogs.Delete(c.d.callID)
	c.p.calls.mu.Lock()
	delete(c.p.calls.active, c.d.callID)
	last := len(c.p.calls.active) == 0
	c.p.calls.mu.Unlock()
	close(c.done) // after: once Done, InCall says so too
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
	c.mu.Lock()
	c.gotSDPLocked(res.Body())
	c.mu.Unlock()
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
	if c.custom != nil {
		return customSDP(c.custom, c.version, dir)
	}
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
