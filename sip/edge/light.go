package edge

import (
	"bytes"
	"math"
	"net/netip"
	"strings"
	"unsafe"
)

// A REGISTER read off a UDP listener is read by lightParse, not by sipgo,
// when it is written plainly: one scan of the datagram for the request line
// and the headers REGISTER needs, whose result (lightRegister) is views of
// the datagram; what the registrar keeps is copied into one string
// (takeRegister). sipgo's parse cost about 25 allocations per REGISTER
// (README.md, "Allocations per REGISTER"). lightParse takes only what it
// fully understands, and only what check and toRegister would accept: any
// other request, and any error those would answer, goes to sipgo's parse as
// before, so the answer to anything it refuses is unchanged. FuzzLightParse
// holds what it accepts against sipgo's reading.

// Bounds of what lightParse takes; a REGISTER with more goes to sipgo.
const (
	lightVias     = 4
	lightContacts = 4
)

// lightRegister is a REGISTER as lightParse reads it: every string is a
// view of the datagram, valid only until the read loop reads the next one.
type lightRegister struct {
	ruriHost       string // Request-URI host
	toUser, toHost string // the To URI's
	toTagged       bool   // To has a tag
	fromTag        string
	callID         string
	cseqNo         uint32
	branch         string // the top Via's
	rport          bool   // the top Via has rport (with or without a value)
	viaPort        int    // the top Via's sent-by port, 0 when absent
	ua             string // User-Agent, "" when absent
	expires        int    // Expires, -1 when absent
	wildcard       bool   // Contact: *
	nvia, ncontact int
	vias           [lightVias][]byte // raw values, in order
	from, to       []byte            // raw values
	cseq           []byte            // raw value
	contacts       [lightContacts]lightContact
}

// lightContact is a Contact as contactOf reads it, its strings views of
// the datagram.
type lightContact struct {
	uri      string // as uriString writes sipgo's reading
	instance string // +sip.instance, trimmed as contactOf does
	q        int16  // thousandths, -1 when absent
	expires  int    // -1 when absent
	regID    int32  // 0 when absent
}

