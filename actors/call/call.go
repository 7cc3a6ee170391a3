package call

import (
	"bytes"
	"errors"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/outbound"
	"github.com/b2bua/b2bua/actors/shard"
	"github.com/b2bua/b2bua/media"
	"github.com/b2bua/b2bua/sip/status"
)

var (
	// ErrMerged answers an INVITE whose Call-ID and From tag belong to a
	// call already in progress (RFC 3261 §8.2.2.2): 482.
	ErrMerged = status.New(status.LoopDetected, "Merged Request")
	// ErrNotFound answers a call to a user this server does not know: 404.
	ErrNotFound = status.New(status.NotFound, "Not Found")
	// errLookup answers a call whose callee's contacts could not be read.
	errLookup = errors.New("call: registrar lookup failed")
)

// Call is the B2BUA call: leg A toward the caller, one leg B per fork
// toward the callee's contacts, and what bridges them. It is a shard
// entity keyed by leg A's Call-ID and From tag; its legs are child actors.
// It never passivates: it is busy from the INVITE until every leg ended,
// then empty, and its shard stops it.
type Call struct {
	*env
	callID         string
	inv            *Invite    // until A gets a final response
	setup          *origin    // what a transfer's new leg is built from, for good
	a              *actor.PID // leg A
	legs           map[string]*legRef
	order          []*legRef // forks in the order started
	groups         [][]Contact
	winner         *legRef
	finals         []*sip.Response // final non-2xx answers of the forks
	errs           []error
	noOffer        bool // A's INVITE had no SDP: B's 2xx offers, A's ACK answers
	answered, over bool
	caller, callee string   // AORs of local parties (presence)
	inCall         []string // AORs told InCall
	ops            map[uint64]pending
	nextOp         uint64
	started        bool
	xfer           referState // blind transfers (refer.go)
}

// origin is what a transfer needs of A's INVITE for the call's whole life:
// the parties' addresses, A's offer and the edge's resolvers. Not the
// Invite itself: with the request and the edge's server transaction it
// would keep about 4 KB in every idle call (see README.md, Memory).
type origin struct {
	from, to sip.Uri // A's From and To addresses
	body     []byte  // A's offer
	local    func(network string) string
	target   func(u *sip.Uri) (aor string, err error)
}

func originOf(m *Invite) *origin {
	o := &origin{body: bytes.Clone(m.Request.Body()), local: m.Local, target: m.Target}
	if f := m.Request.From(); f != nil {
		o.from = *f.Address.Clone()
	}
	if t := m.Request.To(); t != nil {
		o.to = *t.Address.Clone()
	}
	return o
}

// legRef is the call's view of one leg.
type legRef struct {
	pid   *actor.PID
	ended bool
	early bool    // a provisional with a tag came (an early dialog)
	sdp   []byte  // the party's last session description (a transfer offers it)
	who   sip.Uri // the party's address, for a leg a transfer started
	media *media.Session
	mpid  *actor.PID // media leg
	idle  bool       // its endpoint is silent (media.go)
}

// pending is a request relayed from one leg, waiting for the other's
// answer.
type pending struct {
	from *actor.PID
	op   uint64 // the request's op on from
	req  *sip.Request
}

// looked is the registrar's answer to the callee lookup.
type looked struct {
	contacts []Contact
	err      error
}

// noAnswer fires when the callee's contacts rang for Config.NoAnswer.
type noAnswer struct{}

func newCall(e *env) *Call {
	return &Call{env: e, legs: map[string]*legRef{}, ops: map[uint64]pending{}}
}

// Empty implements shard.Entity: a call that ended (or never began) holds
// nothing.
func (c *Call) Empty() bool { return !c.started || c.over && c.live() == 0 }

// Busy implements shard.Entity: a call is busy until every leg ended.
func (c *Call) Busy() bool { return c.started && !(c.over && c.live() == 0) }

func (c *Call) live() int {
	n := 0
	for _, l := range c.legs {
		if !l.ended {
			n++
		}
	}
	return n
}

// Abandon implements shard.Abandoner: the call's actor restarts (a panic)
// or stops. Its legs are stopped with it and tear their dialogs down
// themselves (leg.teardown); A's INVITE, if unanswered, gets 500.
func (c *Call) Abandon(err error) {
	if c.started && !(c.over && c.live() == 0) {
		c.log.Warn("call abandoned, legs torn down", zap.String("call_id", c.callID), zap.Error(err))
	}
	if c.inv != nil {
		c.inv.Tx.Fail(err)
	}
	c.presence(false)
}

