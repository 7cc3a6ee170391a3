package bench

import (
	"bytes"
	"strconv"
)

// branchCookie starts every branch (RFC 3261 §8.1.1.7).
const branchCookie = "z9hG4bK"

// Env is what every request of one run shares.
type Env struct {
	// Domain is the host part of every AOR and of the Request-URI.
	Domain string
	// UserPrefix is prepended to the user number: "user" gives user17.
	UserPrefix string
	// Transport is written in Via: "UDP" or "TCP".
	Transport string
	// Expires is the Expires value of REGISTER.
	Expires int
	// Body is the text body of MESSAGE.
	Body string
	// run tells this run's Call-IDs and branches from any earlier run's.
	run string
}

// Request describes one transaction of a logical request. The engine fills
// it in; a Scenario turns it into bytes with the Append helpers, which all
// append to dst and allocate nothing once dst has room.
type Request struct {
	// Seq numbers logical requests from 0 in the order they were started.
	Seq uint64
	// Step is the index of this transaction in the scenario's chain.
	Step int
	// CSeq is the sequence number; it grows by one per transaction of the
	// logical request (step or challenge) and keeps the Call-ID.
	CSeq uint32
	// User is the sending user's number and Peer another user's number.
	User, Peer int
	// Env is the run's shared data and Local the host:port of the socket the
	// request leaves from, for Via and Contact.
	Env   *Env
	Local string

	// Start is when the logical request was first sent, in ns since the run
	// began; presence writes it into the PUBLISH body so that a NOTIFY can
	// be matched to its PUBLISH without a lookup.
	Start int64
	// ETag is the entity-tag a PUBLISH refreshes or modifies (SIP-If-Match,
	// RFC 3903 §4.4), fixed when its transaction is first built so that
	// retransmissions repeat it; nil for an initial PUBLISH.
	ETag []byte

	slot, gen uint32
	// auth is the Authorization line(s) to send, CRLF-terminated, or nil.
	auth []byte
}

// aor names an address of record: prefix and number, or the bare domain
// when n < 0.
type aor struct {
	prefix string
	n      int
}

// AppendUser appends the user name for number n.
func (r *Request) AppendUser(dst []byte, n int) []byte {
	dst = append(dst, r.Env.UserPrefix...)
	return strconv.AppendInt(dst, int64(n), 10)
}

// AppendURI appends sip:user@domain, or sip:domain when user < 0.
func (r *Request) AppendURI(dst []byte, user int) []byte {
	return r.appendAOR(dst, aor{r.Env.UserPrefix, user})
}

// appendAOR appends sip:<prefix><n>@domain, or sip:domain when n < 0.
func (r *Request) appendAOR(dst []byte, a aor) []byte {
	dst = append(dst, "sip:"...)
	if a.n >= 0 {
		dst = append(dst, a.prefix...)
		dst = strconv.AppendInt(dst, int64(a.n), 10)
		dst = append(dst, '@')
	}
	return append(dst, r.Env.Domain...)
}

// AppendStart appends the request line and the headers every request needs:
// Via, Max-Forwards, From, To, Call-ID, CSeq and any Authorization (RFC 3261
// §8.1.1). The Request-URI has uriUser (or none if < 0), To has toUser.
func (r *Request) AppendStart(dst []byte, method string, uriUser, toUser int) []byte {
	p := r.Env.UserPrefix
	return r.appendStart(dst, method, aor{p, uriUser}, aor{p, r.User}, aor{p, toUser})
}

// appendStart is AppendStart with every address named: the Request-URI,
// From and To.
func (r *Request) appendStart(dst []byte, method string, uri, from, to aor) []byte {
	dst = append(dst, method...)
	dst = append(dst, ' ')
	dst = r.appendAOR(dst, uri)
	return r.appendHeaders(dst, method, from, to, nil)
}

// appendHeaders ends the request line written up to the Request-URI and
// appends the headers of appendStart; toTag, if not empty, is the To tag
// of an in-dialog request (RFC 3261 §12.2.1.1).
func (r *Request) appendHeaders(dst []byte, method string, from, to aor, toTag []byte) []byte {
	dst = append(dst, " SIP/2.0\r\nVia: SIP/2.0/"...)
	dst = append(dst, r.Env.Transport...)
	dst = append(dst, ' ')
	dst = append(dst, r.Local...)
	dst = append(dst, ";branch="...)
	dst = r.appendBranch(dst)
	dst = append(dst, ";rport\r\nMax-Forwards: 70\r\nFrom: <"...)
	dst = r.appendAOR(dst, from)
	dst = append(dst, ">;tag="...)
	dst = r.appendTag(dst)
	dst = append(dst, "\r\nTo: <"...)
	dst = r.appendAOR(dst, to)
	dst = append(dst, '>')
	if len(toTag) > 0 {
		dst = append(dst, ";tag="...)
		dst = append(dst, toTag...)
	}
	dst = append(dst, "\r\nCall-ID: "...)
	dst = r.appendCallID(dst)
	dst = append(dst, "\r\nCSeq: "...)
	dst = strconv.AppendUint(dst, uint64(r.CSeq), 10)
	dst = append(dst, ' ')
	dst = append(dst, method...)
	dst = append(dst, "\r\n"...)
	return append(dst, r.auth...)
}

