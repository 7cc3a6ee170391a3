package edge

import (
	"errors"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/registrar"
	"github.com/b2bua/b2bua/sip/status"
)

// register turns a REGISTER into registrar.Register and sends it to the
// AOR's registration actor, which answers through w.
func (s *Server) register(req *sip.Request, w responder) {
	msg, err := s.toRegister(req, sourceOf(req, w))
	if err != nil {
		s.fail(req, w, err)
		return
	}
	if !s.admit(w) {
		s.overloaded(req, w)
		return
	}
	msg.Reply = func(res *registrar.RegisterResult) { s.registered(req, w, msg.AOR, res) }
	s.reg.Register(msg)
}

// toRegister checks RFC 3261 §10.3 steps 1–5 (steps 6–8 belong to the
// registration actor) and builds the actor's message, from source
// ("transport:host:port").
func (s *Server) toRegister(req *sip.Request, source string) (*registrar.Register, error) {
	if !s.isLocal(req.Recipient.Host) {
		return nil, status.New(status.NotFound, "Domain Not Served")
	}
	aor, err := aorOf(&req.To().Address)
	if err != nil {
		return nil, err
	}
	if !s.isDomain(req.To().Address.Host) {
		return nil, status.New(status.Forbidden, "Foreign Domain")
	}
	// The message and room for its first contact in one allocation: most
	// REGISTERs carry one Contact.
	m := &struct {
		msg registrar.Register
		one [1]registrar.Contact
	}{}
	contacts, wildcard, err := appendContacts(m.one[:0], req)
	if err != nil {
		return nil, err
	}
	if len(contacts) == 0 {
		contacts = nil // as contactsOf gives it
	}
	expires, err := expiresHeader(req)
	if err != nil {
		return nil, err
	}
	m.msg = registrar.Register{
		AOR: aor, Contacts: contacts, Wildcard: wildcard, Expires: expires,
		CallID: req.CallID().Value(), CSeq: req.CSeq().SeqNo, Branch: branchOf(req),
		Path: headerValues(req, "path"), Source: source,
		UA: headerValue(req, "user-agent"),
	}
	return &m.msg, nil
}

// registered answers a REGISTER from the registration actor's result: 200
// with every current binding and its remaining expires (step 8).
func (s *Server) registered(req *sip.Request, w responder, aor registrar.AOR, r *registrar.RegisterResult) {
	if errors.Is(r.Err, registrar.ErrInProgress) {
		w.respond(nil) // a retransmission: the original's answer is on its way
		return
	}
	if r.Err != nil {
		s.fail(req, w, r.Err)
		return
	}
	if ce := s.log.Check(zap.DebugLevel, "registered"); ce != nil {
		ce.Write(zap.String("aor", string(aor)), zap.String("call_id", req.CallID().Value()), zap.Int("bindings", len(r.Bindings)))
	}
	if raw, ok := s.startReply(w, status.OK, status.Reason(status.OK)); ok {
		raw.b = appendRegistered(raw.b, req, r)
		raw.send()
		return
	}
	res := s.response(req, status.OK, status.Reason(status.OK))
	for _, b := range r.Bindings {
		res.AppendHeader(sip.NewHeader("Contact", contactValue(b, r.Now)))
	}
	paths := false
	for p := range headersNamed(req, "path") { // RFC 3327 §5.3: the registrar echoes Path
		res.AppendHeader(sip.NewHeader("Path", p.Value()))
		paths = true
	}
	if paths {
		res.AppendHeader(sip.NewHeader("Supported", "path"))
	}
	res.AppendHeader(sip.NewHeader("Date", string(appendDate(nil, r.Now))))
	w.respond(res)
}

// appendRegistered appends the header lines of the 200 to a REGISTER that
// follow ours, as registered adds them to a sip.Response: a Contact per
// binding, the request's Path and Supported: path, Date.
func appendRegistered(b []byte, req *sip.Request, r *registrar.RegisterResult) []byte {
	for _, bd := range r.Bindings {
		b = append(b, "Contact: "...)
		b = appendContact(b, bd, r.Now)
		b = append(b, crlf...)
	}
	paths := false
	for p := range headersNamed(req, "path") { // none without a request (registeredLight)
		b = append(b, "Path: "...)
		b = append(b, p.Value()...)
		b = append(b, crlf...)
		paths = true
	}
	if paths {
		b = append(b, "Supported: path\r\n"...)
	}
	b = append(b, "Date: "...)
	b = appendDate(b, r.Now)
	return append(b, crlf...)
}

// appendDate appends now as a Date header's value (RFC 3261 §20.17:
// RFC 1123 in GMT).
func appendDate(b []byte, now time.Time) []byte {
	b = now.UTC().AppendFormat(b, "Mon, 02 Jan 2006 15:04:05")
	return append(b, " GMT"...)
}

// sourceOf is where req came from, as "transport:host:port": the UDP
// read loop formatted it already (takeUDP).
func sourceOf(req *sip.Request, w responder) string {
	if a, ok := w.(*answer); ok {
		if u, ok := a.next.(*udpResponder); ok && u.source != "" {
			return u.source
		}
	}
	return req.Transport() + ":" + req.Source()
}

// headerValue is the value of the first header called lower (a lower-case
// name), "" when there is none.
func headerValue(req *sip.Request, lower string) string {
	if h := headerNamed(req, lower); h != nil {
		return h.Value()
	}
	return ""
}

// headerValues are the values of every header called lower (a lower-case
// name), nil when there is none.
func headerValues(req *sip.Request, lower string) []string {
	var out []string
	for h := range headersNamed(req, lower) {
		out = append(out, h.Value())
	}
	return out
}
