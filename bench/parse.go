package bench

import "bytes"

// Response holds what the generator reads from a SIP response. Every byte
// slice points into the parsed input: nothing is copied, so a Response is
// valid only as long as that buffer is.
type Response struct {
	// Status is the status code, 100 to 699.
	Status int
	// CallID is the value of Call-ID (or i).
	CallID []byte
	// CSeq is the sequence number of CSeq and CSeqMethod its method.
	CSeq       uint32
	CSeqMethod []byte
	// Branch is the branch parameter of the top Via, nil if absent.
	Branch []byte
	// Challenge is the value of the first WWW-Authenticate or
	// Proxy-Authenticate header, nil if absent; Proxy is true for the latter.
	Challenge []byte
	Proxy     bool
	// ETag is the value of SIP-ETag (RFC 3903 §11.3.1), nil if absent.
	ETag []byte
	// ToTag is the tag parameter of To (or t), nil if absent: the remote
	// tag of a dialog an INVITE's 2xx establishes (RFC 3261 §12.1.2).
	ToTag []byte
	// Contact is the URI of the first Contact (or m), without the angle
	// brackets: the remote target of the dialog; nil if absent.
	Contact []byte
	// RecordRoute holds the values of the first maxRecordRoute
	// Record-Route headers in order, RecordRoutes how many there are;
	// one value may list several entries separated by commas.
	RecordRoute  [maxRecordRoute][]byte
	RecordRoutes int
	// ContentLength is the value of Content-Length (or l), -1 if absent.
	ContentLength int
	// HeaderLen is the length of the status line and headers including the
	// blank line; on a stream the message ends at HeaderLen+ContentLength.
	HeaderLen int
}

// maxRecordRoute bounds the Record-Route headers a Response keeps; a
// proxy chain on loopback adds one or two.
const maxRecordRoute = 8

// ParseResponse reads the status line, Call-ID, CSeq, top Via branch,
// Content-Length, SIP-ETag, the first challenge, the To tag, the first
// Contact's URI and the Record-Route headers of a SIP response into r. It is a
// deliberately partial parser for the hot path: it allocates nothing and
// ignores every other header (RFC 3261 §7.2, §7.3.1 for header syntax,
// including compact forms and folded lines).
func ParseResponse(b []byte, r *Response) error {
	*r = Response{ContentLength: -1}
	status, rest, err := parseStatusLine(b)
	if err != nil {
		return err
	}
	r.Status = status
	it := headerIter{b: b, pos: len(b) - len(rest), end: -1}
	seenVia := false
	for {
		name, value, ok := it.next()
		if !ok {
			break
		}
		switch {
		case headerIs(name, "via", "v"):
			if !seenVia {
				seenVia = true
				r.Branch = viaBranch(value)
			}
		case headerIs(name, "call-id", "i"):
			r.CallID = value
		case headerIs(name, "cseq", ""):
			r.CSeq, r.CSeqMethod = parseCSeq(value)
		case headerIs(name, "content-length", "l"):
			r.ContentLength = parseUint(value)
		case headerIs(name, "sip-etag", ""):
			r.ETag = value
		case headerIs(name, "to", "t"):
			r.ToTag = tagParam(value)
		case r.Contact == nil && headerIs(name, "contact", "m"):
			r.Contact = contactURI(value)
		case headerIs(name, "record-route", ""):
			if r.RecordRoutes < maxRecordRoute {
				r.RecordRoute[r.RecordRoutes] = value
				r.RecordRoutes++
			}
		case r.Challenge == nil && headerIs(name, "www-authenticate", ""):
			r.Challenge = value
		case r.Challenge == nil && headerIs(name, "proxy-authenticate", ""):
			r.Challenge, r.Proxy = value, true
		}
	}
	if it.end < 0 {
		return ErrIncomplete
	}
	r.HeaderLen = it.end
	if len(r.CallID) == 0 || r.CSeqMethod == nil {
		return ErrMissingHeader
	}
	return nil
}

// parseStatusLine reads "SIP/2.0 NNN reason CRLF" and returns the code and
// the bytes after the line.
func parseStatusLine(b []byte) (int, []byte, error) {
	const prefix = "SIP/2.0 "
	if len(b) < len(prefix)+3 {
		// On a stream a short start may be the beginning of a response.
		if n := min(len(b), len(prefix)); string(b[:n]) == prefix[:n] && bytes.IndexByte(b, '\n') < 0 {
			return 0, nil, ErrIncomplete
		}
		return 0, nil, ErrNotSIP
	}
	if string(b[:len(prefix)]) != prefix {
		return 0, nil, ErrNotSIP
	}
	code := 0
	for _, c := range b[len(prefix) : len(prefix)+3] {
		if c < '0' || c > '9' {
			return 0, nil, ErrNotSIP
		}
		code = code*10 + int(c-'0')
	}
	if code < 100 || code > 699 {
		return 0, nil, ErrNotSIP
	}
	rest := b[len(prefix)+3:]
	if len(rest) > 0 && rest[0] != ' ' && rest[0] != '\r' && rest[0] != '\n' {
		return 0, nil, ErrNotSIP
	}
	nl := bytes.IndexByte(rest, '\n')
	if nl < 0 {
		return 0, nil, ErrIncomplete
	}
	return code, rest[nl+1:], nil
}