func (c *Call) Receive(sc *shard.Context, msg any) {
	switch m := msg.(type) {
	case *shard.Activate:
	case *Invite:
		c.invite(sc, m)
	case *looked:
		c.looked(sc, m)
	case *event:
		c.event(sc, m)
	case *Cancel:
		c.cancel(sc)
	case *replace:
		c.replaceAsked(sc, m)
	case *handedOver:
		c.handedOver(sc, m)
	case *referLooked:
		c.referLooked(sc, m)
	case *transferNoAnswer:
		c.transferTimeout(sc, m)
	case *mediaIdle:
		c.mediaIdle(sc, m)
	case *noAnswer:
		if !c.answered && !c.over {
			c.log.Debug("no answer", zap.String("call_id", c.callID))
			c.fail(sc, status.TemporarilyUnavail, "No Answer")
		}
	}
}

// ---- setting up ----

func (c *Call) invite(sc *shard.Context, m *Invite) {
	if c.started {
		m.Fail(ErrMerged)
		return
	}
	if !m.Claim() {
		return
	}
	c.started, c.inv, c.setup, c.callID = true, m, originOf(m), m.Request.CallID().Value()
	c.caller, c.callee = m.Caller, m.Callee
	c.noOffer = len(m.Request.Body()) == 0
	trying := sip.NewResponseFromRequest(m.Request, status.Trying, "Trying", nil)
	trying.To().Params.Remove("tag") // a 100 makes no dialog (RFC 3261 §8.2.6.1)
	m.Tx.Respond(trying)
	ms, mpid := c.newMedia(sc, media.Caller, "a")
	c.a = c.spawn(sc, legStart{role: uas, inv: m, media: ms})
	c.legs[c.a.Id].mpid = mpid
	if r := c.screen(m.Request); r != nil { // bad SDP, 415, 422: before any fork
		c.respondA(sc, r)
		c.end(sc)
		return
	}
	if ms != nil && !c.noOffer {
		if err := ms.Prepare(m.Request.Body()); err != nil { // no ports: 503 before anyone rings
			c.log.Info("call refused: media", zap.String("call_id", c.callID), zap.Error(err))
			c.respondA(sc, mediaRespond(err))
			c.end(sc)
			return
		}
	}
	sc.SetTimer(time.Now().Add(c.conf.NoAnswer), &noAnswer{})
	if m.Callee == "" {
		c.looked(sc, &looked{contacts: []Contact{{URI: m.Request.Recipient.String(), Q: -1}}})
		return
	}
	root, self := sc.ActorSystem().Root, sc.Self()
	c.lookup(m.Callee, func(cs []Contact, err error) { root.Send(self, &looked{contacts: cs, err: err}) })
}

func (c *Call) spawn(sc *shard.Context, s legStart) *actor.PID {
	pid := sc.SpawnChild()
	sc.Send(pid, &s) // its first message: Started is a system message and comes before
	c.legs[pid.Id] = &legRef{pid: pid, media: s.media}
	return pid
}

// looked forks the call to the callee's contacts, the highest q first
// (RFC 3261 §16.6: a group of equal q in parallel, the next group when
// every fork of one failed).
func (c *Call) looked(sc *shard.Context, m *looked) {
	if c.over {
		return
	}
	switch {
	case m.err != nil:
		c.log.Warn("registrar lookup failed", zap.String("call_id", c.callID), zap.String("aor", c.callee), zap.Error(m.err))
		c.failErr(sc, errLookup)
		return
	case len(m.contacts) == 0:
		if c.known != nil && !c.known(c.callee) {
			c.failErr(sc, ErrNotFound)
		} else {
			c.fail(sc, status.TemporarilyUnavail, "")
		}
		return
	}
	c.groups = byQ(m.contacts)
	c.nextGroup(sc)
}

// qOf is a contact's q × 1000; one without q counts as 1.0 (RFC 3261
// §16.6 leaves it to the proxy).
func qOf(ct Contact) int16 {
	if ct.Q < 0 {
		return 1000
	}
	return ct.Q
}

