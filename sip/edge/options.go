package edge

import (
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/b2bua/b2bua/sip/status"
)

// options answers OPTIONS aimed at this server with what it can do
// (RFC 3261 §11.2): Allow, Accept, Supported.
func (s *Server) options(req *sip.Request, w responder) {
	if !s.isLocal(req.Recipient.Host) && !s.isDomain(req.Recipient.Host) {
		s.fail(req, w, status.New(status.NotFound, "Domain Not Served"))
		return
	}
	res := s.response(req, status.OK, status.Reason(status.OK))
	res.AppendHeader(sip.NewHeader("Allow", allow))
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	res.AppendHeader(sip.NewHeader("Supported", strings.Join(supported, ", ")))
	res.AppendHeader(sip.NewHeader("Accept-Language", "en"))
	w.respond(res)
}
