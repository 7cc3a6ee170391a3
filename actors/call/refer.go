package call

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/dialog"
	"github.com/b2bua/b2bua/actors/outbound"
	"github.com/b2bua/b2bua/actors/shard"
	"github.com/b2bua/b2bua/media"
	"github.com/b2bua/b2bua/sip/status"
)

// Blind transfer (RFC 3515, RFC 5589 §6), done by the B2BUA itself rather
// than relayed: the transferor X sends REFER on its leg, the call answers
// 202, calls the Refer-To target (forking to a local user's contacts like
// the first INVITE, or through the outbound proxy) with the SDP of the
// transferee Y (the party on the other leg, who stays), and reports
// progress to X in NOTIFYs of message/sipfrag (RFC 3420). On the target's
// 2xx, Y is re-INVITEd with the target's SDP, the new leg takes X's place
// in the call and X gets BYE (unless it hung up already); a failed transfer
// leaves Y and X talking. Attended transfer (Refer-To with Replaces, RFC
// 3891) is in replaces.go.

var (
	// errReferTo answers a REFER without a usable Refer-To: 400.
	errReferTo = status.New(status.BadRequest, "Bad Refer-To")
	// errReferScheme answers a Refer-To that is not a SIP URI: 403 (we
	// only place SIP calls).
	errReferScheme = status.New(status.Forbidden, "Refer-To Not a SIP URI")
	// errReferMethod answers a Refer-To whose method is not INVITE
	// (RFC 3515 §2.4.2: a REFER for BYE, SUBSCRIBE...): 403.
	errReferMethod = status.New(status.Forbidden, "Only INVITE Is Referred")
	// errReferState answers a REFER outside an established call (early
	// dialog, call ending): 403.
	errReferState = status.New(status.Forbidden, "Transfer Not Allowed Now")
	// errReferForeign answers a REFER from a party of another domain to a
	// target of another domain: 403.
	errReferForeign = status.New(status.Forbidden, "Transfer Out Not Allowed")
	// errTransferring answers a REFER while a transfer is in progress (RFC
	// 3515 allows one subscription at a time here): 491.
	errTransferring = status.New(status.RequestPending, "Transfer In Progress")
)

// transfer is a blind transfer in progress.
type transfer struct {
	id         uint64  // names an attended transfer to the other call
	referrer   *legRef // X, who sent the REFER
	transferee *legRef // Y, who stays
	target     referTo
	aor        string // the target's AOR when a local user
	groups     [][]Contact
	forks      []*legRef
	finals     []*sip.Response
	timer      *time.Timer
	ringing    bool // the 180 went to X
	gone       bool // X hung up (BYE) during the transfer
}

// referState is what the call keeps about transfers: the one in progress
// and the ops whose results it waits for.
type referState struct {
	cur   *transfer
	after map[uint64]afterOp
}

// afterOp is what happens when the result of one of the transfer's own
// requests comes.
type afterOp struct {
	hangup   *legRef // the final NOTIFY to X: then X gets BYE
	ackLeg   *legRef // the re-INVITE of Y (the target offered in its 2xx): its answer goes in the target's ACK
	offerTo  *legRef // the re-INVITE of Y (attended): its answer goes to the target in a re-INVITE
	reinvite bool
}

// referLooked is the registrar's answer for a local transfer target.
type referLooked struct {
	x        *transfer
	contacts []Contact
	err      error
}

// transferNoAnswer fires when the transfer target rang for
// Config.NoAnswer (or the other call of an attended transfer did not
// answer).
type transferNoAnswer struct{ x *transfer }

// arm starts the transfer's own timer: not the call's (shard.Context has
// one timer per entity, which the call keeps for itself).
func (x *transfer) arm(sc *shard.Context, d time.Duration) {
	root, self := sc.ActorSystem().Root, sc.Self()
	x.timer = time.AfterFunc(d, func() { root.Send(self, &transferNoAnswer{x: x}) })
}

func (x *transfer) disarm() {
	if x.timer != nil {
		x.timer.Stop()
	}
}

