package edge

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/b2bua/b2bua/actors/dialog"
	"github.com/b2bua/b2bua/actors/presence"
	"github.com/b2bua/b2bua/pidf"
	"github.com/b2bua/b2bua/sip/status"
)

// allowEvents is what a 489 and OPTIONS name (RFC 6665 §7.2.2).
const allowEvents = "presence, presence.winfo"

// errNoPresence answers presence requests on an edge built without the
// presence kinds (tests that start the registrar alone).
var errNoPresence = status.New(status.NotImplemented, "Presence Not Served")

var errUnsupportedBody = status.New(status.UnsupportedMediaType, "Unsupported Media Type")

// publish turns a PUBLISH (RFC 3903) into presence.Publish for the
// presentity of its Request-URI, which answers through w. It takes the
// stateless UDP path: the presentity recognises retransmissions itself.
func (s *Server) publish(req *sip.Request, w responder) {
	if s.pres == nil {
		s.fail(req, w, errNoPresence)
		return
	}
	m, err := s.toPublish(req)
	if err != nil {
		s.fail(req, w, err)
		return
	}
	if !s.admit(w) {
		s.overloaded(req, w)
		return
	}
	m.Reply = func(r *presence.PublishResult) { s.published(req, w, r) }
	s.pres.Publish(m)
}

func (s *Server) toPublish(req *sip.Request) (*presence.Publish, error) {
	aor, err := s.presentityOf(req)
	if err != nil {
		return nil, err
	}
	if ev, _ := eventOf(req); ev != presence.EventPresence { // RFC 3903 §6 step 2
		return nil, presence.ErrBadEvent
	}
	expires, err := expiresHeader(req)
	if err != nil {
		return nil, err
	}
	m := &presence.Publish{AOR: aor, Expires: expires, CallID: req.CallID().Value(), CSeq: req.CSeq().SeqNo, Branch: branchOf(req)}
	if h := headerNamed(req, "sip-if-match"); h != nil {
		m.ETag = strings.TrimSpace(h.Value())
	}
	if body := req.Body(); len(body) > 0 {
		if !isPIDF(req) { // RFC 3903 §6 step 3
			return nil, errUnsupportedBody
		}
		if len(body) > pidf.DefaultLimits.MaxBytes {
			return nil, pidf.ErrTooLarge
		}
		m.Body = body // parsed by the presentity, off the UDP read goroutine
	}
	return m, nil
}

// published answers a PUBLISH: 200 with SIP-ETag and Expires (RFC 3903 §6
// step 8).
func (s *Server) published(req *sip.Request, w responder, r *presence.PublishResult) {
	if errors.Is(r.Err, presence.ErrInProgress) {
		w.respond(nil) // a retransmission: the original's answer is on its way
		return
	}
	if r.Err != nil {
		s.fail(req, w, r.Err)
		return
	}
	res := s.response(req, status.OK, status.Reason(status.OK))
	if r.ETag != "" {
		res.AppendHeader(sip.NewHeader("SIP-ETag", r.ETag))
	}
	res.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(r.Expires)))
	w.respond(res)
}

