package edge

import (
	"errors"
	"strconv"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/dialog"
	"github.com/b2bua/b2bua/actors/presence"
	"github.com/b2bua/b2bua/actors/registrar"
	"github.com/b2bua/b2bua/auth"
	"github.com/b2bua/b2bua/sip/status"
)

// onTx is the sipgo handler for requests that come through a server
// transaction. It answers before returning, as sipgo requires.
func (s *Server) onTx(req *sip.Request, tx sip.ServerTransaction) {
	t := newTxResponder(tx, s.log)
	w := s.newAnswer(req, t)
	timeout := s.conf.ReplyTimeout
	_, inDialog := dialog.Incoming(req)
	switch {
	case req.Method == sip.INVITE && !inDialog: // a call: answered when someone picks up, or gives up
		timeout = s.conf.CallSetup
	case toUser(req) || req.Method == sip.MESSAGE || inDialog: // forwarded: the contact (or the other leg) has ClientTimeout to answer
		timeout += s.conf.ClientTimeout
	}
	s.handle(req, w)
	t.wait(timeout, w.expire)
	if req.Method == sip.BYE {
		// sipgo would keep the answered transaction 32 s (Timer J) to
		// absorb retransmissions: 64,000 BYEs at 2,000 calls/s, most of
		// a call server's heap. A BYE sent again after that finds no
		// dialog and gets 481, which its sender takes as the end of the
		// dialog all the same (RFC 3261 §15.1.1).
		tx.Terminate()
	}
}

// handle checks a request and dispatches it by the method table: to the
// dialog's owner when it is in a dialog, else to the method's handler.
func (s *Server) handle(req *sip.Request, w responder) {
	if req.IsAck() { // no response (RFC 3261 §17.2.1); sipgo hands ACK to onAck
		return
	}
	m := methods[req.Method]
	defer s.recoverHandler(req, w)
	if err := check(req); err != nil {
		s.fail(req, w, err)
		return
	}
	if m == nil { // RFC 3261 §8.2.1: method inspection comes first
		s.reply(req, w, status.MethodNotAllowed, status.Reason(status.MethodNotAllowed), sip.NewHeader("Allow", allow))
		return
	}
	// A request in a dialog we own is authorised by the dialog (whoever
	// holds its Call-ID and both tags is its party); one in no dialog of
	// ours gets 481 before any challenge.
	if id, ok := dialog.Incoming(req); ok && m.dialog {
		s.inDialog(req, id, w)
		return
	}
	if id, err := s.authenticate(req); err != nil {
		s.logAuth(req, "", id, err)
		s.fail(req, w, err)
		return
	}
	m.serve(s, req, w)
}

// response builds a response to req with our To tag (derived from the
// request, so a stateless retransmission gets the same one) and Server.
func (s *Server) response(req *sip.Request, code int, reason string) *sip.Response {
	hadTag := req.To() != nil && req.To().Params.Has("tag")
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	res.SipVersion = "SIP/2.0" // even to a SIP/3.0 request (505)
	if to := res.To(); to != nil && !hadTag {
		to.Params.Add("tag", toTag(req))
	}
	res.AppendHeader(s.server)
	return res
}

// fail answers req with the status err maps to, with the headers that
// status calls for.
func (s *Server) fail(req *sip.Request, w responder, err error) {
	code, reason := status.Of(err)
	extra := s.failHeaders(req, code, err)
	if code >= 500 {
		s.log.Error("request failed", zap.String("method", string(req.Method)), callIDField(req), zap.Int("status", code), zap.Error(err))
	} else if ce := s.log.Check(zap.DebugLevel, "request rejected"); ce != nil {
		ce.Write(zap.String("method", string(req.Method)), callIDField(req), zap.Int("status", code), zap.Error(err))
	}
	s.reply(req, w, code, reason, extra...)
}

