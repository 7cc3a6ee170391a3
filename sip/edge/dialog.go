package edge

import (
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/dialog"
	"github.com/b2bua/b2bua/sip/status"
)

// inDialog sends a request with a To tag to the actor owning its dialog
// (RFC 3261 §12.2.2), which answers through Reply; a dialog nobody owns
// gets 481.
func (s *Server) inDialog(req *sip.Request, id dialog.ID, w responder) {
	if _, ok := s.dialogs.Owner(id); !ok {
		s.fail(req, w, dialog.ErrNoDialog)
		return
	}
	if !s.admit(w) {
		s.overloaded(req, w)
		return
	}
	m := &dialog.Request{ID: id, Request: req, Reply: func(r *dialog.Reply) { s.dialogReplied(req, w, r) }}
	if err := s.dialogs.Send(m); err != nil { // removed since the look-up
		s.fail(req, w, err)
	}
}

// dialogReplied turns the owner's reply into the response.
func (s *Server) dialogReplied(req *sip.Request, w responder, r *dialog.Reply) {
	if r.Err != nil {
		s.fail(req, w, r.Err)
		return
	}
	reason := r.Reason
	if reason == "" {
		reason = status.Reason(r.Code)
	}
	res := s.response(req, r.Code, reason)
	for _, h := range r.Headers {
		res.AppendHeader(h)
	}
	if len(r.Body) > 0 {
		res.SetBody(r.Body)
	}
	w.respond(res)
}

// onAck is sipgo's handler for an ACK that matches no server transaction:
// the ACK of a 2xx, which belongs to the dialog (RFC 3261 §13.2.2.4) and
// goes to its owner. It gets no response; one for no dialog is dropped.
func (s *Server) onAck(req *sip.Request, _ sip.ServerTransaction) {
	id, ok := dialog.Incoming(req)
	if !ok {
		return
	}
	s.acked(req)
	if err := s.dialogs.Send(&dialog.Request{ID: id, Request: req}); err != nil {
		if ce := s.log.Check(zap.DebugLevel, "ACK for no dialog"); ce != nil {
			ce.Write(zap.String("method", string(req.Method)), callIDField(req))
		}
	}
}