// refer serves a REFER from leg from (an evRequest).
func (c *Call) refer(sc *shard.Context, from *legRef, ev *event) {
	fail := func(err error) {
		code, reason := status.Of(err)
		sc.Send(from.pid, &reply{op: ev.op, code: code, reason: reason})
	}
	if !c.answered || c.over || c.winner == nil || from != c.winner && !from.pid.Equal(c.a) {
		fail(errReferState)
		return
	}
	if c.xfer.cur != nil {
		fail(errTransferring)
		return
	}
	var values []string
	for _, name := range []string{"Refer-To", "r"} {
		for _, h := range ev.req.GetHeaders(name) {
			values = append(values, h.Value())
		}
	}
	rt, err := parseReferTo(values)
	var replaces dialog.ID
	if err == nil && rt.replaces != "" {
		replaces, err = parseReplaces(rt.replaces)
	}
	if err != nil {
		fail(err)
		return
	}
	y := c.peerOf(from)
	if y == nil || y.ended {
		fail(errNoPeer)
		return
	}
	aor, err := c.targetOf(&rt.uri)
	if err == nil && aor == "" && rt.replaces == "" && c.aorOf(from) == "" {
		// A REFER is authorised by its dialog alone: a party of another
		// domain must not make us call out through the outbound proxy.
		fail(errReferForeign)
		return
	}
	x := &transfer{referrer: from, transferee: y, target: rt, aor: aor}
	c.xfer.cur = x
	sc.Send(from.pid, &reply{op: ev.op, code: status.Accepted, reason: status.Reason(status.Accepted)})
	c.notify(sc, x, status.Trying, "Trying", false)
	if ce := c.log.Check(zap.DebugLevel, "call transfer"); ce != nil {
		ce.Write(zap.String("call_id", c.callID), zap.String("method", string(sip.REFER)), zap.String("aor", aor))
	}
	switch {
	case rt.replaces != "":
		c.attended(sc, x, replaces)
	case err != nil:
		code, reason := status.Of(err)
		c.transferFailed(sc, x, code, reason)
	case aor == "":
		c.transferContacts(sc, x, []Contact{{URI: rt.uri.String(), Q: -1}})
	default:
		root, self := sc.ActorSystem().Root, sc.Self()
		c.lookup(aor, func(cs []Contact, err error) { root.Send(self, &referLooked{x: x, contacts: cs, err: err}) })
	}
}

// targetOf resolves a transfer target: the AOR of a local user, or ""
// for another domain when the outbound proxy takes those.
func (c *Call) targetOf(u *sip.Uri) (string, error) {
	if c.setup != nil && c.setup.target != nil {
		return c.setup.target(u)
	}
	if c.conf.Outbound == "" {
		return "", ErrNotFound
	}
	return "", nil
}

// notify sends X a NOTIFY of the refer subscription with a sipfrag of
// code; the final one terminates the subscription (RFC 3515 §2.4.7) and
// returns its op.
func (c *Call) notify(sc *shard.Context, x *transfer, code int, reason string, final bool) uint64 {
	if x.gone || x.referrer.ended || c.over {
		return 0
	}
	state := "active;expires=60"
	if final {
		state = "terminated;reason=noresource"
	}
	c.nextOp++
	sc.Send(x.referrer.pid, &send{op: c.nextOp, method: sip.NOTIFY, body: sipfrag(code, reason), headers: []sip.Header{
		sip.NewHeader("Event", "refer"),
		sip.NewHeader("Subscription-State", state),
		sip.NewHeader("Content-Type", "message/sipfrag;version=2.0"),
	}})
	return c.nextOp
}

func (c *Call) referLooked(sc *shard.Context, m *referLooked) {
	if c.xfer.cur != m.x || c.over {
		return
	}
	switch {
	case m.err != nil:
		c.log.Warn("registrar lookup failed", zap.String("call_id", c.callID), zap.String("aor", m.x.aor), zap.Error(m.err))
		c.transferFailed(sc, m.x, status.ServerInternalError, "")
	case len(m.contacts) == 0:
		if c.known != nil && !c.known(m.x.aor) {
			c.transferFailed(sc, m.x, status.NotFound, "")
		} else {
			c.transferFailed(sc, m.x, status.TemporarilyUnavail, "")
		}
	default:
		c.transferContacts(sc, m.x, m.contacts)
	}
}