// lightParse reads data, a whole UDP datagram, into r. It reports false
// for anything it does not fully understand, or that check or toRegister
// would answer with an error other than 404 or 403: sipgo's parse serves
// those. It takes a REGISTER when:
//   - the request line is "REGISTER sip-uri SIP/2.0" and the datagram ends
//     with the empty line (no body, Content-Length absent or 0);
//   - every byte of the head is printable ASCII or a CRLF (no tab, no
//     folding, no control character);
//   - Via, From, To, Call-ID, CSeq ("n REGISTER") are there, From, To,
//     Call-ID and CSeq once; Vias are plain (plainSentBy, token parameters,
//     no received in the top one) and at most lightVias; Max-Forwards, if
//     there, is a number other than 0; Expires, if there, digits;
//   - the URIs (Request-URI, From, To, Contact) are sip: or sips:, in lower
//     case, with a user of token characters (To: required), a host of
//     letters, digits, dots and hyphens that validHost takes, a port from 1
//     to 65535 without leading zeros, token parameters named once, no
//     headers: sipgo writes such a URI back as it came;
//   - Contacts are "*" or a name-addr or addr-spec as above, at most
//     lightContacts, whose header parameters are named once and hold a
//     token or a quoted string without ; , = " \ < > inside (but for
//     +sip.instance's angle brackets), with a q-value, expires and reg-id
//     contactOf takes;
//   - no header sipgo parses that REGISTER does not read (Content-Type,
//     Route, Record-Route, Refer-To, Referred-By), no Require,
//     Proxy-Require or Path; other headers are ignored, as sipgo keeps
//     them as they came and REGISTER does not read them.
func lightParse(data []byte, r *lightRegister) bool {
	if len(data) == 0 || len(data) > 65535 {
		return false
	}
	// A view of the datagram: it is not written while the read loop's
	// takeUDP runs, and nothing of the view is kept past it.
	raw := unsafe.String(unsafe.SliceData(data), len(data))
	end := strings.Index(raw, "\r\n\r\n")
	if end < 0 || end+4 != len(raw) {
		return false
	}
	head := raw[:end+2] // every line ends in CRLF
	for i := 0; i < len(head); i++ {
		c := head[i]
		if c == '\r' {
			if head[i+1] != '\n' {
				return false
			}
			i++
			continue
		}
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	line, rest, _ := strings.Cut(head, "\r\n")
	ruri, ok := strings.CutPrefix(line, "REGISTER ")
	if !ok {
		return false
	}
	ruri, ok = strings.CutSuffix(ruri, " SIP/2.0")
	if !ok {
		return false
	}
	if _, host, _, ok := lightURI(ruri); ok {
		r.ruriHost = host
	} else {
		return false
	}
	r.expires = -1
	var callID, cseq, maxFwd, expires, ua bool
	pos := len(line) + 2 // offset of rest in data
	for len(rest) > 0 {
		i := strings.Index(rest, "\r\n")
		line := rest[:i]
		at := pos
		rest, pos = rest[i+2:], pos+i+2
		colon := strings.IndexByte(line, ':')
		if colon <= 0 || line[0] == ' ' { // folding, or no name
			return false
		}
		// sipgo trims both; a space is the only white space left here.
		name := strings.Trim(line[:colon], " ")
		value := strings.TrimLeft(line[colon+1:], " ")
		start := at + len(line) - len(value) // offset of value in data
		value = strings.TrimRight(value, " ")
		bval := data[start : start+len(value)]
		switch {
		case nameIsStr(name, "via", "v"):
			if r.nvia == lightVias || !lightVia(r, bval, r.nvia == 0) {
				return false
			}
			r.vias[r.nvia] = bval
			r.nvia++
		case nameIsStr(name, "from", "f"):
			if r.from != nil || !plainAddr(bval) {
				return false
			}
			uri, params, ok := lightAddr(value)
			if !ok || !lightParams(params, true) {
				return false
			}
			if _, _, _, ok := lightURI(uri); !ok {
				return false
			}
			r.from = bval
			r.fromTag, _ = paramOf(params, "tag")
		case nameIsStr(name, "to", "t"):
			if r.to != nil || !plainAddr(bval) {
				return false
			}
			uri, params, ok := lightAddr(value)
			if !ok || !lightParams(params, true) {
				return false
			}
			if r.toUser, r.toHost, _, ok = lightURI(uri); !ok || r.toUser == "" {
				return false
			}
			r.to = bval
			_, r.toTagged = paramOf(params, "tag")
		case nameIsStr(name, "call-id", "i"):
			if callID || value == "" || strings.IndexByte(value, ' ') >= 0 {
				return false
			}
			callID, r.callID = true, value
		case nameIsStr(name, "cseq", "cseq"):
			n, method, ok := strings.Cut(value, " ")
			if cseq || !ok || method != "REGISTER" {
				return false
			}
			v, ok := digits(n, 10)
			if !ok || v > math.MaxInt32 {
				return false
			}
			cseq, r.cseq, r.cseqNo = true, bval, uint32(v)
		case nameIsStr(name, "contact", "m"):
			if value == "*" {
				r.wildcard = true
				continue
			}
			if r.ncontact == lightContacts || !lightContactOf(&r.contacts[r.ncontact], value) {
				return false
			}
			r.ncontact++
		case nameIsStr(name, "max-forwards", "max-forwards"):
			if v, ok := digits(value, 10); maxFwd || !ok || v == 0 || v > math.MaxUint32 {
				return false
			}
			maxFwd = true
		case nameIsStr(name, "expires", "expires"):
			if expires {
				return false
			}
			v, ok := digits(value, -1)
			if !ok {
				return false
			}
			expires, r.expires = true, v
		case nameIsStr(name, "content-length", "l"):
			if v, ok := digits(value, 10); !ok || v != 0 {
				return false
			}
		case nameIsStr(name, "user-agent", "user-agent"):
			if !ua { // headerValue: the first
				ua, r.ua = true, value
			}
		case nameIsStr(name, "content-type", "c"), nameIsStr(name, "route", "record-route"),
			nameIsStr(name, "refer-to", "referred-by"), nameIsStr(name, "require", "proxy-require"),
			nameIsStr(name, "path", "path"):
			return false
		default:
			if !tokenStr(name) {
				return false
			}
		}
	}
	return r.nvia > 0 && r.from != nil && r.to != nil && callID && cseq
}

// lightVia reads a Via's value as captureHead's appendVia takes it: a
// plain sent-by without IPv6, token parameters named once, no received in
// the top one. For the top one it sets r's branch, rport and viaPort.
func lightVia(r *lightRegister, value []byte, top bool) bool {
	if bytes.ContainsAny(value, ",\"[") {
		return false
	}
	// A view, as data is.
	v := unsafe.String(unsafe.SliceData(value), len(value))
	sentBy, p, semi := strings.Cut(v, ";")
	if !plainSentBy(value[:len(sentBy)]) || (semi && !lightParams(p, false)) {
		return false
	}
	if !top {
		return true
	}
	if _, ok := paramOf(p, "received"); ok {
		return false // sipgo's response replaces it in place
	}
	r.branch, _ = paramOf(p, "branch")
	_, r.rport = paramOf(p, "rport")
	if i := strings.LastIndexByte(sentBy, ':'); i >= 0 {
		r.viaPort, _ = digits(sentBy[i+1:], 5) // plainSentBy checked them
	}
	return true
}

// lightParams reports whether params (after the first ';') are
// name[=value] pairs separated by ';', names and values of token
// characters, each name once; an empty params is none when allowEmpty. A
// parameter with '=' must have a value.
func lightParams(params string, allowEmpty bool) bool {
	if params == "" {
		return allowEmpty
	}
	if strings.HasSuffix(params, ";") {
		return false
	}
	rest := params
	for rest != "" {
		var p string
		p, rest, _ = strings.Cut(rest, ";")
		name, val, eq := strings.Cut(p, "=")
		if name == "" || !tokenStr(name) || (eq && (val == "" || !tokenStr(val))) {
			return false
		}
		// Named once: sipgo's HeaderParams.Add replaces the first.
		if namedBefore(params, rest, p, name) {
			return false
		}
	}
	return true
}

// namedBefore reports whether a parameter before p, the one params has
// before rest, is called name.
func namedBefore(params, rest, p, name string) bool {
	before := params[:len(params)-len(rest)-len(p)]
	if rest != "" {
		before = params[:len(params)-len(rest)-1-len(p)]
	}
	_, found := paramOf(strings.TrimSuffix(before, ";"), name)
	return found
}

// paramOf finds name (case and all, as sipgo's HeaderParams.Get) among
// ';'-separated params, as lightParams took them: its value and whether it
// is there.
func paramOf(params, name string) (val string, found bool) {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		n, v, _ := strings.Cut(p, "=")
		if n == name {
			return v, true
		}
	}
	return "", false
}

