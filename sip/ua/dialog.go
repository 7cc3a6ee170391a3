package ua

import (
	"slices"
	"sync"

	"github.com/emiago/sipgo/sip"
)

// dialog is the state of an INVITE dialog (RFC 3261 §12): its ids, the
// remote target and route set, and both CSeq counters.
type dialog struct {
	callID    string
	localTag  string
	local     sip.Uri // our URI: From of our requests
	remote    sip.Uri // theirs: To of our requests
	remoteTag string

	mu           sync.Mutex // guards the fields below
	remoteTarget sip.Uri    // the remote Contact, updated by target refreshes
	routes       []sip.Uri
	cseq         uint32 // of our last request
	remoteCSeq   uint32 // of their last request; 0: none yet
}

// routeSet reads the route set of a dialog from the Record-Route headers
// of m: in order at the UAS, reversed at the UAC (RFC 3261 §12.1.1, §12.1.2).
func routeSet(m interface{ GetHeaders(string) []sip.Header }, uac bool) []sip.Uri {
	var routes []sip.Uri
	for _, h := range m.GetHeaders("Record-Route") {
		routes = append(routes, routeURIs(h.Value())...)
	}
	if uac {
		slices.Reverse(routes)
	}
	return routes
}

// request builds an in-dialog request of method m (RFC 3261 §12.2.1.1):
// the remote target as Request-URI, the route set as Route, the next
// CSeq (an ACK takes seq, that of its INVITE). It goes through the
// server when the peer has one, else by the route set or to the target.
func (p *Peer) request(d *dialog, m sip.RequestMethod, seq uint32) *sip.Request {
	d.mu.Lock()
	if m != sip.ACK && m != sip.CANCEL {
		d.cseq++
		seq = d.cseq
	}
	target, routes := d.remoteTarget, d.routes
	d.mu.Unlock()
	req := sip.NewRequest(m, target)
	from := &sip.FromHeader{DisplayName: p.display, Address: d.local, Params: sip.NewParams()}
	from.Params.Add("tag", d.localTag)
	to := &sip.ToHeader{Address: d.remote, Params: sip.NewParams()}
	if d.remoteTag != "" {
		to.Params.Add("tag", d.remoteTag)
	}
	callID := sip.CallIDHeader(d.callID)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: m})
	if m != sip.BYE && m != sip.ACK {
		req.AppendHeader(p.contact())
	}
	for _, r := range routes {
		req.AppendHeader(&sip.RouteHeader{Address: r})
	}
	p.route(req)
	return req
}

// sent records that send raised req's CSeq (a 401 retried with CSeq+1).
func (d *dialog) sent(req *sip.Request) {
	d.mu.Lock()
	if s := req.CSeq().SeqNo; s > d.cseq {
		d.cseq = s
	}
	d.mu.Unlock()
}

// accept checks the CSeq of a request from the other side: it must grow
// (RFC 3261 §12.2.2). An ACK or CANCEL repeats its INVITE's and passes.
func (d *dialog) accept(req *sip.Request) bool {
	if req.Method == sip.ACK || req.Method == sip.CANCEL {
		return true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	s := req.CSeq().SeqNo
	if d.remoteCSeq != 0 && s <= d.remoteCSeq {
		return false
	}
	d.remoteCSeq = s
	return true
}

// refreshTarget takes the Contact of a target refresh request or its
// answer (re-INVITE, UPDATE; RFC 3261 §12.2.2) as the new remote target.
func (d *dialog) refreshTarget(m interface{ GetHeader(string) sip.Header }) {
	d.mu.Lock()
	d.remoteTarget = contactOf(m, d.remoteTarget)
	d.mu.Unlock()
}

// matches says whether req belongs to d by its tags.
func (d *dialog) matches(req *sip.Request) bool {
	toTag, _ := req.To().Params.Get("tag")
	fromTag, _ := req.From().Params.Get("tag")
	return toTag == d.localTag && fromTag == d.remoteTag
}