// transferContacts forks the transfer to cs by q, as the first INVITE.
func (c *Call) transferContacts(sc *shard.Context, x *transfer, cs []Contact) {
	x.groups = byQ(cs)
	x.arm(sc, c.conf.NoAnswer)
	c.transferGroup(sc, x)
}

// byQ groups contacts by q, the highest first (RFC 3261 §16.6).
func byQ(cs []Contact) [][]Contact {
	cs = slices.Clone(cs)
	slices.SortStableFunc(cs, func(x, y Contact) int { return cmp.Compare(qOf(y), qOf(x)) })
	var out [][]Contact
	for i := 0; i < len(cs); {
		j := i + 1
		for j < len(cs) && qOf(cs[j]) == qOf(cs[i]) {
			j++
		}
		out = append(out, cs[i:j])
		i = j
	}
	return out
}

// transferGroup starts the forks of the next q group of the transfer, or
// reports its failure when none is left.
func (c *Call) transferGroup(sc *shard.Context, x *transfer) {
	for len(x.groups) > 0 {
		g := x.groups[0]
		x.groups = x.groups[1:]
		n := 0
		for _, ct := range g {
			req, d, err := c.transferRequest(x, ct)
			if err != nil {
				c.log.Debug("contact skipped", zap.String("call_id", c.callID), zap.String("contact", ct.URI), zap.Error(err))
				continue
			}
			ms, mpid := c.newMedia(sc, media.Callee, "t"+strconv.Itoa(len(c.legs)))
			if ms != nil && len(req.Body()) > 0 {
				if err := ms.Prepare(req.Body()); err != nil {
					sc.Stop(mpid)
					c.log.Info("transfer contact skipped: media", zap.String("call_id", c.callID), zap.Error(err))
					continue
				}
			}
			pid := c.spawn(sc, legStart{role: uac, contact: ct, req: req, d: d, media: ms})
			l := c.legs[pid.Id]
			l.who, l.mpid = x.target.uri, mpid
			x.forks = append(x.forks, l)
			n++
		}
		if n > 0 {
			return
		}
	}
	code, reason := status.TemporarilyUnavail, ""
	if res := outbound.Best(x.finals); res != nil {
		code, reason = res.StatusCode, res.Reason
	}
	c.transferFailed(sc, x, code, reason)
}

// transferRequest is the INVITE of the new leg toward contact ct of the
// transfer target: a dialog of its own, from the transferee's identity to
// the Refer-To, offering the transferee's session description, Referred-By
// the transferor (RFC 3892).
func (c *Call) transferRequest(x *transfer, ct Contact) (*sip.Request, dlg, error) {
	var uri sip.Uri
	if err := sip.ParseUri(ct.URI, &uri); err != nil || uri.Host == "" {
		return nil, dlg{}, errors.New("call: unusable contact")
	}
	var d dlg
	d.target, d.source = uri, ct.Source
	d.routes = slices0(ct.Path)
	if x.aor == "" && c.conf.Outbound != "" {
		d.routes = append(d.routes, "<"+c.conf.Outbound+";lr>")
	}
	d.route(ct.Path)
	network := cmp.Or(d.network, "udp")
	local := c.local()
	d.contact = local(network)
	d.id.CallID, d.id.LocalTag = newCallID(strings.TrimPrefix(local("udp"), "sip:")), newTag()
	ident := c.identity(x.transferee)
	d.local, d.remote = party("", &ident), party("", &x.target.uri)
	req := sip.NewRequest(sip.INVITE, uri)
	d.fill(req, 1, sip.INVITE)
	who := c.identity(x.referrer)
	req.AppendHeader(sip.NewHeader("Referred-By", "<"+who.String()+">"))
	if body := c.sdpOf(x.transferee); len(body) > 0 {
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(body)
	}
	return req, d, nil
}

// local is the server's Contact URI for a transport.
func (c *Call) local() func(string) string {
	if c.setup != nil && c.setup.local != nil {
		return c.setup.local
	}
	return func(string) string { return "sip:localhost" }
}

// identity is the address of a leg's party: the caller's (A's From) for
// leg A, the callee's (A's To) for a fork, the Refer-To for a leg a
// transfer started.
func (c *Call) identity(l *legRef) sip.Uri {
	switch {
	case l.who.Host != "":
		return *l.who.Clone()
	case c.setup == nil:
		return sip.Uri{Scheme: "sip", Host: "localhost"}
	case l.pid.Equal(c.a):
		return *c.setup.from.Clone()
	default:
		return *c.setup.to.Clone()
	}
}