// lightURI reads a SIP URI that sipgo's parser reads and uriString writes
// back exactly as it came (see lightParse): its user, host and port.
func lightURI(u string) (user, host string, port int, ok bool) {
	rest, ok := strings.CutPrefix(u, "sip:")
	if !ok {
		if rest, ok = strings.CutPrefix(u, "sips:"); !ok {
			return "", "", 0, false
		}
	}
	if strings.HasPrefix(rest, "//") || strings.IndexByte(rest, '?') >= 0 {
		return "", "", 0, false
	}
	if at := strings.IndexByte(rest, '@'); at >= 0 {
		user, rest = rest[:at], rest[at+1:]
		if user == "" || !tokenStr(user) {
			return "", "", 0, false
		}
	}
	hostport, params, hasParams := strings.Cut(rest, ";")
	if hasParams && !lightParams(params, false) {
		return "", "", 0, false
	}
	host, p, hasPort := strings.Cut(hostport, ":")
	if !validHost(host) || host[0] == '[' {
		return "", "", 0, false
	}
	if hasPort {
		if p == "" || p[0] == '0' {
			return "", "", 0, false
		}
		v, ok := digits(p, 5)
		if !ok || v == 0 || v > 65535 {
			return "", "", 0, false
		}
		port = v
	}
	return user, host, port, true
}

