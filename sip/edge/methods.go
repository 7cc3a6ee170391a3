package edge

import (
	"bytes"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/b2bua/b2bua/actors/dialog"
	"github.com/b2bua/b2bua/auth"
)

// method is one row of the method table: everything the edge knows about
// a SIP method. Allow, the sipgo registrations, the UDP read filter, the
// default scope map, exemption from authentication and the metrics label
// are all derived from the table; adding a method is adding a row.
// Whether a request is challenged is the table's to say (exempt), and no
// handler's.
type method struct {
	name sip.RequestMethod
	// serve answers an out-of-dialog request of the method; nil for ACK,
	// which gets no response (RFC 3261 §17.1.1.3).
	serve func(s *Server, req *sip.Request, w responder)
	// stateless: over UDP, a request the server answers itself is taken
	// in the read filter, before sipgo's transaction layer, and its actor
	// absorbs retransmissions (see doc.go). An OPTIONS to a user is
	// forwarded, which may take seconds, and an in-dialog request goes to
	// the dialog's owner: those go through a server transaction, which
	// absorbs the retransmissions meanwhile (takeStateless).
	stateless bool
	// dialog: a request with a To tag goes to the dialog's owner (RFC
	// 3261 §12.2.2) through the dialog registry; without one, to serve.
	dialog bool
	// scope is what a bearer token needs for the method (RFC 8898); ""
	// needs none.
	scope string
	// exempt says which requests of the method are never challenged; the
	// others are authenticated like any request when auth is on.
	exempt exemption
}

// exemption says which requests of a method go unchallenged.
type exemption uint8

const (
	// challenged: every request is authenticated when auth is on.
	challenged exemption = iota
	// exemptAlways: no request is authenticated; ACK and CANCEL cannot be
	// challenged (RFC 3261 §22.1).
	exemptAlways
	// exemptToServer: a request addressed to the server itself (no user
	// part in the Request-URI) is not authenticated; one addressed to a
	// user is, in a dialog or out of one (like BYE). For
	// OPTIONS: to the server it is the keep-alive and capability probe of
	// phones, answered at once; to a user it is forwarded to the user's
	// contact, holds slots for up to ClientTimeout and tells who is online,
	// so it needs an identity (but no bearer scope: the row has none).
	exemptToServer
)

// table is the method table. Keep auth.DefaultScopes in step with the
// scopes here (TestScopesAgree).
func table() []method {
	return []method{
		{name: sip.REGISTER, serve: (*Server).register, stateless: true, scope: auth.ScopeRegister},
		{name: sip.OPTIONS, serve: (*Server).options, stateless: true, dialog: true, exempt: exemptToServer},
		{name: sip.PUBLISH, serve: (*Server).publish, stateless: true, scope: auth.ScopePresence},
		{name: sip.SUBSCRIBE, serve: (*Server).subscribe, stateless: true, scope: auth.ScopePresence},
		// MESSAGE over UDP takes the stateless path: its message box
		// absorbs the sender's retransmissions (Call-ID, CSeq, branch,
		// From tag) while it delivers and replays its answer after, and
		// a delivery, which waits for the contacts (up to messaging's
		// DeliveryTimeout), has the forwarded requests' deadline
		// (ReplyTimeout plus ClientTimeout: admitForward). In a dialog:
		// 481 (no dialog of ours carries MESSAGE yet), through sipgo.
		{name: sip.MESSAGE, serve: (*Server).message, stateless: true, dialog: true, scope: auth.ScopeCall},
		// INVITE starts a call (call.Invite) or, in a dialog, is a
		// re-INVITE for the dialog's leg; never stateless: its
		// transaction lives until the call is answered.
		{name: sip.INVITE, serve: (*Server).invite, dialog: true, scope: auth.ScopeCall},
		{name: sip.ACK, dialog: true, exempt: exemptAlways},
		{name: sip.CANCEL, serve: (*Server).noDialog, exempt: exemptAlways},
		{name: sip.BYE, serve: (*Server).noDialog, dialog: true},
		{name: sip.INFO, serve: (*Server).noDialog, dialog: true, scope: auth.ScopeCall},
		{name: sip.UPDATE, serve: (*Server).noDialog, dialog: true, scope: auth.ScopeCall},
		{name: sip.PRACK, serve: (*Server).noDialog, dialog: true, scope: auth.ScopeCall},
		{name: sip.REFER, serve: (*Server).noDialog, dialog: true, scope: auth.ScopeCall},
	}
}

// Derived from table once, at init (a package-level initializer would make
// an initialization cycle: options reads allow); read-only afterwards.
var (
	methods   map[sip.RequestMethod]*method
	allow     string   // the Allow header value (405, OPTIONS)
	stateless [][]byte // "REGISTER ", ...: request-line prefixes of the stateless rows
)

func init() {
	rows := table()
	methods = make(map[sip.RequestMethod]*method, len(rows))
	names := make([]string, 0, len(rows))
	for i := range rows {
		m := &rows[i]
		methods[m.name] = m
		names = append(names, string(m.name))
		if m.stateless {
			stateless = append(stateless, []byte(string(m.name)+" "))
		}
	}
	allow = strings.Join(names, ", ")
}

// DefaultScopes is the default method → scope map, from the method table.
func DefaultScopes() auth.ScopeMap {
	out := auth.ScopeMap{}
	for _, m := range table() {
		if m.scope != "" {
			out[string(m.name)] = m.scope
		}
	}
	return out
}

// statelessMethod reports whether a datagram starts with the request line
// of a stateless method; it runs on every datagram, before parsing.
func statelessMethod(data []byte) bool {
	for _, p := range stateless {
		if bytes.HasPrefix(data, p) {
			return true
		}
	}
	return false
}

// takeStateless reports whether a parsed UDP request of a stateless method
// is one the server answers itself, so the read filter may take it.
func takeStateless(req *sip.Request) bool {
	if toUser(req) {
		return false
	}
	if m := methods[req.Method]; m != nil && m.dialog {
		_, inDialog := dialog.Incoming(req)
		return !inDialog
	}
	return true
}

// toUser reports whether an out-of-dialog OPTIONS names a user (sip:alice@
// domain) rather than the server: it is forwarded to the user's contact.
func toUser(req *sip.Request) bool {
	return req.Method == sip.OPTIONS && req.Recipient.User != ""
}

// exempt reports whether req is never challenged, by its method's row.
func exempt(req *sip.Request) bool {
	row := methods[req.Method]
	if row == nil {
		return false
	}
	switch row.exempt {
	case exemptAlways:
		return true
	case exemptToServer:
		return req.Recipient.User == ""
	}
	return false
}

// metricLabel is the method label of the metrics: the table's methods and
// "other", so method names made up on the wire create no series.
func metricLabel(m sip.RequestMethod) string {
	if _, ok := methods[m]; ok {
		return string(m)
	}
	return "other"
}

// noDialog answers a request that needs a dialog or a transaction we do
// not have: an out-of-dialog BYE (RFC 3261 §15.1.2) or INFO (RFC 6086
// sends INFO only within an INVITE dialog usage), or a CANCEL that matches
// no INVITE (RFC 3261 §9.2: sipgo's transaction layer takes those that
// do).
func (s *Server) noDialog(req *sip.Request, w responder) {
	s.fail(req, w, dialog.ErrNoDialog)
}
