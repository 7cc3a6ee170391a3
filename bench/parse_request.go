package bench

import "bytes"

// IncomingRequest holds what the generator reads from a request the server
// sends it (a NOTIFY). Like Response, every byte slice points into the
// parsed input.
type IncomingRequest struct {
	// Method is the method of the request line, e.g. NOTIFY.
	Method []byte
	// CallID is the value of Call-ID (or i).
	CallID []byte
	// CSeq is the sequence number of CSeq and CSeqMethod its method.
	CSeq       uint32
	CSeqMethod []byte
	// ToTag is the tag parameter of To (or t), nil if absent. In a NOTIFY
	// it is the From tag of the SUBSCRIBE that made the subscription.
	ToTag []byte
	// Event is the value of Event (or o), nil if absent.
	Event []byte
	// ContentLength is the value of Content-Length (or l), -1 if absent.
	ContentLength int
	// HeaderLen is the length of the request line and headers including
	// the blank line.
	HeaderLen int
	// Body is the message body: Content-Length bytes after the header, or
	// the rest of the datagram without a Content-Length.
	Body []byte
}

// ParseRequest reads the request line, Call-ID, CSeq, To tag, Event,
// Content-Length and body of a SIP request into r, allocating nothing (RFC
// 3261 §7.1 request line, §7.3.1 header syntax). A body shorter than its
// Content-Length gives ErrIncomplete: on a datagram the message is to be
// discarded (RFC 3261 §18.3), on a stream more bytes are needed.
func ParseRequest(b []byte, r *IncomingRequest) error {
	*r = IncomingRequest{ContentLength: -1}
	method, rest, err := parseRequestLine(b)
	if err != nil {
		return err
	}
	r.Method = method
	it := headerIter{b: b, pos: len(b) - len(rest), end: -1}
	for {
		name, value, ok := it.next()
		if !ok {
			break
		}
		switch {
		case headerIs(name, "call-id", "i"):
			r.CallID = value
		case headerIs(name, "cseq", ""):
			r.CSeq, r.CSeqMethod = parseCSeq(value)
		case headerIs(name, "to", "t"):
			r.ToTag = tagParam(value)
		case headerIs(name, "event", "o"):
			r.Event = value
		case headerIs(name, "content-length", "l"):
			r.ContentLength = parseUint(value)
		}
	}
	if it.end < 0 {
		return ErrIncomplete
	}
	r.HeaderLen = it.end
	switch {
	case r.ContentLength < 0:
		r.Body = b[it.end:]
	case it.end+r.ContentLength > len(b):
		return ErrIncomplete
	default:
		r.Body = b[it.end : it.end+r.ContentLength]
	}
	if len(r.CallID) == 0 || r.CSeqMethod == nil {
		return ErrMissingHeader
	}
	return nil
}

// parseRequestLine reads "METHOD SP Request-URI SP SIP/2.0 CRLF" and
// returns the method and the bytes after the line.
func parseRequestLine(b []byte) (method, rest []byte, err error) {
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 {
		return nil, nil, ErrIncomplete
	}
	line := b[:nl]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 || !isToken(line[:sp]) {
		return nil, nil, ErrNotSIP
	}
	const version = " SIP/2.0"
	uri := line[sp+1:]
	if len(uri) <= len(version) || string(uri[len(uri)-len(version):]) != version ||
		bytes.IndexByte(uri[:len(uri)-len(version)], ' ') >= 0 {
		return nil, nil, ErrNotSIP
	}
	return line[:sp], b[nl+1:], nil
}

// isToken reports whether b is a non-empty RFC 3261 §25.1 token.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case bytes.IndexByte([]byte("-.!%*_+`'~"), c) >= 0:
		default:
			return false
		}
	}
	return true
}

// tagParam returns the value of the tag parameter of a From/To value, or
// nil. Parameters inside <...> belong to the URI and are skipped.
func tagParam(v []byte) []byte {
	if gt := bytes.IndexByte(v, '>'); gt >= 0 {
		v = v[gt+1:]
	}
	for {
		semi := bytes.IndexByte(v, ';')
		if semi < 0 {
			return nil
		}
		v = v[semi+1:]
		p := trimSpace(v)
		if len(p) >= 4 && equalFold(p[:3], "tag") {
			p = trimSpace(p[3:])
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

// Marker is what a presence PUBLISH body carries so that each NOTIFY it
// causes can be matched to it: the PUBLISH's number in the run and when it
// was first sent (ns since the run began).
type Marker struct {
	Seq   uint64
	Start int64
}

// appendMarker appends 'm', the run ID, '.', Seq, '.', Start, both in hex.
func appendMarker(dst []byte, run string, m Marker) []byte {
	dst = append(dst, 'm')
	dst = append(dst, run...)
	dst = append(dst, '.')
	dst = appendHex(dst, m.Seq)
	dst = append(dst, '.')
	return appendHex(dst, uint64(m.Start))
}

func appendHex(dst []byte, v uint64) []byte {
	const digits = "0123456789abcdef"
	if v == 0 {
		return append(dst, '0')
	}
	var buf [16]byte
	i := len(buf)
	for v > 0 {
		i--
		buf[i] = digits[v&15]
		v >>= 4
	}
	return append(dst, buf[i:]...)
}

// FindMarker returns the marker of run in body with the highest Seq: a
// server that aggregates several publications of one presentity into one
// document (RFC 3903 §4.5) may carry older markers beside the newest.
func FindMarker(body []byte, run string) (Marker, bool) {
	var best Marker
	found := false
	for {
		i := bytes.IndexByte(body, 'm')
		if i < 0 {
			return best, found
		}
		body = body[i+1:]
		if len(body) < len(run)+1 || string(body[:len(run)]) != run || body[len(run)] != '.' {
			continue
		}
		rest := body[len(run)+1:]
		seq, rest, ok := hexField(rest)
		if !ok || len(rest) == 0 || rest[0] != '.' {
			continue
		}
		start, _, ok := hexField(rest[1:])
		if !ok || start > 1<<62 {
			continue
		}
		if m := (Marker{Seq: seq, Start: int64(start)}); !found || m.Seq > best.Seq {
			best, found = m, true
		}
	}
}

// hexField reads 1 to 16 lower-case hex digits from the start of b.
func hexField(b []byte) (uint64, []byte, bool) {
	n := 0
	for n < len(b) && n <= 16 && (b[n] >= '0' && b[n] <= '9' || b[n] >= 'a' && b[n] <= 'f') {
		n++
	}
	if n == 0 || n > 16 {
		return 0, b, false
	}
	v, ok := parseHex64(b[:n])
	return v, b[n:], ok
}