// subscribe serves SUBSCRIBE (RFC 6665) for presence and presence.winfo:
// an initial one goes to the presentity watched, one within a dialog to
// the subscription actor that owns it (481 when there is none). Over UDP
// it takes the stateless path: sipgo would keep each server transaction
// 32 s after its answer, about 10 KB each, which a setup of 10,000
// watchers pays in 100 MB; the subscription actor answers retransmissions
// itself.
func (s *Server) subscribe(req *sip.Request, w responder) {
	if s.pres == nil {
		s.fail(req, w, errNoPresence)
		return
	}
	ev, id := eventOf(req)
	if ev == presence.EventUnknown {
		s.fail(req, w, presence.ErrBadEvent)
		return
	}
	expires, err := expiresHeader(req)
	if err != nil {
		s.fail(req, w, err)
		return
	}
	if d, ok := dialog.Incoming(req); ok {
		m := &presence.Resubscribe{Expires: expires, CSeq: req.CSeq().SeqNo, RemoteTarget: contactURI(req), Source: req.Transport() + ":" + req.Source(), Branch: branchOf(req)}
		if !s.admit(w) {
			s.overloaded(req, w)
			return
		}
		m.Reply = func(r *presence.SubscribeResult) { s.subscribed(req, w, d.LocalTag, r) }
		s.pres.Resubscribe(presence.DialogKey(d.CallID, d.LocalTag, d.RemoteTag), m)
		return
	}
	m, err := s.toSubscribe(req, ev, id, expires)
	if err != nil {
		s.fail(req, w, err)
		return
	}
	if !s.admit(w) {
		s.overloaded(req, w)
		return
	}
	m.Reply = func(r *presence.SubscribeResult) { s.subscribed(req, w, m.Dialog.LocalTag, r) }
	s.pres.Subscribe(m)
}

func (s *Server) toSubscribe(req *sip.Request, ev presence.Event, id string, expires int) (*presence.Subscribe, error) {
	aor, err := s.presentityOf(req)
	if err != nil {
		return nil, err
	}
	if !accepts(req, ev) {
		return nil, status.New(406, "Not Acceptable")
	}
	watcher, err := aorOf(&req.From().Address)
	if err != nil {
		return nil, err
	}
	target := contactURI(req)
	if target == "" { // RFC 6665 §4.1.2.1: a SUBSCRIBE has one Contact
		return nil, status.New(status.BadRequest, "Missing Contact")
	}
	from := req.From()
	remoteTag, _ := from.Params.Get("tag")
	remote := sip.FromHeader{DisplayName: from.DisplayName, Address: from.Address}
	d := presence.Dialog{
		CallID: req.CallID().Value(), LocalTag: toTag(req), RemoteTag: remoteTag,
		LocalURI: req.To().Address.String(), RemoteURI: remote.Value(), RemoteTarget: target,
		RemoteCSeq: req.CSeq().SeqNo, Source: req.Transport() + ":" + req.Source(), Contact: s.contactFor(req),
	}
	for h := range headersNamed(req, "record-route") { // RFC 3261 §12.1.1: the route set, in order
		d.Routes = append(d.Routes, h.Value())
	}
	return &presence.Subscribe{Presentity: aor, Watcher: string(watcher), Event: ev, EventID: id, Expires: expires, Branch: branchOf(req), Dialog: d}, nil
}

// subscribed answers a SUBSCRIBE: 200 (202 while pending, RFC 3265's
// convention that RFC 6665 keeps for compatibility) with Expires and our
// Contact; the NOTIFY follows from the subscription actor.
func (s *Server) subscribed(req *sip.Request, w responder, tag string, r *presence.SubscribeResult) {
	if errors.Is(r.Err, presence.ErrInProgress) {
		w.respond(nil) // a retransmission: the original's answer is on its way
		return
	}
	if r.Err != nil {
		s.fail(req, w, r.Err)
		return
	}
	code := status.OK
	if r.State == presence.StatePending {
		code = status.Accepted
	}
	res := s.response(req, code, status.Reason(code))
	if to := res.To(); to != nil && !to.Params.Has("tag") {
		to.Params.Add("tag", tag)
	}
	res.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(r.Expires)))
	res.AppendHeader(sip.NewHeader("Contact", "<"+s.contactFor(req)+">"))
	if ce := s.log.Check(zap.DebugLevel, "subscribed"); ce != nil {
		ce.Write(callIDField(req), zap.Int("status", code), zap.Int("expires", r.Expires))
	}
	w.respond(res)
}

