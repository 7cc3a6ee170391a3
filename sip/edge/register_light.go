package edge

import (
	"errors"
	"net/netip"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/registrar"
	"github.com/b2bua/b2bua/sip/status"
)

var registerPrefix = []byte("REGISTER ")

// takeRegister answers a REGISTER off listener l that lightParse reads,
// as takeUDP, handle and register would after sipgo's parse, and reports
// true; for anything else it does nothing and reports false. Only with
// authentication off: a challenge and its answer need sipgo's request.
//
// What the registrar keeps (the source, the AOR, Call-ID, branch,
// User-Agent, each contact's URI and instance) is copied into one string,
// so a binding holds that much and not the datagram; the header lines the
// response repeats go into the send buffer (appendLightHead), as
// captureHead copies them.
func (s *Server) takeRegister(l *udpListener, data []byte, src netip.AddrPort) bool {
	var r lightRegister
	if !lightParse(data, &r) {
		return false
	}
	bp := bufPool.Get().(*[]byte)
	b, ok := appendLightHead((*bp)[:0], &r, src)
	if !ok {
		bufPool.Put(bp)
		return false
	}
	*bp = b

	x := &lightAnswer{}
	toHost := lightMessage(&x.m, &r, src)
	msg := &x.m.msg
	u := &x.udp
	u.sender, u.deadlines, u.forwards, u.source = l.sender, l.deadlines, l.forwards, msg.Source
	u.replyTo(src, r.rport, r.viaPort)
	u.head = bp
	w := &x.answer
	w.s, w.next, w.label = s, u, metricLabel(sip.REGISTER) // w.req stays nil: expire answers from the head
	s.registerLight(r.ruriHost, toHost, msg, w)
	return true
}

// lightAnswer is the answer to a REGISTER takeRegister read, its
// responder and its message to the registrar, in one allocation.
type lightAnswer struct {
	udpAnswer
	m registerMsg
}

// registerMsg is a message to the registrar with room for its first
// contact: most REGISTERs carry one.
type registerMsg struct {
	msg registrar.Register
	one [1]registrar.Contact
}

// lightMessage sets m to toRegister's message for a REGISTER lightParse
// read from src, and returns the To host in lower case (isDomain lowers it
// again without allocating). What the registrar keeps is copied into one
// string.
func lightMessage(m *registerMsg, r *lightRegister, src netip.AddrPort) string {
	var buf [512]byte
	k := src.AppendTo(append(buf[:0], "UDP:"...))
	nSource := len(k)
	k = append(k, "sip:"...)
	k = append(k, r.toUser...)
	k = append(k, '@')
	for i := 0; i < len(r.toHost); i++ { // as aorOf: the host in lower case
		c := r.toHost[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		k = append(k, c)
	}
	nAOR := len(k)
	k = append(k, r.callID...)
	nCallID := len(k)
	k = append(k, r.branch...)
	nBranch := len(k)
	k = append(k, r.ua...)
	nUA := len(k)
	var ends [lightContacts][2]int
	for i := 0; i < r.ncontact; i++ {
		k = append(k, r.contacts[i].uri...)
		ends[i][0] = len(k)
		k = append(k, r.contacts[i].instance...)
		ends[i][1] = len(k)
	}
	kept := string(k)

	contacts := m.one[:0]
	at := nUA
	for i := 0; i < r.ncontact; i++ {
		c := &r.contacts[i]
		contacts = append(contacts, registrar.Contact{
			URI: kept[at:ends[i][0]], Q: c.q, Expires: c.expires,
			InstanceID: kept[ends[i][0]:ends[i][1]], RegID: c.regID,
		})
		at = ends[i][1]
	}
	if len(contacts) == 0 {
		contacts = nil
	}
	m.msg = registrar.Register{
		AOR: registrar.AOR(kept[nSource:nAOR]), Contacts: contacts, Wildcard: r.wildcard, Expires: r.expires,
		CallID: kept[nAOR:nCallID], CSeq: r.cseqNo, Branch: kept[nCallID:nBranch],
		Source: kept[:nSource], UA: kept[nBranch:nUA],
	}

	return kept[nSource+len("sip:")+len(r.toUser)+1 : nAOR]
}

// registerLight is register for a REGISTER takeRegister read: the checks
// of toRegister that lightParse left (the domains), then the registration
// actor.
func (s *Server) registerLight(ruriHost, toHost string, msg *registrar.Register, w *answer) {
	defer s.recoverLight(w, msg.CallID)
	if err := s.lightDomains(ruriHost, toHost); err != nil {
		s.failLight(w, msg.CallID, err)
		return
	}
	if !s.admit(w) {
		s.overloaded(nil, w) // the head is captured: no sip.Request is read
		return
	}
	msg.Reply = func(res *registrar.RegisterResult) { s.registeredLight(w, msg, res) }
	s.reg.Register(msg)
}

// lightDomains is what toRegister checks that lightParse does not: the
// Request-URI names this server (404), the To URI one of its domains
// (403).
func (s *Server) lightDomains(ruriHost, toHost string) error {
	if !s.isLocal(ruriHost) {
		return status.New(status.NotFound, "Domain Not Served")
	}
	if !s.isDomain(toHost) {
		return status.New(status.Forbidden, "Foreign Domain")
	}
	return nil
}

// registeredLight is registered for a REGISTER takeRegister read: it
// carries no Path (lightParse leaves those to sipgo).
func (s *Server) registeredLight(w *answer, msg *registrar.Register, r *registrar.RegisterResult) {
	if errors.Is(r.Err, registrar.ErrInProgress) {
		w.respond(nil) // a retransmission: the original's answer is on its way
		return
	}
	if r.Err != nil {
		s.failLight(w, msg.CallID, r.Err)
		return
	}
	if ce := s.log.Check(zap.DebugLevel, "registered"); ce != nil {
		ce.Write(zap.String("aor", string(msg.AOR)), zap.String("call_id", msg.CallID), zap.Int("bindings", len(r.Bindings)))
	}
	raw, _ := s.startReply(w, status.OK, status.Reason(status.OK)) // the head is captured
	raw.b = appendRegistered(raw.b, nil, r)
	raw.send()
}

// failLight is fail for a REGISTER takeRegister read.
func (s *Server) failLight(w *answer, callID string, err error) {
	code, reason := status.Of(err)
	// Authentication is off on this path, so failHeaders reads no request.
	extra := s.failHeaders(nil, code, err)
	if code >= 500 {
		s.log.Error("request failed", zap.String("method", string(sip.REGISTER)), zap.String("call_id", callID), zap.Int("status", code), zap.Error(err))
	} else if ce := s.log.Check(zap.DebugLevel, "request rejected"); ce != nil {
		ce.Write(zap.String("method", string(sip.REGISTER)), zap.String("call_id", callID), zap.Int("status", code), zap.Error(err))
	}
	s.reply(nil, w, code, reason, extra...) // startReply takes it: the head is captured
}

// recoverLight is recoverHandler for a REGISTER takeRegister read.
func (s *Server) recoverLight(w *answer, callID string) {
	if r := recover(); r != nil {
		s.log.Error("handler panicked", zap.String("method", string(sip.REGISTER)), zap.String("call_id", callID),
			zap.Any("panic", r), zap.Stack("stack"))
		if raw, ok := s.startReply(w, status.ServerInternalError, status.Reason(status.ServerInternalError)); ok {
			raw.send()
		}
	}
}
