package call

import (
	"errors"
	"strings"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/outbound"
	"github.com/b2bua/b2bua/actors/shard"
	"github.com/b2bua/b2bua/sip/status"
)

// legRequest is the INVITE of a new leg B toward contact ct: a dialog of
// its own (new Call-ID, our From tag, CSeq 1, our Contact), the caller's
// and callee's identities, A's offer and the headers that cross, routed
// by the binding's Path, to the contact, or to its NAT flow
// (registrar.Flow); to the outbound proxy for a callee elsewhere.
func (c *Call) legRequest(ct Contact) (*sip.Request, dlg, error) {
	a := c.inv.Request
	var uri sip.Uri
	if err := sip.ParseUri(ct.URI, &uri); err != nil || uri.Host == "" {
		return nil, dlg{}, errors.New("call: unusable contact")
	}
	network := "udp"
	var d dlg
	d.target, d.source = uri, ct.Source
	d.routes = slices0(ct.Path)
	if c.inv.Callee == "" && c.conf.Outbound != "" { // the outbound proxy as first hop (loose route)
		d.routes = append(d.routes, "<"+c.conf.Outbound+";lr>")
	}
	d.route(ct.Path)
	if d.network != "" {
		network = d.network
	}
	d.contact = c.inv.Local(network)
	from := a.From()
	d.local = sip.FromHeader{DisplayName: from.DisplayName, Address: *from.Address.Clone(), Params: sip.NewParams()}
	d.id.CallID, d.id.LocalTag = newCallID(c.inv.Local("udp")[4:]), newTag()
	d.local.Params.Add("tag", d.id.LocalTag)
	to := a.To()
	d.remote = sip.ToHeader{DisplayName: to.DisplayName, Address: *to.Address.Clone(), Params: sip.NewParams()}
	req := sip.NewRequest(sip.INVITE, uri)
	d.fill(req, 1, sip.INVITE)
	if mf := a.MaxForwards(); mf != nil { // loops end (RFC 3261 §16.6 step 3)
		req.RemoveHeader("Max-Forwards")
		hops := sip.MaxForwardsHeader(max(int(mf.Val())-1, 0))
		req.AppendHeader(&hops)
	}
	if has(a, "Supported", "100rel") || has(a, "Require", "100rel") {
		req.AppendHeader(sip.NewHeader("Supported", "100rel"))
	}
	for _, h := range c.conf.carried(a, c.inv.Source) {
		req.AppendHeader(h)
	}
	req.SetBody(a.Body())
	return req, d, nil
}

func slices0(s []string) []string { return append([]string(nil), s...) }

// request handles an in-dialog request from one leg: BYE ends the call
// (the leg answered it); anything else is relayed to the other leg, whose
// answer comes back as the answer (re-INVITE, UPDATE, INFO, ...).
func (c *Call) request(sc *shard.Context, from *legRef, ev *event) {
	req := ev.req
	if req.Method == sip.BYE {
		c.end(sc)
		return
	}
	to := c.peerOf(from)
	if to == nil || to.ended {
		sc.Send(from.pid, &reply{op: ev.op, code: errNoPeer.Code, reason: errNoPeer.Phrase})
		return
	}
	c.nextOp++
	c.ops[c.nextOp] = pending{from: from.pid, op: ev.op, req: req}
	sc.Send(to.pid, &send{op: c.nextOp, method: req.Method, headers: c.conf.carried(req, ""), body: req.Body()})
}

// peerOf is the leg on the other side of l: the winner for leg A (or the
// one fork with an early dialog before the answer), leg A for a fork.
func (c *Call) peerOf(l *legRef) *legRef {
	if !l.pid.Equal(c.a) {
		if c.winner == l || !c.answered {
			return c.legs[c.a.Id]
		}
		return nil
	}
	if c.winner != nil {
		return c.winner
	}
	var early *legRef
	for _, f := range c.order {
		if f.early && !f.ended {
			if early != nil {
				return nil // several early dialogs: no single peer
			}
			early = f
		}
	}
	return early
}

// result relays the other leg's answer to a relayed request back.
func (c *Call) result(sc *shard.Context, ev *event) {
	p, ok := c.ops[ev.op]
	if !ok {
		return
	}
	delete(c.ops, ev.op)
	r := &reply{op: p.op}
	switch {
	case ev.res != nil:
		r.code, r.reason = ev.res.StatusCode, ev.res.Reason
		if r.code == status.ServiceUnavailable {
			r.code, r.reason = status.ServerInternalError, status.Reason(status.ServerInternalError)
		}
		r.headers = c.conf.carried(ev.res, "")
		r.body = ev.res.Body()
		if r.code == 491 && p.req.Method == sip.INVITE { // glare on the far leg: the near one retries later
			r.headers = append(r.headers, sip.NewHeader("Retry-After", "1"))
		}
	case errors.Is(ev.err, outbound.ErrTimeout):
		r.code = status.RequestTimeout
	default:
		r.code = status.ServerInternalError
		if ev.err != nil && strings.Contains(ev.err.Error(), "dialog") {
			r.code = status.NoSuchDialog
		}
	}
	if ce := c.log.Check(zap.DebugLevel, "in-dialog request relayed"); ce != nil {
		ce.Write(zap.String("call_id", c.callID), zap.String("method", string(p.req.Method)), zap.Int("status", r.code))
	}
	sc.Send(p.from, r)
}