// presentityOf is the AOR a PUBLISH or SUBSCRIBE is for: its
// Request-URI, with one of our addresses standing for the domain.
func (s *Server) presentityOf(req *sip.Request) (string, error) {
	if !s.isLocal(req.Recipient.Host) && !s.isDomain(req.Recipient.Host) {
		return "", status.New(status.NotFound, "Domain Not Served")
	}
	aor, err := s.aorAt(&req.Recipient)
	return string(aor), err
}

// aorAt is the AOR of a URI naming one of our users: sip:user@domain,
// where a host that is one of our addresses stands for the domain.
func (s *Server) aorAt(u *sip.Uri) (string, error) {
	host := strings.ToLower(u.Host)
	if !s.isDomain(host) && s.isLocal(host) {
		host = strings.ToLower(s.conf.Domain)
	}
	v := sip.Uri{Scheme: "sip", User: u.User, Host: host}
	aor, err := aorOf(&v)
	return string(aor), err
}

// eventOf parses the Event header (RFC 6665 §8.2.1): the package and its
// id parameter.
func eventOf(req *sip.Request) (presence.Event, string) {
	h := headerNamed(req, "event")
	if h == nil {
		h = headerNamed(req, "o") // the compact form
	}
	if h == nil {
		return presence.EventUnknown, ""
	}
	pkg, params, _ := strings.Cut(h.Value(), ";")
	id := ""
	for more := true; more; {
		var p string
		p, params, more = strings.Cut(params, ";")
		if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "id") {
			id = v
		}
	}
	return presence.ParseEvent(strings.ToLower(strings.TrimSpace(pkg))), id
}

// isPIDF reports whether the body is application/pidf+xml.
func isPIDF(req *sip.Request) bool {
	ct := req.ContentType()
	if ct == nil {
		return false
	}
	t, _, _ := strings.Cut(ct.Value(), ";")
	return strings.EqualFold(strings.TrimSpace(t), pidf.ContentType)
}

// accepts reports whether the SUBSCRIBE's Accept allows the event's body
// type; no Accept at all means the package's default (RFC 6665 §7.2.1,
// RFC 3856 §6.3).
func accepts(req *sip.Request, ev presence.Event) bool {
	want := ev.ContentType()
	major, _, _ := strings.Cut(want, "/")
	found := false
	for h := range headersNamed(req, "accept") {
		found = true
		for list, more := h.Value(), true; more; {
			var t string
			t, list, more = strings.Cut(list, ",")
			t, _, _ = strings.Cut(t, ";")
			t = strings.TrimSpace(t)
			if lowerIs(t, want) || lowerIs(t, "*/*") || (strings.HasSuffix(t, "/*") && lowerIs(t[:len(t)-2], major)) || t == "" {
				return true
			}
		}
	}
	return !found // no Accept: the package's default
}

// lowerIs reports whether strings.ToLower(s) == lower, without allocating
// for an ASCII s.
func lowerIs(s, lower string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return strings.ToLower(s) == lower
		}
	}
	return asciiFold(s, lower)
}

// contactURI is the URI of the request's Contact, or "".
func contactURI(req *sip.Request) string {
	c := req.Contact()
	if c == nil || c.Address.Host == "" {
		return ""
	}
	return c.Address.String()
}

// contactFor is our Contact for a dialog the request creates: the
// listener of its transport (the domain when bound to every address).
// The strings are made once per transport and shared by every dialog.
func (s *Server) contactFor(req *sip.Request) string {
	network := strings.ToLower(req.Transport())
	if c, ok := s.contacts.Load(network); ok {
		return c.(string)
	}
	c := s.makeContact(network)
	s.contacts.Store(network, c)
	return c
}

func (s *Server) makeContact(network string) string {
	for _, a := range s.addrs {
		if a.Network != network {
			continue
		}
		host, port, err := net.SplitHostPort(a.Addr)
		if err != nil {
			continue
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			host = s.conf.Domain
		}
		uri := "sip:" + net.JoinHostPort(host, port)
		if network != "udp" {
			uri += ";transport=" + network
		}
		return uri
	}
	return "sip:" + s.conf.Domain
}
