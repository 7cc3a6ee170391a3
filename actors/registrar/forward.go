package registrar

import (
	"net"
	"slices"
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
	out, err := forwardRequest(f.Request, live[0], f.Local) // live is in q-value order
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

// maxForwards is the most hops a forwarded request may still take: the
// initial value RFC 3261 §8.1.1.6 recommends. §16.6 step 3 lets a proxy
// lower Max-Forwards, and we do, so a loop (or a sender's 4294967295)
// ends after at most 70 hops instead of taking every slot.
const maxForwards = 70

// forwardRequest is the copy of req sent to binding b: Request-URI set to
// the contact, a route through the binding's Path (RFC 3327 §5.3), sent to
// the contact or, when it is behind a NAT, to the address the REGISTER
// came from (Flow), and
// without the Via stack, which the port starts anew: the server is the
// client of this new transaction, and without the sender's credentials.
// Max-Forwards is min(received-1, 70) (70 when absent), in a header of its
// own: Clone shares the original's *sip.MaxForwardsHeader, so decrementing
// it in place would change req too. A req with Max-Forwards 0 is
// ErrTooManyHops (§16.3 step 3), and a copy that would come back to one of
// local (our listeners' host:port, as HostPort writes them) is ErrLoop.
// req is not changed.
func forwardRequest(req *sip.Request, b Binding, local []string) (*sip.Request, error) {
	var uri sip.Uri
	if err := sip.ParseUri(b.Contact, &uri); err != nil || uri.Host == "" { // sipgo takes "sip:" for a URI
		return nil, ErrNoContact
	}
	hops := uint32(maxForwards)
	if mf := req.MaxForwards(); mf != nil {
		if mf.Val() == 0 {
			return nil, ErrTooManyHops
		}
		hops = min(mf.Val()-1, maxForwards)
	}
	out := req.Clone()
	// Clone fixes the destination and transport the original would have
	// been sent with (its own Route or Request-URI: this server). Cleared,
	// sipgo derives them from the copy's Route (the Path) or Request-URI.
	out.SetDestination("")
	out.SetTransport("")
	out.Recipient = uri
	// The sender's credentials were for us, who checked them; passed on,
	// they would let the contact act as the sender (RFC 3261 §22.3).
	removeHeaders(out, "Via", "Route", "Max-Forwards", "Authorization", "Proxy-Authorization")
	for _, p := range b.Path {
		out.AppendHeader(sip.NewHeader("Route", p))
	}
	mf := sip.MaxForwardsHeader(hops)
	out.AppendHeader(&mf)
	if network, addr, ok := Flow(&uri, b.Source, b.Path); ok {
		out.SetTransport(strings.ToUpper(network))
		out.SetDestination(addr)
	}
	if loops(out, local) {
		return nil, ErrLoop
	}
	return out, nil
}

// removeHeaders removes every header field of r named one of names, in
// whatever case it came: sipgo keeps the names of header fields it does
// not parse as sent, and its RemoveHeader compares them exactly and
// removes the first match only.
func removeHeaders(r *sip.Request, names ...string) {
	for {
		found := ""
		for _, h := range r.Headers() {
			if slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(h.Name(), n) }) {
				found = h.Name()
				break
			}
		}
		if found == "" || !r.RemoveHeader(found) {
			return
		}
	}
}

// loops reports whether out would reach us again: the address it is sent
// to (the REGISTER's source, else its first Route, else its Request-URI)
// or its Request-URI names one of local. The Request-URI counts even when
// the request is sent elsewhere: should it come back to us by whatever
// way, it would be forwarded again as an OPTIONS to one of our users.
func loops(out *sip.Request, local []string) bool {
	if len(local) == 0 {
		return false
	}
	if slices.Contains(local, uriHostPort(&out.Recipient)) {
		return true
	}
	host, port, err := net.SplitHostPort(out.Destination())
	if err != nil {
		return false
	}
	p, err := strconv.Atoi(port)
	return err == nil && slices.Contains(local, HostPort(host, p))
}

// uriHostPort is the host:port a SIP URI is sent to, with the default port
// of its scheme when it names none (RFC 3261 §19.1.2: 5061 for sips and
// TLS, else 5060).
func uriHostPort(u *sip.Uri) string {
	port := u.Port
	if port == 0 {
		port = 5060
		if t, _ := u.UriParams.Get("transport"); u.IsEncrypted() || strings.EqualFold(t, "tls") {
			port = 5061
		}
	}
	return HostPort(u.Host, port)
}

// HostPort is the form of a host:port that Forward.Local lists and that
// forwardRequest compares: lower-case host without IPv6 brackets, joined
// by net.JoinHostPort.
func HostPort(host string, port int) string {
	return net.JoinHostPort(strings.ToLower(strings.Trim(host, "[]")), strconv.Itoa(port))
}
