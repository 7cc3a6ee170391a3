package call

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/b2bua/b2bua/actors/dialog"
	"github.com/b2bua/b2bua/actors/registrar"
)

// dlg is one dialog's state from the server's side (RFC 3261 §12): ids,
// the two parties, the remote target and route set, both CSeq spaces, and
// where requests go when the peer is behind a NAT. Nothing in it is
// shared with the other leg.
type dlg struct {
	id      dialog.ID
	local   string   // our party's name-addr (the local URI), without our tag (id.LocalTag): see party
	remote  string   // the peer's (the remote URI), without its tag (id.RemoteTag)
	target  sip.Uri  // the peer's Contact (remote target)
	routes  []string // route set, Route header values in order
	cseq    uint32   // last local CSeq used
	rcseq   uint32   // last remote CSeq seen; 0: none yet
	network string   // "udp", "tcp": how requests to the peer go
	dest    string   // host:port requests go to when not the target's (NAT flow, route set)
	contact string   // our Contact URI
	source  string   // where the peer's requests come from
}

// party is a dialog party's name-addr, kept as text and turned back into
// a From or To header for each request (fill): in-dialog requests are
// rare, and an idle call does not pay for two sipgo headers with their
// params in every leg (about 500 bytes each). Parameters other than the
// tag are not kept (RFC 3261 §12.2.1.1: a request carries the URIs and the
// tags).
func party(display string, u *sip.Uri) string {
	h := sip.FromHeader{DisplayName: display, Address: *u}
	return h.Value()
}

// parties are the From and To of a request in the dialog.
func (d *dlg) parties() (*sip.FromHeader, *sip.ToHeader) {
	from, to := &sip.FromHeader{Params: sip.NewParams()}, &sip.ToHeader{Params: sip.NewParams()}
	from.DisplayName, _ = sip.ParseAddressValue(d.local, &from.Address, &from.Params)
	to.DisplayName, _ = sip.ParseAddressValue(d.remote, &to.Address, &to.Params)
	from.Params.Remove("tag")
	from.Params.Add("tag", d.id.LocalTag)
	to.Params.Remove("tag")
	if d.id.RemoteTag != "" {
		to.Params.Add("tag", d.id.RemoteTag)
	}
	return from, to
}

// newTag is a fresh tag (RFC 3261 §19.3: at least 32 bits of randomness).
func newTag() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newCallID is a fresh Call-ID for a leg we originate.
func newCallID(host string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:]) + "@" + host
}

// route sets where the dialog's requests go: to the first route when there
// is a route set (loose routing, RFC 3261 §12.2.1.1), else to the target,
// or to the peer's flow when the target is behind a NAT (registrar.Flow).
func (d *dlg) route(path []string) {
	d.network, d.dest = transportOf(&d.target), ""
	if len(d.routes) > 0 {
		var u sip.Uri
		if err := sip.ParseUri(strings.Trim(firstAddr(d.routes[0]), "<>"), &u); err == nil && u.Host != "" {
			d.network = transportOf(&u)
			d.dest = hostPort(&u)
		}
		return
	}
	if network, addr, ok := registrar.Flow(&d.target, d.source, path); ok {
		d.network, d.dest = network, addr
	}
}

// firstAddr is the first address of a Route/Record-Route value, which may
// list several.
func firstAddr(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, '>'); strings.HasPrefix(v, "<") && i > 0 {
		return v[:i+1]
	}
	if i := strings.IndexByte(v, ','); i > 0 {
		return strings.TrimSpace(v[:i])
	}
	return v
}

func transportOf(u *sip.Uri) string {
	if u.UriParams != nil {
		if t, ok := u.UriParams.Get("transport"); ok && t != "" {
			return strings.ToLower(t)
		}
	}
	if u.IsEncrypted() {
		return "tls"
	}
	return "udp"
}

func hostPort(u *sip.Uri) string {
	port := u.Port
	if port == 0 {
		port = sip.DefaultPort(transportOf(u))
	}
	host := u.Host
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(port)
}

// request is a new in-dialog request (RFC 3261 §12.2.1.1): the next local
// CSeq, the route set, our Contact on target-refresh requests.
func (d *dlg) request(method sip.RequestMethod) *sip.Request {
	if method != sip.ACK && method != sip.CANCEL {
		d.cseq++
	}
	req := sip.NewRequest(method, *d.target.Clone())
	d.fill(req, d.cseq, method)
	return req
}

// fill adds the dialog's headers to req.
func (d *dlg) fill(req *sip.Request, cseq uint32, method sip.RequestMethod) {
	for _, r := range d.routes {
		req.AppendHeader(sip.NewHeader("Route", r))
	}
	from, to := d.parties()
	req.AppendHeader(from)
	req.AppendHeader(to)
	cid := sip.CallIDHeader(d.id.CallID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: method})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	switch method {
	case sip.INVITE, sip.UPDATE, sip.REFER, sip.NOTIFY, sip.SUBSCRIBE:
		req.AppendHeader(sip.NewHeader("Contact", "<"+d.contact+">"))
	}
	req.SetTransport(strings.ToUpper(d.network))
	if d.dest != "" {
		req.SetDestination(d.dest)
	} else {
		req.SetDestination(hostPort(&d.target))
	}
}

// inOrder checks a request's CSeq against the last one seen from the peer
// (RFC 3261 §12.2.2): lower is out of order (500), and the number seen
// moves on. ACK and CANCEL carry their INVITE's number and are not
// checked.
func (d *dlg) inOrder(req *sip.Request) bool {
	switch req.Method {
	case sip.ACK, sip.CANCEL:
		return true
	}
	n := req.CSeq().SeqNo
	if d.rcseq != 0 && n <= d.rcseq {
		return false
	}
	d.rcseq = n
	return true
}

// refresh takes a new remote target from a target-refresh request or its
// 2xx (re-INVITE, UPDATE: RFC 3261 §12.2.1.2, RFC 3311 §5.2).
func (d *dlg) refresh(m message, path []string) {
	c := m.Contact()
	if c == nil || c.Address.Host == "" {
		return
	}
	d.target = *c.Address.Clone()
	d.route(path)
}

// recordRoute is the route set a message's Record-Route gives: in order
// for the UAS, reversed for the UAC (RFC 3261 §12.1).
func recordRoute(m sip.Message, reverse bool) []string {
	var out []string
	for h := range headersNamed(m, "Record-Route") {
		for _, v := range splitList(h.Value()) {
			out = append(out, v)
		}
	}
	if reverse {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out
}

// splitList splits a comma-separated list of name-addrs, leaving commas
// inside <> and quotes alone.
func splitList(v string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '<':
			depth++
		case c == '>':
			depth--
		case c == ',' && depth == 0:
			if s := strings.TrimSpace(v[start:i]); s != "" {
				out = append(out, s)
			}
			start = i + 1
		}
	}
	if s := strings.TrimSpace(v[start:]); s != "" {
		out = append(out, s)
	}
	return out
}