// lightAddr splits a From, To or Contact value into its URI and its header
// parameters (after the first ';'), as sipgo's address parser does for the
// values lightParse takes: "[display-name] <uri>" or a bare URI without
// parameters of its own. The display name is tokens and spaces, or a quoted
// string without quotes, backslashes or ; , < > inside.
func lightAddr(v string) (uri, params string, ok bool) {
	var after string
	if lt := strings.IndexByte(v, '<'); lt >= 0 {
		display := strings.TrimRight(v[:lt], " ")
		if len(display) > 0 && display[0] == '"' {
			inner, ok := strings.CutSuffix(display[1:], `"`)
			if !ok || strings.ContainsAny(inner, "\"\\;,<>") {
				return "", "", false
			}
		} else {
			for i := 0; i < len(display); i++ {
				if c := display[i]; c != ' ' && !tokenChar(c) {
					return "", "", false
				}
			}
		}
		gt := strings.IndexByte(v[lt:], '>')
		if gt < 0 {
			return "", "", false
		}
		uri, after = v[lt+1:lt+gt], v[lt+gt+1:]
	} else {
		uri, after, _ = strings.Cut(v, ";")
		if len(uri) < len(v) {
			after = v[len(uri):]
		}
		if strings.IndexByte(uri, ' ') >= 0 {
			return "", "", false
		}
	}
	if after == "" {
		return uri, "", true
	}
	if after[0] != ';' {
		return "", "", false
	}
	return uri, after[1:], true
}

// lightContactOf reads a Contact value (not "*") as contactOf reads
// sipgo's parse of it, refusing what contactOf would refuse.
func lightContactOf(c *lightContact, v string) bool {
	if strings.IndexByte(v, ',') >= 0 {
		return false // sipgo reads two Contacts
	}
	uri, params, ok := lightAddr(v)
	if !ok {
		return false
	}
	if _, _, _, ok := lightURI(uri); !ok {
		return false
	}
	*c = lightContact{uri: uri, q: -1, expires: -1}
	if params == "" {
		return !strings.HasSuffix(v, ";")
	}
	// Header parameters: as lightParams, but a value may be quoted.
	if strings.HasSuffix(params, ";") {
		return false
	}
	rest := params
	for rest != "" {
		var p string
		p, rest, _ = strings.Cut(rest, ";")
		name, val, eq := strings.Cut(p, "=")
		if name == "" || !tokenStr(name) || (eq && val == "") {
			return false
		}
		if len(val) > 0 && val[0] == '"' {
			inner, ok := strings.CutSuffix(val[1:], `"`)
			if !ok || inner == "" || strings.ContainsAny(inner, "\"\\;,= ") {
				return false
			}
			// Angle brackets only around the whole, as +sip.instance has them.
			if in, ok := strings.CutPrefix(inner, "<"); ok {
				inner, ok = strings.CutSuffix(in, ">")
				if !ok {
					return false
				}
			}
			if strings.ContainsAny(inner, "<>") {
				return false
			}
		} else if !tokenStr(val) {
			return false
		}
		if namedBefore(params, rest, p, name) {
			return false
		}
		switch name {
		case "q":
			q, ok := lightQ(val)
			if !ok {
				return false
			}
			c.q = q
		case "expires":
			e, ok := digits(val, -1)
			if !ok {
				return false
			}
			c.expires = e
		case "+sip.instance":
			c.instance = strings.Trim(val, "\"<>")
		case "reg-id":
			id, ok := digits(val, 10)
			if !ok || id == 0 || id > math.MaxInt32 {
				return false
			}
			c.regID = int32(id)
		}
	}
	return true
}