// nextGroup starts the forks of the next q group, or answers A with the
// best final response when none is left.
func (c *Call) nextGroup(sc *shard.Context) {
	for len(c.groups) > 0 {
		g := c.groups[0]
		c.groups = c.groups[1:]
		n := 0
		for _, ct := range g {
			req, d, err := c.legRequest(ct)
			if err != nil {
				c.log.Debug("contact skipped", zap.String("call_id", c.callID), zap.String("contact", ct.URI), zap.Error(err))
				continue
			}
			ms, mpid := c.newMedia(sc, media.Callee, "b"+strconv.Itoa(len(c.order)+1))
			if ms != nil && len(req.Body()) > 0 {
				if err := ms.Prepare(req.Body()); err != nil { // no ports for this fork: it fails as our overload (finish: 503)
					sc.Stop(mpid)
					c.errs = append(c.errs, err)
					continue
				}
			}
			l := c.legs[c.spawn(sc, legStart{role: uac, contact: ct, req: req, d: d, media: ms}).Id]
			l.mpid = mpid
			c.order = append(c.order, l)
			n++
		}
		if n > 0 {
			return
		}
	}
	c.finish(sc)
}

// forksLeft reports whether a fork is still ringing.
func (c *Call) forksLeft() bool {
	for _, f := range c.order {
		if !f.ended {
			return true
		}
	}
	return false
}

// finish answers A once every fork failed: the best response (RFC 3261
// §16.7 step 6), 408 when every fork timed out, 480 when none answered
// at all.
func (c *Call) finish(sc *shard.Context) {
	if c.answered || c.over {
		return
	}
	if res := outbound.Best(c.finals); res != nil {
		code, reason := res.StatusCode, res.Reason
		if code == status.ServiceUnavailable { // §16.7: a 503 is not passed upstream
			code, reason = status.ServerInternalError, status.Reason(status.ServerInternalError)
		}
		c.respondA(sc, &respond{code: code, reason: reason, headers: c.conf.carried(res, "")})
		c.end(sc)
		return
	}
	for _, err := range c.errs {
		if errors.Is(err, outbound.ErrTimeout) {
			c.fail(sc, status.RequestTimeout, "")
			return
		}
	}
	for _, err := range c.errs {
		if errors.Is(err, media.ErrExhausted) {
			c.respondA(sc, mediaRespond(err))
			c.end(sc)
			return
		}
		if errors.Is(err, outbound.ErrUnavailable) {
			// This server could not send the INVITE (too many in flight,
			// or shutting down): our own overload, not the callee's
			// state. 503 with Retry-After, as the edge sheds (RFC 3261
			// §21.5.4).
			c.respondA(sc, &respond{code: status.ServiceUnavailable, reason: "Overloaded", headers: []sip.Header{sip.NewHeader("Retry-After", "1")}})
			c.end(sc)
			return
		}
	}
	c.fail(sc, status.TemporarilyUnavail, "")
}

// fail answers A with code and ends the call.
func (c *Call) fail(sc *shard.Context, code int, reason string) {
	c.respondA(sc, &respond{code: code, reason: reason})
	c.end(sc)
}

func (c *Call) failErr(sc *shard.Context, err error) {
	code, reason := status.Of(err)
	c.fail(sc, code, reason)
}

func (c *Call) respondA(sc *shard.Context, r *respond) {
	if r.code >= 200 {
		if c.inv == nil {
			return
		}
		c.inv = nil
	}
	sc.Send(c.a, r)
}

// end hangs up every leg still up; the call is over once they all ended.
func (c *Call) end(sc *shard.Context) {
	if c.over {
		return
	}
	c.over = true
	sc.StopTimer()
	for _, l := range c.legs {
		if !l.ended {
			sc.Send(l.pid, &hangup{})
		}
		c.stopMedia(sc, l) // media stops with the call, not with the last BYE's answer
	}
	c.presence(false)
}

// cancel is A's CANCEL: every fork is cancelled (the edge answered A).
func (c *Call) cancel(sc *shard.Context) {
	if c.answered || c.over {
		return
	}
	c.inv = nil // the edge sent 487
	c.end(sc)
}

// ---- what the legs report ----