// sdpOf is the last session description a party sent: what the transfer
// offers the target on its behalf.
func (c *Call) sdpOf(l *legRef) []byte {
	if l.sdp != nil {
		return l.sdp
	}
	if l.pid.Equal(c.a) && c.setup != nil {
		return c.setup.body
	}
	return nil
}

// track remembers the session descriptions each party sends, in requests
// (INVITE, UPDATE, PRACK, ACK) and in responses to ours.
func (c *Call) track(l *legRef, ev *event) {
	var m message
	switch {
	case ev.req != nil:
		m = ev.req
	case ev.res != nil && (ev.kind != evResult || ev.res.CSeq() != nil && (ev.res.CSeq().MethodName == sip.INVITE || ev.res.CSeq().MethodName == sip.UPDATE)):
		m = ev.res
	default:
		return
	}
	if len(m.Body()) == 0 {
		return
	}
	if ct := headerNamed(m, "Content-Type"); ct == nil || !strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct.Value())), "application/sdp") {
		return
	}
	l.sdp = m.Body()
}

// transferEvent handles what a leg the transfer started reports while the
// transfer is in progress.
func (c *Call) transferEvent(sc *shard.Context, x *transfer, l *legRef, ev *event) {
	if c.over { // the call ended meanwhile (Y hung up): the forks were told to hang up
		x.disarm()
		switch ev.kind {
		case evEnded:
			l.ended = true
		case evAnswered:
			sc.Send(l.pid, &hangup{})
		}
		return
	}
	switch ev.kind {
	case evProvisional:
		if tag, _ := ev.res.To().Params.Get("tag"); tag != "" {
			l.early = true
		}
		if !x.ringing && ev.res.StatusCode >= 180 {
			x.ringing = true
			c.notify(sc, x, ev.res.StatusCode, ev.res.Reason, false)
		}
	case evAnswered:
		c.transferred(sc, x, l, ev.res)
	case evFailed:
		if ev.res != nil {
			x.finals = append(x.finals, ev.res)
			if ev.res.StatusCode >= 600 {
				x.groups = nil
				c.hangForks(sc, x, l)
			}
		}
	case evRequest:
		if ev.req.Method != sip.BYE { // early requests of the target: nobody to relay them to
			sc.Send(l.pid, &reply{op: ev.op, code: errNoPeer.Code, reason: errNoPeer.Phrase})
		}
	case evEnded:
		l.ended = true
		for _, f := range x.forks {
			if !f.ended {
				return
			}
		}
		c.transferGroup(sc, x)
	}
}

func (c *Call) hangForks(sc *shard.Context, x *transfer, keep *legRef) {
	for _, f := range x.forks {
		if f != keep && !f.ended {
			sc.Send(f.pid, &hangup{})
		}
	}
}

// transferFailed ends a transfer that did not reach its target: X hears
// why, and the call goes on between X and Y (or ends, if X hung up).
func (c *Call) transferFailed(sc *shard.Context, x *transfer, code int, reason string) {
	if c.xfer.cur != x {
		return
	}
	c.xfer.cur = nil
	x.disarm()
	c.hangForks(sc, x, nil)
	c.notify(sc, x, code, reason, true)
	c.log.Info("call transfer failed", zap.String("call_id", c.callID), zap.Int("status", code))
	if x.gone {
		c.end(sc)
	}
}