// AppendContact appends a Contact header for the sending user at the local
// socket address.
func (r *Request) AppendContact(dst []byte) []byte {
	dst = append(dst, "Contact: <sip:"...)
	dst = r.AppendUser(dst, r.User)
	dst = append(dst, '@')
	dst = append(dst, r.Local...)
	if r.Env.Transport == "TCP" {
		dst = append(dst, ";transport=tcp"...)
	}
	return append(dst, ">\r\n"...)
}

// AppendBody appends Content-Type (if body is not empty), Content-Length,
// the blank line and the body: the end of every request.
func AppendBody(dst []byte, contentType, body string) []byte {
	if body != "" {
		dst = append(dst, "Content-Type: "...)
		dst = append(dst, contentType...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n\r\n"...)
	return append(dst, body...)
}

// appendBranch writes cookie, run, slot and generation: the response's
// branch leads back to the slot without a lookup (see decodeBranch).
func (r *Request) appendBranch(dst []byte) []byte {
	dst = append(dst, branchCookie...)
	dst = append(dst, r.Env.run...)
	dst = append(dst, '.')
	dst = strconv.AppendUint(dst, uint64(r.slot), 16)
	dst = append(dst, '.')
	return strconv.AppendUint(dst, uint64(r.gen), 16)
}

func (r *Request) appendCallID(dst []byte) []byte {
	dst = append(dst, r.Env.run...)
	dst = append(dst, '-')
	dst = strconv.AppendUint(dst, r.Seq, 16)
	return append(dst, "@b2bua-bench"...)
}

func (r *Request) appendTag(dst []byte) []byte {
	dst = append(dst, 't')
	dst = append(dst, r.Env.run...)
	return strconv.AppendUint(dst, r.Seq, 16)
}

// decodeTag returns the Seq of a From tag written by appendTag, and false
// for a tag that is not of this run. A NOTIFY's To tag is the SUBSCRIBE's
// From tag, so it names the subscription (RFC 6665 §4.1.2).
func decodeTag(b []byte, run string) (uint64, bool) {
	n := 1 + len(run)
	if len(b) <= n || len(b) > n+16 || b[0] != 't' || string(b[1:n]) != run {
		return 0, false
	}
	return parseHex64(b[n:])
}

// parseHex64 reads 1 to 16 lower-case hex digits, all of b.
func parseHex64(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// decodeBranch returns the slot and generation encoded by appendBranch, and
// false for a branch that is not of this run.
func decodeBranch(b []byte, run string) (slot, gen uint32, ok bool) {
	n := len(branchCookie) + len(run)
	if len(b) < n+4 || string(b[:len(branchCookie)]) != branchCookie ||
		string(b[len(branchCookie):n]) != run || b[n] != '.' {
		return 0, 0, false
	}
	b = b[n+1:]
	slot, b, ok = parseHex32(b)
	if !ok || len(b) < 2 || b[0] != '.' {
		return 0, 0, false
	}
	gen, b, ok = parseHex32(b[1:])
	return slot, gen, ok && len(b) == 0
}

// parseHex32 reads 1 to 8 lower-case hex digits.
func parseHex32(b []byte) (uint32, []byte, bool) {
	var v uint32
	i := 0
	for ; i < len(b) && i < 9; i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint32(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint32(c-'a'+10)
		default:
			return v, b[i:], i > 0
		}
		if i == 8 {
			return 0, nil, false
		}
	}
	return v, b[i:], i > 0
}

// requestLine returns the method and Request-URI of a request built by a
// Scenario; Digest needs both (RFC 2617 §3.2.2).
func requestLine(msg []byte) (method, uri []byte) {
	sp := bytes.IndexByte(msg, ' ')
	if sp < 0 {
		return nil, nil
	}
	rest := msg[sp+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 < 0 {
		return msg[:sp], nil
	}
	return msg[:sp], rest[:sp2]
}

func appendInt(dst []byte, n int) []byte { return strconv.AppendInt(dst, int64(n), 10) }
