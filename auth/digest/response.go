package digest

import "strings"

// response computes the request-digest the client should have sent
// (RFC 7616 §3.4.1, RFC 2617 §3.2.2.1):
//
//	KD(H(A1), nonce:nc:cnonce:qop:H(A2))  with qop
//	KD(H(A1), nonce:H(A2))                without qop (RFC 2069)
//
// where KD(k, d) = H(k:d), A2 = method:digest-uri and ha1 is H(A1) in
// lower-case hex. The digest is written into dst and returned.
func (a *algorithm) response(dst *[maxSize]byte, ha1 []byte, method string, c *Credentials) []byte {
	var buf [256]byte // grows onto the heap only for long URIs
	var ha2 [2 * maxSize]byte
	b := append(append(append(buf[:0], method...), ':'), c.URI...)
	h2 := a.hexSum(&ha2, b)
	b = append(append(append(buf[:0], ha1...), ':'), c.Nonce...)
	if c.QOP != "" {
		b = append(append(b, ':'), c.NC...)
		b = append(append(b, ':'), c.CNonce...)
		b = append(append(b, ':'), c.QOP...)
	}
	b = append(append(b, ':'), h2...)
	return a.sum(dst, b)
}

// sessionHA1 turns the stored H(username:realm:password) into H(A1) of a
// -sess algorithm, H(H(username:realm:password):nonce:cnonce)
// (RFC 7616 §3.4.2), in dst.
func (a *algorithm) sessionHA1(dst *[2 * maxSize]byte, ha1 []byte, c *Credentials) []byte {
	var buf [256]byte
	b := append(append(append(buf[:0], ha1...), ':'), c.Nonce...)
	b = append(append(b, ':'), c.CNonce...)
	return a.hexSum(dst, b)
}

// lowerHex copies s into dst in lower case if it is 2*size hex digits.
// Stored HA1 values may be upper case; the KD input must be lower case.
func lowerHex(dst *[2 * maxSize]byte, s string, size int) ([]byte, bool) {
	if len(s) != 2*size {
		return nil, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'F' {
			c += 'a' - 'A'
		}
		if _, ok := unhex(c); !ok {
			return nil, false
		}
		dst[i] = c
	}
	return dst[:len(s)], true
}

// decodeHex decodes the hex string s into dst, which must be len(s)/2
// bytes; either case is accepted.
func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

// userURI returns the AOR of user in host, "sip:user@host"
// (RFC 3261 §19.1.1), %-escaping any byte the
// user part may not hold, so that a username such as "bob@evil;x" cannot
// smuggle in another host or URI parameters.
func userURI(user, host string) string {
	var b strings.Builder
	b.Grow(len("sip:@") + len(user) + len(host))
	b.WriteString("sip:")
	for i := 0; i < len(user); i++ {
		c := user[i]
		if isUserChar(c) {
			b.WriteByte(c)
			continue
		}
		const hexDigits = "0123456789ABCDEF"
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0xf])
	}
	b.WriteByte('@')
	b.WriteString(host)
	return b.String()
}

// isUserChar reports whether c is unreserved or user-unreserved
// (RFC 3261 §25.1).
func isUserChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-_.!~*'()&=+$,;?/", c) >= 0
}