// failHeaders are the headers the answer code to err carries after ours.
func (s *Server) failHeaders(req *sip.Request, code int, err error) []sip.Header {
	var brief *registrar.IntervalTooBriefError
	var require *requireError
	switch {
	case code == status.Unauthorized || errors.Is(err, auth.ErrInsufficientScope):
		if s.conf.Auth.enabled() {
			return s.conf.Auth.challenges(req, err)
		}
	case errors.As(err, &brief):
		return []sip.Header{sip.NewHeader("Min-Expires", strconv.Itoa(brief.MinExpires))}
	case errors.Is(err, presence.ErrBadEvent):
		return []sip.Header{sip.NewHeader("Allow-Events", allowEvents)}
	case errors.Is(err, errUnsupportedBody):
		return []sip.Header{sip.NewHeader("Accept", "application/pidf+xml")} // RFC 3261 §21.4.13
	case errors.Is(err, presence.ErrPublishRate), errors.Is(err, presence.ErrTooManyWatchers):
		return []sip.Header{sip.NewHeader("Retry-After", "1")}
	case errors.As(err, &require):
		hs := make([]sip.Header, 0, len(require.tags))
		for _, t := range require.tags {
			hs = append(hs, sip.NewHeader("Unsupported", t))
		}
		return hs
	}
	return nil
}

// reply answers req with code and reason, and extra after our headers:
// formatted straight into the send buffer when w takes that (startReply),
// else as a sip.Response.
func (s *Server) reply(req *sip.Request, w responder, code int, reason string, extra ...sip.Header) {
	if r, ok := s.startReply(w, code, reason); ok {
		for _, h := range extra {
			r.header(h)
		}
		r.send()
		return
	}
	res := s.response(req, code, reason)
	for _, h := range extra {
		res.AppendHeader(h)
	}
	w.respond(res)
}

func callIDField(req *sip.Request) zap.Field {
	if c := req.CallID(); c != nil {
		return zap.String("call_id", c.Value())
	}
	return zap.Skip()
}

// admit counts a request handed to an actor, unless MaxInFlight are
// already waiting for theirs. The answer releases the count when it is
// sent; on the stateless UDP path it is also queued for the listener's
// deadline, so an actor that never replies cannot hold it.
func (s *Server) admit(w responder) bool {
	if s.inflight.Add(1) > int64(s.conf.MaxInFlight) {
		s.inflight.Add(-1)
		return false
	}
	a := w.(*answer) // what onTx and the read filter hand every handler
	a.admitted = true
	if u, ok := a.next.(*udpResponder); ok {
		switch {
		case a.forwarded && u.forwards != nil: // the contact has ClientTimeout to answer, as in onTx
			u.forwards.add(a)
		case u.deadlines != nil:
			u.deadlines.add(a)
		}
	}
	return true
}

// admitForward is admit for a request forwarded to a contact: it also
// takes one of the forwards' own slots (forwardLimit), so forwards that
// wait on contacts which never answer, up to ClientTimeout each, cannot
// take the whole of MaxInFlight from REGISTER. The answer releases both.
func (s *Server) admitForward(w responder) bool {
	if s.forwarding.Add(1) > s.forwardLimit {
		s.forwarding.Add(-1)
		return false
	}
	a := w.(*answer)
	a.forwarded = true // before admit, which may hand a to a deadline list
	if !s.admit(w) {
		a.forwarded = false
		s.forwarding.Add(-1)
		return false
	}
	return true
}

// InFlight is the number of admitted requests not yet answered.
func (s *Server) InFlight() int64 { return s.inflight.Load() }

// Forwarding is the number of admitted requests forwarded to a contact and
// not yet answered; they are counted in InFlight too.
func (s *Server) Forwarding() int64 { return s.forwarding.Load() }

// overloaded answers 503 with Retry-After (RFC 3261 §21.5.4): the client
// tries again shortly, or another server.
func (s *Server) overloaded(req *sip.Request, w responder) {
	s.metrics.shed.Inc()
	if r, ok := s.startReply(w, status.ServiceUnavailable, "Overloaded"); ok { // cheap when shedding
		r.b = append(r.b, "Retry-After: 1\r\n"...)
		r.send()
		return
	}
	s.reply(req, w, status.ServiceUnavailable, "Overloaded", sip.NewHeader("Retry-After", "1"))
}

// recoverHandler turns a panic in a handler (a bug: handlers run on sipgo's
// read and transaction goroutines, where a panic would end the process)
// into a logged error and a 500.
func (s *Server) recoverHandler(req *sip.Request, w responder) {
	if r := recover(); r != nil {
		s.log.Error("handler panicked", zap.String("method", string(req.Method)), callIDField(req),
			zap.Any("panic", r), zap.Stack("stack"))
		w.respond(s.response(req, status.ServerInternalError, status.Reason(status.ServerInternalError)))
	}
}