// lightQ reads a q-value of the forms 0[.ddd] and 1[.000] into
// thousandths, as parseQ does; it refuses the rest (which parseQ may take:
// sipgo's path reads those).
func lightQ(v string) (int16, bool) {
	if v == "" || (v[0] != '0' && v[0] != '1') {
		return 0, false
	}
	whole := int(v[0] - '0')
	frac := v[1:]
	if frac != "" {
		var ok bool
		if frac, ok = strings.CutPrefix(frac, "."); !ok || len(frac) > 3 {
			return 0, false
		}
	}
	n := 0
	for i := 0; i < 3; i++ {
		n *= 10
		if i < len(frac) {
			c := frac[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n += int(c - '0')
		}
	}
	if whole == 1 && n != 0 {
		return 0, false
	}
	return int16(whole*1000 + n), true
}

// digits reads a non-empty string of decimal digits of at most max
// digits; max -1 takes any number of them and saturates at maxExpires, as
// parseExpires does.
func digits(s string, max int) (int, bool) {
	if s == "" || (max >= 0 && len(s) > max) {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n <= maxExpires {
			n = n*10 + int(c-'0')
		}
	}
	if max < 0 {
		n = min(n, maxExpires)
	}
	return n, true
}

// nameIsStr is nameIs for a string.
func nameIsStr(name, long, compact string) bool {
	return asciiFold(name, long) || asciiFold(name, compact)
}

func tokenChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-.!%*_+`'~", c) >= 0
}

func tokenStr(s string) bool {
	for i := 0; i < len(s); i++ {
		if !tokenChar(s[i]) {
			return false
		}
	}
	return true
}

// appendLightHead is captureHead for a request lightParse read: the same
// lines, from r's views of the datagram, into a send buffer from bufPool.
func appendLightHead(b []byte, r *lightRegister, src netip.AddrPort) ([]byte, bool) {
	for i := 0; i < r.nvia; i++ {
		b = append(b, "Via: "...)
		value := r.vias[i]
		if i == 0 && r.rport {
			var ok bool
			if b, ok = fillVia(b, value, src); !ok {
				return b, false
			}
		} else {
			b = append(b, value...)
		}
		b = append(b, crlf...)
	}
	b = appendLine(b, "From: ", r.from)
	b = append(b, "To: "...)
	b = append(b, r.to...)
	if !r.toTagged {
		b = append(b, ";tag="...)
		b = appendToTagOf(b, r.callID, r.fromTag)
	}
	b = append(b, crlf...)
	b = append(b, "Call-ID: "...)
	b = append(b, r.callID...)
	b = append(b, crlf...)
	return appendLine(b, "CSeq: ", r.cseq), true
}

// fillVia appends the top Via's value with its first rport without a value
// given the source port and received the source address (RFC 3581 §4), as
// appendVia does; an rport with a value is left as it is.
func fillVia(b, value []byte, src netip.AddrPort) ([]byte, bool) {
	semi := bytes.IndexByte(value, ';')
	at, end := -1, -1
	for i := semi + 1; semi >= 0 && i <= len(value); {
		j := bytes.IndexByte(value[i:], ';')
		if j < 0 {
			j = len(value) - i
		}
		if string(value[i:i+j]) == "rport" {
			at, end = i, i+j
			break
		}
		i += j + 1
	}
	if at < 0 {
		return append(b, value...), true // rport=n: sipgo leaves it
	}
	return appendRport(b, value, at, end, src)
}