// transferred: the target answered. The other forks are cancelled, X
// hears 200 (then BYE), Y is re-INVITEd with the target's session
// description, and the new leg takes X's place.
func (c *Call) transferred(sc *shard.Context, x *transfer, l *legRef, res *sip.Response) {
	c.xfer.cur = nil
	x.disarm()
	c.hangForks(sc, x, l)
	if c.xfer.after == nil {
		c.xfer.after = map[uint64]afterOp{}
	}
	if op := c.notify(sc, x, res.StatusCode, res.Reason, true); op != 0 {
		c.xfer.after[op] = afterOp{hangup: x.referrer}
	} else if !x.referrer.ended {
		sc.Send(x.referrer.pid, &hangup{})
	}
	c.bridge(x.transferee, l) // the transferee hears the new party; the transferor's media is unlinked
	if x.transferee.media != nil && l.media != nil {
		l.media.Arm()
	}
	c.nextOp++
	after := afterOp{reinvite: true}
	switch {
	case x.target.replaces != "": // attended: Z gets Y's answer in a re-INVITE of its own
		after.offerTo = l
	case len(c.sdpOf(x.transferee)) == 0: // the target offered in its 2xx: Y's answer goes in its ACK
		after.ackLeg = l
	}
	c.xfer.after[c.nextOp] = after
	sc.Send(x.transferee.pid, &send{op: c.nextOp, method: sip.INVITE, body: res.Body(),
		headers: []sip.Header{sip.NewHeader("Content-Type", "application/sdp")}})
	var old string
	if x.referrer.pid.Equal(c.a) {
		c.a = l.pid
		old, c.caller = c.caller, x.aor
	} else {
		c.winner = l
		old, c.callee = c.callee, x.aor
	}
	c.presenceSwap(old, x.aor)
	c.log.Info("call transferred", zap.String("call_id", c.callID), zap.String("aor", x.aor))
}

// presenceSwap tells presence that old left the call and aor joined.
func (c *Call) presenceSwap(old, aor string) {
	if c.env.inCall == nil {
		return
	}
	if i := slices.Index(c.inCall, old); old != "" && i >= 0 {
		c.inCall = slices.Delete(c.inCall, i, i+1)
		c.env.inCall(old, c.callID, false)
	}
	if aor != "" {
		c.inCall = append(c.inCall, aor)
		c.env.inCall(aor, c.callID, true)
	}
}

// referEvent takes the events that belong to a transfer; false leaves the
// event to the call.
func (c *Call) referEvent(sc *shard.Context, l *legRef, ev *event) bool {
	c.track(l, ev)
	if ev.kind == evResult {
		a, ok := c.xfer.after[ev.op]
		if !ok {
			return false
		}
		delete(c.xfer.after, ev.op)
		switch {
		case a.hangup != nil && !a.hangup.ended:
			sc.Send(a.hangup.pid, &hangup{})
		case a.reinvite:
			switch {
			case ev.res == nil:
				c.log.Warn("transferee's re-INVITE failed", zap.String("call_id", c.callID), zap.Error(ev.err))
			case !ev.res.IsSuccess(): // the media may not flow: the transferee keeps the target's offer unanswered
				c.log.Warn("transferee refused the re-INVITE", zap.String("call_id", c.callID), zap.Int("status", ev.res.StatusCode))
			}
			if a.offerTo != nil && !a.offerTo.ended && ev.res != nil && ev.res.IsSuccess() {
				c.nextOp++
				c.xfer.after[c.nextOp] = afterOp{reinvite: true}
				sc.Send(a.offerTo.pid, &send{op: c.nextOp, method: sip.INVITE, body: ev.res.Body(),
					headers: []sip.Header{sip.NewHeader("Content-Type", "application/sdp")}})
			}
			if a.ackLeg != nil && !a.ackLeg.ended {
				var body []byte
				if ev.res != nil && ev.res.IsSuccess() {
					body = ev.res.Body()
				}
				sc.Send(a.ackLeg.pid, &ackWith{body: body})
			}
		}
		return true
	}
	x := c.xfer.cur
	if x == nil {
		return false
	}
	if slices.Contains(x.forks, l) {
		c.transferEvent(sc, x, l, ev)
		return true
	}
	if l != x.referrer {
		return false
	}
	switch ev.kind {
	case evRequest:
		if ev.req.Method == sip.BYE { // X leaves: the transfer goes on (RFC 5589 §6)
			x.gone = true
			return true
		}
	case evEnded:
		l.ended = true
		x.gone = true
		return true
	}
	return false
}

// transferTimeout: the target did not answer in time.
func (c *Call) transferTimeout(sc *shard.Context, m *transferNoAnswer) {
	switch {
	case c.xfer.cur != m.x:
	case m.x.target.replaces != "": // the dialog's owner never answered: not a call of ours
		c.transferFailed(sc, m.x, errNoReplaced.Code, errNoReplaced.Phrase)
	default:
		c.transferFailed(sc, m.x, status.TemporarilyUnavail, "No Answer")
	}
}
