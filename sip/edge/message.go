package edge

import (
	"errors"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/messaging"
	"github.com/b2bua/b2bua/actors/registrar"
	"github.com/b2bua/b2bua/sip/status"
)

// errNoMessaging answers MESSAGE on an edge built without the messaging
// kind (tests that start the registrar alone).
var errNoMessaging = status.New(status.NotImplemented, "Messaging Not Served")

// message turns an out-of-dialog MESSAGE (RFC 3428) into
// messaging.Message for the box of its Request-URI's AOR, which forks
// it to the user's contacts or stores it, and answers through w: 200
// (delivered), 202 (stored), a contact's refusal, or an error.
func (s *Server) message(req *sip.Request, w responder) {
	if s.msgs == nil {
		s.fail(req, w, errNoMessaging)
		return
	}
	m, err := s.toMessage(req)
	if err != nil {
		s.fail(req, w, err)
		return
	}
	if !s.admitForward(w) {
		s.overloaded(req, w)
		return
	}
	m.Reply = func(r *messaging.Result) { s.messaged(req, w, r) }
	s.msgs.Message(m)
}

func (s *Server) toMessage(req *sip.Request) (*messaging.Message, error) {
	aor, err := s.presentityOf(req) // the Request-URI names the recipient
	if err != nil {
		return nil, err
	}
	var hops uint32
	if mf := req.MaxForwards(); mf != nil {
		if mf.Val() == 0 { // RFC 3261 §16.3 step 3
			return nil, registrar.ErrTooManyHops
		}
		hops = mf.Val() - 1
	}
	m := &messaging.Message{AOR: aor, From: req.From().Value(), To: req.To().Value(), CallID: req.CallID().Value(),
		CSeq: req.CSeq().SeqNo, Branch: branchOf(req), Date: headerValue(req, "date"), Body: req.Body(), Hops: hops}
	if ct := req.ContentType(); ct != nil {
		m.ContentType = ct.Value()
	}
	return m, nil
}

// messaged answers a MESSAGE from its box's result.
func (s *Server) messaged(req *sip.Request, w responder, r *messaging.Result) {
	if errors.Is(r.Err, messaging.ErrInProgress) {
		// A retransmission: the original's answer is on its way. The box
		// asks for one 100 Trying to a late copy (RFC 4320 §4.1).
		if r.Trying { // no To tag: a 100 is no answer of the UAS (RFC 3261 §8.2.6.1)
			res := sip.NewResponseFromRequest(req, sip.StatusTrying, "Trying", nil)
			res.AppendHeader(s.server)
			w.respond(res)
			return
		}
		w.respond(nil)
		return
	}
	if r.Err != nil {
		s.fail(req, w, r.Err)
		return
	}
	var res *sip.Response
	switch r.Outcome {
	case messaging.Delivered:
		res = s.response(req, status.OK, status.Reason(status.OK))
	case messaging.Stored:
		res = s.response(req, status.Accepted, status.Reason(status.Accepted))
	default: // Refused: the contacts' best answer, relayed as OPTIONS' is
		code, reason := relayStatus(r.Response.StatusCode, r.Response.Reason)
		res = s.response(req, code, reason)
	}
	if ce := s.log.Check(zap.DebugLevel, "message answered"); ce != nil {
		ce.Write(zap.String("method", "MESSAGE"), callIDField(req), zap.Int("status", res.StatusCode))
	}
	w.respond(res)
}
