package edge

import (
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/b2bua/b2bua/actors/registrar"
	"github.com/b2bua/b2bua/sip/status"
)

// options answers an OPTIONS aimed at this server with what it can do
// (RFC 3261 §11.2): Allow, Accept, Supported. One aimed at a user of our
// domain is forwarded to the user's contact (forward).
func (s *Server) options(req *sip.Request, w responder) {
	if !s.isLocal(req.Recipient.Host) && !s.isDomain(req.Recipient.Host) {
		s.fail(req, w, status.New(status.NotFound, "Domain Not Served"))
		return
	}
	if toUser(req) {
		s.forward(req, w)
		return
	}
	res := s.response(req, status.OK, status.Reason(status.OK))
	res.AppendHeader(sip.NewHeader("Allow", allow))
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp, application/pidf+xml"))
	res.AppendHeader(sip.NewHeader("Allow-Events", allowEvents))
	res.AppendHeader(sip.NewHeader("Supported", strings.Join(supported, ", ")))
	res.AppendHeader(sip.NewHeader("Accept-Language", "en"))
	w.respond(res)
}

// forward sends an OPTIONS for sip:user@domain to the user's registration
// actor, which forwards it to the best contact through the client port and
// replies with the contact's final response or an error: ErrNoContact
// (480), outbound.ErrTimeout (408), outbound.ErrTransport (480: the user
// cannot be reached now; never 503, which would blame this server),
// registrar.ErrLoop (482: the contact points back at us).
func (s *Server) forward(req *sip.Request, w responder) {
	host := strings.ToLower(req.Recipient.Host)
	if !s.isDomain(host) { // one of our addresses: AORs are in the domain's name
		host = strings.ToLower(s.conf.Domain)
	}
	u := sip.Uri{Scheme: "sip", User: req.Recipient.User, Host: host}
	aor, err := aorOf(&u)
	if err != nil {
		s.fail(req, w, err)
		return
	}
	if mf := req.MaxForwards(); mf != nil && mf.Val() == 0 {
		// RFC 3261 §16.3 step 3: never forwarded with Max-Forwards 0.
		// forwardRequest says so too; this spares the actor the trip.
		s.fail(req, w, registrar.ErrTooManyHops)
		return
	}
	if !s.admitForward(w) {
		s.overloaded(req, w)
		return
	}
	s.reg.Forward(&registrar.Forward{AOR: aor, Request: req, Local: s.local, Reply: func(r *registrar.ForwardResult) {
		s.relay(req, w, r)
	}})
}

// relayed are the header fields of a contact's answer to OPTIONS that the
// sender gets (RFC 3261 §11.2): what the contact supports and the body's
// type. Via, tags, Contact and the contact's routing stay on its side.
var relayed = []string{"Allow", "Accept", "Accept-Encoding", "Accept-Language", "Allow-Events", "Supported", "Content-Type", "Content-Disposition", "Content-Language"}

// relay answers the original OPTIONS with the contact's final response.
func (s *Server) relay(req *sip.Request, w responder, r *registrar.ForwardResult) {
	if r.Err != nil {
		s.fail(req, w, r.Err)
		return
	}
	code, reason := relayStatus(r.Response.StatusCode, r.Response.Reason)
	res := s.response(req, code, reason)
	for _, name := range relayed {
		for _, h := range r.Response.GetHeaders(name) {
			res.AppendHeader(sip.NewHeader(name, h.Value()))
		}
	}
	if body := r.Response.Body(); len(body) > 0 {
		res.SetBody(body)
	}
	w.respond(res)
}

// relayStatus is the status a relayed response goes upstream with: a 503
// of the contact becomes 500, since it says the contact is unavailable,
// not this server, and the sender must not take it for the latter (RFC
// 3261 §16.7 step 6).
func relayStatus(code int, reason string) (int, string) {
	if code == status.ServiceUnavailable {
		return status.ServerInternalError, status.Reason(status.ServerInternalError)
	}
	return code, reason
}