// headerIter walks the header lines of a message. Folded continuation lines
// (starting with SP or HT) are joined to the value they continue, so a value
// may contain CRLF followed by white space.
type headerIter struct {
	b   []byte
	pos int
	// end is the offset after the blank line once it was reached, else -1.
	end int
}

// next returns the next header's name and trimmed value.
func (it *headerIter) next() (name, value []byte, ok bool) {
	for it.pos < len(it.b) {
		lineEnd, next := it.lineEnd(it.pos)
		if lineEnd < 0 {
			it.pos = len(it.b)
			return nil, nil, false
		}
		line := it.b[it.pos:lineEnd]
		if len(line) == 0 {
			it.end, it.pos = next, len(it.b)
			return nil, nil, false
		}
		start := it.pos
		// Join folded lines (RFC 3261 §7.3.1).
		for next < len(it.b) && (it.b[next] == ' ' || it.b[next] == '\t') {
			if lineEnd, next = it.lineEnd(next); lineEnd < 0 {
				it.pos = len(it.b)
				return nil, nil, false
			}
		}
		it.pos = next
		colon := bytes.IndexByte(it.b[start:lineEnd], ':')
		if colon < 0 {
			continue // not a header line; skip it rather than fail
		}
		return trimSpace(it.b[start : start+colon]), trimSpace(it.b[start+colon+1 : lineEnd]), true
	}
	return nil, nil, false
}

// lineEnd returns the end of the line starting at from (before CR LF or LF)
// and the start of the next line, or -1 if no LF follows.
func (it *headerIter) lineEnd(from int) (int, int) {
	nl := bytes.IndexByte(it.b[from:], '\n')
	if nl < 0 {
		return -1, -1
	}
	end := from + nl
	if end > from && it.b[end-1] == '\r' {
		return end - 1, from + nl + 1
	}
	return end, from + nl + 1
}

// headerIs compares a header name case-insensitively with its long and
// (if not empty) compact form.
func headerIs(name []byte, long, compact string) bool {
	if len(name) == len(long) && equalFold(name, long) {
		return true
	}
	return compact != "" && len(name) == len(compact) && equalFold(name, compact)
}

// equalFold compares ASCII bytes with a lower-case string.
func equalFold(b []byte, lower string) bool {
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// viaBranch returns the branch parameter of the first via-parm in v.
func viaBranch(v []byte) []byte {
	if i := bytes.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	for {
		semi := bytes.IndexByte(v, ';')
		if semi < 0 {
			return nil
		}
		v = v[semi+1:]
		p := trimSpace(v)
		if len(p) >= 7 && equalFold(p[:6], "branch") {
			p = trimSpace(p[6:])
			if len(p) == 0 || p[0] != '=' {
				continue
			}
			p = trimSpace(p[1:])
			end := 0
			for end < len(p) && !isDelim(p[end]) {
				end++
			}
			return p[:end]
		}
	}
}

// contactURI returns the URI of the first contact in a Contact value:
// inside <...> when the value has them, else up to the first ';' or ','
// (RFC 3261 §20.10: a bare addr-spec ends its URI at the parameters).
// It returns nil for "*" or an empty or unterminated value.
func contactURI(v []byte) []byte {
	if lt := bytes.IndexByte(v, '<'); lt >= 0 {
		gt := bytes.IndexByte(v[lt+1:], '>')
		if gt <= 0 {
			return nil
		}
		return trimSpace(v[lt+1 : lt+1+gt])
	}
	end := 0
	for end < len(v) && v[end] != ';' && v[end] != ',' {
		end++
	}
	if u := trimSpace(v[:end]); len(u) > 0 && string(u) != "*" {
		return u
	}
	return nil
}

func isDelim(c byte) bool {
	return c == ';' || c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n'
}

// parseCSeq reads "NNN METHOD". The method is nil when the value is bad.
func parseCSeq(v []byte) (uint32, []byte) {
	var n uint64
	i := 0
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		n = n*10 + uint64(v[i]-'0')
		if n > 1<<32-1 {
			return 0, nil
		}
		i++
	}
	if i == 0 || i == len(v) || (v[i] != ' ' && v[i] != '\t') {
		return 0, nil
	}
	m := trimSpace(v[i:])
	if len(m) == 0 {
		return 0, nil
	}
	return uint32(n), m
}

// parseUint reads a decimal number of at most 9 digits, or returns -1.
func parseUint(v []byte) int {
	if len(v) == 0 || len(v) > 9 {
		return -1
	}
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
