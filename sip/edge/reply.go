package edge

import (
	"bytes"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// A REGISTER read off a UDP listener is answered without a sip.Response:
// the header lines the response repeats are copied from the datagram into
// a send buffer when the request is read (captureHead), and the answer is
// formatted around them in the same buffer (startReply). Building a
// sip.Response cloned Via, From, To, CSeq and their parameters and
// serialised them again, about 25 allocations per REGISTER (README.md,
// "Allocations per REGISTER"). Whatever captureHead does not fully
// understand is answered from a sip.Response as before.

var (
	crlf     = []byte("\r\n")
	crlfcrlf = []byte("\r\n\r\n")
)

// captureHead copies the header lines a response to req repeats (RFC 3261
// §8.2.6.2) from data, the datagram sipgo parsed req from, into a send
// buffer from bufPool, each as "Name: value\r\n" in the order a sip.Response
// of Server.response has them: every Via (the top one with rport and
// received filled in, RFC 3581 §4, as sipgo's NewResponseFromRequest does
// from src), From, To with our tag when it has none, Call-ID, CSeq. It
// returns nil for what it does not fully understand, which a sip.Response
// then answers: folded lines, a bare CR or LF, a From, To, Call-ID or CSeq
// given twice (sipgo keeps the last), a comma in From or To (sipgo reads
// two headers), a comma or quote in Via (sipgo's Via parser reads a comma
// list only in parameters), a top Via whose rport or received it cannot
// match with sipgo's reading.
func captureHead(data []byte, req *sip.Request, src netip.AddrPort) *[]byte {
	end := bytes.Index(data, crlfcrlf)
	if end < 0 {
		return nil
	}
	startLine := bytes.Index(data[:end+2], crlf)
	rest := data[startLine+2 : end+2] // header lines, each ending in CRLF
	bp := bufPool.Get().(*[]byte)
	b := (*bp)[:0]
	var from, to, callID, cseq []byte
	// sipgo's Vias, in order, to hold each raw one against.
	parsed, next := req.Headers(), 0
	top := true
	for len(rest) > 0 {
		i := bytes.Index(rest, crlf)
		line := rest[:i]
		rest = rest[i+2:]
		if len(line) == 0 || line[0] == ' ' || line[0] == '\t' || bytes.ContainsAny(line, "\r\n") {
			return drop(bp)
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			return drop(bp)
		}
		name, value := bytes.TrimSpace(line[:colon]), bytes.TrimSpace(line[colon+1:])
		var slot *[]byte
		switch {
		case nameIs(name, "via", "v"):
			if len(value) == 0 || bytes.ContainsAny(value, ",\"") {
				return drop(bp)
			}
			var via *sip.ViaHeader
			for via == nil && next < len(parsed) {
				via, _ = parsed[next].(*sip.ViaHeader)
				next++
			}
			var ok bool
			if b, ok = appendVia(append(b, "Via: "...), value, via, top, src); !ok {
				return drop(bp)
			}
			top = false
			b = append(b, crlf...)
			continue
		case nameIs(name, "from", "f"):
			slot = &from
		case nameIs(name, "to", "t"):
			slot = &to
		case nameIs(name, "call-id", "i"):
			slot = &callID
		case nameIs(name, "cseq", "cseq"):
			slot = &cseq
		default:
			continue
		}
		if *slot != nil || len(value) == 0 {
			return drop(bp)
		}
		*slot = value
	}
	if (from != nil && !plainAddr(from)) || (to != nil && !plainAddr(to)) {
		return drop(bp)
	}
	b = appendLine(b, "From: ", from)
	if to != nil {
		t := req.To()
		if t == nil {
			return drop(bp)
		}
		b = append(b, "To: "...)
		b = append(b, to...)
		if !t.Params.Has("tag") {
			b = append(b, ";tag="...)
			b = appendToTag(b, req)
		}
		b = append(b, crlf...)
	}
	b = appendLine(b, "Call-ID: ", callID)
	b = appendLine(b, "CSeq: ", cseq)
	*bp = b
	return bp
}

func drop(bp *[]byte) *[]byte {
	bufPool.Put(bp)
	return nil
}

// nameIs reports whether a header name is long or compact, ignoring ASCII
// case as sipgo does.
func nameIs(name []byte, long, compact string) bool {
	return asciiFoldBytes(name, long) || asciiFoldBytes(name, compact)
}

func asciiFoldBytes(name []byte, lower string) bool {
	if len(name) != len(lower) {
		return false
	}
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func appendLine(b []byte, name string, value []byte) []byte {
	if value == nil {
		return b
	}
	b = append(b, name...)
	b = append(b, value...)
	return append(b, crlf...)
}

// appendVia appends a Via's value, the one sipgo parsed as via, as
// sipgo's NewResponseFromRequest leaves it: in the top one, an rport
// without a value gets the source port, and received the source address,
// appended (RFC 3581 §4). It reports false when the raw value is not one
// sipgo reads and writes back the same (then a sip.Response answers): a
// sent-by plainSentBy refuses, parameters other than sipgo's, name for
// name, a value with a space or tab (sipgo writes it quoted).
func appendVia(b, value []byte, via *sip.ViaHeader, top bool, src netip.AddrPort) ([]byte, bool) {
	if via == nil {
		return b, false
	}
	fill := false
	if top {
		v, ok := via.Params.Get("rport")
		fill = ok && v == ""
	}
	// The first rport parameter without a value, as HeaderParams.Add
	// replaces the first of a name.
	at, end, k := -1, -1, 0
	semi := bytes.IndexByte(value, ';')
	if semi < 0 {
		semi = len(value)
	}
	if !plainSentBy(value[:semi]) {
		return b, false
	}
	if semi < len(value) {
		for i := semi + 1; i <= len(value); k++ {
			j := bytes.IndexByte(value[i:], ';')
			if j < 0 {
				j = len(value) - i
			}
			name, val, _ := bytes.Cut(value[i:i+j], []byte("="))
			if k >= len(via.Params) || string(name) != via.Params[k].K || (top && string(name) == "received") || bytes.ContainsAny(val, " \t") {
				// sipgo read them otherwise, would replace received
				// in place or write the value quoted.
				return b, false
			}
			if top && at < 0 && string(name) == "rport" && len(val) == 0 {
				at, end = i, i+j
			}
			i += j + 1
		}
	}
	if k != len(via.Params) || (at >= 0) != fill {
		return b, false
	}
	if !fill {
		return append(b, value...), true
	}
	return appendRport(b, value, at, end, src)
}

// appendRport appends value with its empty rport parameter at
// value[at:end] given the source port, and ;received= the source address
// after the parameters (RFC 3581 §4, as sipgo's NewResponseFromRequest
// fills them); false without a source.
func appendRport(b, value []byte, at, end int, src netip.AddrPort) ([]byte, bool) {
	if !src.IsValid() {
		return b, false
	}
	b = append(b, value[:at]...)
	b = append(b, "rport="...)
	b = strconv.AppendUint(b, uint64(src.Port()), 10)
	b = append(b, value[end:]...)
	b = append(b, ";received="...)
	return src.Addr().Unmap().AppendTo(b), true
}

// plainSentBy reports whether a Via's value up to its parameters is
// SIP/2.0/transport host[:port] as sipgo reads and writes it again: a
// hostname, an IPv4 address or a bracketed IPv6 one, a port 1 to 65535.
func plainSentBy(v []byte) bool {
	proto, sentBy, ok := bytes.Cut(v, []byte(" "))
	transport, ok2 := bytes.CutPrefix(proto, []byte("SIP/2.0/"))
	if !ok || !ok2 || len(transport) == 0 || !tokens(transport, false) {
		return false
	}
	host, port := sentBy, []byte(nil)
	if i := bytes.LastIndexByte(sentBy, ':'); i >= 0 && bytes.IndexByte(sentBy[i:], ']') < 0 {
		host, port = sentBy[:i], sentBy[i+1:]
		if len(port) == 0 || len(port) > 5 {
			return false
		}
		n := 0
		for _, c := range port {
			if c < '0' || c > '9' {
				return false
			}
			n = n*10 + int(c-'0')
		}
		if n == 0 || n > 65535 {
			return false
		}
	}
	if len(host) > 0 && host[0] == '[' {
		ip, ok := bytes.CutSuffix(host[1:], []byte("]"))
		a, err := netip.ParseAddr(string(ip))
		return ok && err == nil && a.Is6() && a.Zone() == ""
	}
	return len(host) > 0 && host[0] != '.' && host[0] != '-' && tokens(host, false) && bytes.IndexByte(host, '!') < 0
}

// plainAddr reports whether a From or To value is one whose sipgo reading
// keeps what a client matches a response by: [display-name] <SIP-URI> or a
// bare SIP-URI, then ;name=value parameters of token characters. The
// display name is a quoted string without escapes or tokens and spaces.
func plainAddr(v []byte) bool {
	var uri, params []byte
	if lt := bytes.IndexByte(v, '<'); lt >= 0 {
		display := bytes.TrimSpace(v[:lt])
		if len(display) > 0 && display[0] == '"' {
			if len(display) < 2 || display[len(display)-1] != '"' || bytes.ContainsAny(display[1:len(display)-1], "\"<>") {
				return false
			}
		} else if !tokens(display, true) {
			return false
		}
		gt := bytes.IndexByte(v[lt:], '>')
		if gt < 0 {
			return false
		}
		uri, params = v[lt+1:lt+gt], v[lt+gt+1:]
	} else {
		uri, params, _ = bytes.Cut(v, []byte(";"))
		if len(params) > 0 || bytes.HasSuffix(v, []byte(";")) {
			params = v[len(uri):]
		}
	}
	if !sipURI(uri) {
		return false
	}
	for len(params) > 0 {
		if params[0] != ';' {
			return false
		}
		var p []byte
		p, params = params[1:], params[1:]
		if i := bytes.IndexByte(p, ';'); i >= 0 {
			p, params = p[:i], p[i:]
		} else {
			params = nil
		}
		name, val, _ := bytes.Cut(p, []byte("="))
		if len(name) == 0 || !tokens(name, false) || !tokens(val, false) {
			return false
		}
	}
	return true
}

// sipURI reports whether u is a sip: or sips: URI without characters that
// would end it in a header (sipgo's URI parser is lax about the rest).
func sipURI(u []byte) bool {
	_, rest, ok := bytes.Cut(u, []byte(":"))
	scheme := u[:len(u)-len(rest)-1+boolInt(!ok)]
	if !ok || !(asciiFoldBytes(scheme, "sip") || asciiFoldBytes(scheme, "sips")) || len(rest) == 0 {
		return false
	}
	return !bytes.ContainsAny(rest, " \t<>\",")
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// tokens reports whether b holds only token characters (RFC 3261 §25.1),
// and spaces when spaces is set.
func tokens(b []byte, spaces bool) bool {
	for _, c := range b {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-.!%*_+`'~", c) >= 0:
		case spaces && (c == ' ' || c == '\t'):
		default:
			return false
		}
	}
	return true
}

// appendToTag appends toTag(req) to b.
func appendToTag(b []byte, req *sip.Request) []byte {
	var callID, fromTag string
	if c := req.CallID(); c != nil {
		callID = string(*c)
	}
	if f := req.From(); f != nil {
		fromTag, _ = f.Params.Get("tag")
	}
	return appendToTagOf(b, callID, fromTag)
}

// appendToTagOf appends the To tag of a request with this Call-ID and From
// tag to b: FNV-1a, 64 bits (hash/fnv), over both, in base 36.
func appendToTagOf(b []byte, callID, fromTag string) []byte {
	const offset64, prime64 = 14695981039346656037, 1099511628211
	h := uint64(offset64)
	for _, s := range [2]string{callID, fromTag} {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= prime64
		}
	}
	return strconv.AppendUint(b, h, 36)
}

// rawReply is a response being formatted into the send buffer of a UDP
// request's answer (startReply). The zero rawReply, for an answer claimed
// already, writes and sends nothing.
type rawReply struct {
	a    *answer
	u    *udpResponder
	code int
	b    []byte
}

// startReply claims the answer w and starts the response code reason in
// its send buffer, with the head captureHead copied, Content-Length and
// Server: append the headers that follow to r.b (each ending in CRLF), then
// call send. It reports false, claiming nothing, when w cannot take such a
// response (the transaction path, a request without a captured head): build
// a sip.Response then.
func (s *Server) startReply(w responder, code int, reason string) (r rawReply, ok bool) {
	a, _ := w.(*answer)
	if a == nil {
		return r, false
	}
	u, _ := a.next.(*udpResponder)
	if u == nil || u.head == nil { // u.head is set once, before w is handed out
		return r, false
	}
	if !a.claim() {
		return r, true
	}
	return rawReply{a: a, u: u, code: code, b: beginReply(*u.head, code, reason, s.conf.UserAgent)}, true
}

// beginReply puts the status line in front of head, in place, and
// Content-Length and Server after it.
func beginReply(head []byte, code int, reason, server string) []byte {
	var line [64]byte
	status := appendStatusLine(line[:0], code, reason)
	n := len(head)
	b := slices.Grow(head, len(status)+64)[:n+len(status)]
	copy(b[len(status):], b[:n])
	copy(b, status)
	b = append(b, "Content-Length: 0\r\nServer: "...)
	b = append(b, server...)
	return append(b, crlf...)
}

func appendStatusLine(b []byte, code int, reason string) []byte {
	b = append(b, "SIP/2.0 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	b = append(b, reason...)
	return append(b, crlf...)
}

// header appends h as a line of the response.
func (r *rawReply) header(h sip.Header) {
	if r.a == nil {
		return
	}
	w := byteWriter{b: r.b}
	h.StringWrite(&w)
	r.b = append(w.b, crlf...)
}

// send ends the header section and sends the response.
func (r *rawReply) send() {
	if r.a == nil {
		return
	}
	*r.u.head = append(r.b, crlf...)
	r.a.release(r.code)
	r.u.sender.send(r.u.head, r.u.to)
}
