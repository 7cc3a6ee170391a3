package registrar

import (
	"net"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/emiago/sipgo/sip"

	"github.com/b2bua/b2bua/actors/outbound"
	"github.com/b2bua/b2bua/actors/shard"
)

// forward sends a copy of f.Request to the best live contact through the
// outbound port; the answer arrives later as *outbound.Result.
func (a *Actor) forward(c *shard.Context, f *Forward) {
	live := unexpired(a.bindings, a.conf.now())
	if len(live) == 0 || a.port == nil {
		f.answer(&ForwardResult{Err: ErrNoContact})
		return
	}
	out, err := forwardRequest(f.Request, live[0]) // live is in q-value order
	if err != nil {
		f.answer(&ForwardResult{Err: err})
		return
	}
	id := forwardIDs.Add(1)
	if a.forwards == nil {
		a.forwards = map[uint64]*Forward{}
	}
	a.forwards[id] = f
	a.port.Send(out, c.Self(), id)
}

// Abandon implements shard.Abandoner: the forwards still out, and the
// retransmissions waiting for a write, are answered with err when this
// instance ends (their results would come back to the next one).
func (a *Actor) Abandon(err error) {
	for id, f := range a.forwards {
		f.answer(&ForwardResult{Err: err})
		delete(a.forwards, id)
	}
	for _, r := range a.waiting {
		r.answer(&RegisterResult{Err: err, Now: a.conf.now()})
	}
	a.waiting = nil
}

// forwardIDs numbers every forward of the process: a result that comes
// back to a restarted actor (same PID, new instance) can never be taken
// for one of the new instance's forwards.
var forwardIDs atomic.Uint64

// forwarded answers the Forward that id belongs to.
func (a *Actor) forwarded(c *shard.Context, r *outbound.Result) {
	f, ok := a.forwards[r.ID]
	if !ok {
		return
	}
	delete(a.forwards, r.ID)
	f.answer(&ForwardResult{Response: r.Response, Err: r.Err})
}

// forwardRequest is the copy of req sent to binding b: Request-URI set to
// the contact, a route through the binding's Path (RFC 3327 §5.3), sent to
// the address the REGISTER came from (the contact may be behind NAT), and
// without the Via stack, which the port starts anew: the server is the
// client of this new transaction.
func forwardRequest(req *sip.Request, b Binding) (*sip.Request, error) {
	var uri sip.Uri
	if err := sip.ParseUri(b.Contact, &uri); err != nil {
		return nil, ErrNoContact
	}
	out := req.Clone()
	out.Recipient = uri
	out.RemoveHeader("Via")
	out.RemoveHeader("Route")
	for _, p := range b.Path {
		out.AppendHeader(sip.NewHeader("Route", p))
	}
	if mf := out.MaxForwards(); mf != nil && *mf > 0 {
		mf.Dec()
	}
	if network, addr, ok := strings.Cut(b.Source, ":"); ok && len(b.Path) == 0 {
		if _, port, err := net.SplitHostPort(addr); err == nil {
			if _, err := strconv.Atoi(port); err == nil {
				out.SetTransport(strings.ToUpper(network))
				out.SetDestination(addr)
			}
		}
	}
	return out, nil
}