func (c *Call) event(sc *shard.Context, ev *event) {
	l := c.legs[ev.leg.Id]
	if l == nil || c.referEvent(sc, l, ev) {
		return
	}
	switch ev.kind {
	case evProvisional:
		c.provisional(sc, l, ev.res)
	case evAnswered:
		c.answer(sc, l, ev.res)
	case evFailed:
		if ev.res != nil {
			c.finals = append(c.finals, ev.res)
			if ev.res.StatusCode >= 600 { // §16.7 step 6: no more forks
				c.groups = nil
				for _, f := range c.order {
					if f != l && !f.ended {
						sc.Send(f.pid, &hangup{})
					}
				}
			}
		} else {
			c.errs = append(c.errs, ev.err)
		}
	case evAck:
		if c.noOffer && c.winner != nil && l.pid.Equal(c.a) {
			c.noOffer = false
			sc.Send(c.winner.pid, &ackWith{body: ev.req.Body()})
		} else if p := c.peerOf(l); p != nil && !p.ended && len(ev.req.Body()) > 0 {
			sc.Send(p.pid, &ackWith{body: ev.req.Body()}) // the answer to a re-INVITE's 2xx offer (offer.go)
		}
	case evRequest:
		c.request(sc, l, ev)
	case evResult:
		c.result(sc, ev)
	case evEnded:
		c.ended(sc, l, ev.err)
	case evPrack:
		if p := c.peerOf(l); p != nil && !p.ended && !c.answered {
			sc.Send(p.pid, &prackWith{body: ev.req.Body()})
		}
	}
}

// provisional relays a fork's 180/183 to A, with its body (early media)
// and the headers that cross.
func (c *Call) provisional(sc *shard.Context, l *legRef, res *sip.Response) {
	if c.answered || c.over {
		return
	}
	if tag, _ := res.To().Params.Get("tag"); tag != "" {
		l.early = true
	}
	if len(res.Body()) > 0 { // early media: A hears this fork (the latest one that sent SDP)
		c.bridge(c.legs[c.a.Id], l)
	}
	c.respondA(sc, &respond{code: res.StatusCode, reason: res.Reason, headers: c.conf.carried(res, ""), body: res.Body()})
	if heldPrack(res, c.noOffer) && !c.reliableA() { // the caller cannot answer in a PRACK: the fork PRACKs bare
		sc.Send(l.pid, &prackWith{})
	}
}

// answer: the first 2xx wins; A gets it and the other forks CANCEL. A
// later 2xx of another fork is ACKed and hung up (RFC 3261 §16.7 step 5).
func (c *Call) answer(sc *shard.Context, l *legRef, res *sip.Response) {
	if c.answered || c.over {
		sc.Send(l.pid, &hangup{})
		return
	}
	c.answered, c.winner = true, l
	if a := c.legs[c.a.Id]; a.media != nil && l.media != nil {
		c.bridge(a, l)
		a.media.Arm()
		l.media.Arm()
	}
	c.groups, c.finals, c.errs = nil, nil, nil // no more forks: an idle call keeps none of it
	sc.StopTimer()
	for _, f := range c.order {
		if f != l && !f.ended {
			sc.Send(f.pid, &hangup{})
		}
	}
	c.respondA(sc, &respond{code: res.StatusCode, reason: res.Reason, headers: c.conf.carried(res, ""), body: res.Body()})
	c.presence(true)
	if ce := c.log.Check(zap.DebugLevel, "call answered"); ce != nil {
		ce.Write(zap.String("call_id", c.callID), zap.String("aor", c.callee))
	}
}

// ended: a leg is over. A fork that failed may be the last of its group
// (the next group starts, or A gets the best answer); leg A or the
// winner ending ends the call.
func (c *Call) ended(sc *shard.Context, l *legRef, why error) {
	l.ended = true
	c.stopMedia(sc, l)
	if why != nil {
		c.log.Info("call leg ended", zap.String("call_id", c.callID), zap.Error(why))
	}
	for op, p := range c.ops { // requests relayed to it get no answer now
		if p.from.Equal(l.pid) {
			delete(c.ops, op)
		}
	}
	switch {
	case l.pid.Equal(c.a), l == c.winner:
		c.end(sc)
	case !c.answered && !c.over && !c.forksLeft():
		c.nextGroup(sc)
	}
}

// presence tells the parties' presentities the call is up (or over).
func (c *Call) presence(in bool) {
	if c.inCall == nil && !in || c.env.inCall == nil {
		return
	}
	if in {
		for _, aor := range []string{c.caller, c.callee} {
			if aor != "" {
				c.inCall = append(c.inCall, aor)
				c.env.inCall(aor, c.callID, true)
			}
		}
		return
	}
	for _, aor := range c.inCall {
		c.env.inCall(aor, c.callID, false)
	}
	c.inCall = nil
}
