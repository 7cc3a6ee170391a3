package digest

import (
	"strings"

	"go.uber.org/zap/zapcore"
)

// Credentials is a parsed Authorization (or Proxy-Authorization) header
// with the Digest scheme (RFC 3261 §25.1 digest-response, RFC 7616 §3.4).
// Values are unquoted and unescaped. Unknown parameters are dropped.
type Credentials struct {
	Username  string
	Realm     string
	Nonce     string
	URI       string // digest-uri
	Response  string // request-digest, hex
	Algorithm string // "" means MD5 (RFC 2617 §3.2.1)
	CNonce    string
	QOP       string // "auth", or "" for an RFC 2069 style answer
	NC        string // nonce count, 8 hex digits
	Opaque    string
	UserHash  bool // RFC 7616 §3.4.4; parsed, but Verify rejects it
}

// Parameter bits, to find duplicates and missing ones.
const (
	pUsername = 1 << iota
	pRealm
	pNonce
	pURI
	pResponse
	pAlgorithm
	pCNonce
	pQOP
	pNC
	pOpaque
	pUserHash

	pRequired = pUsername | pRealm | pNonce | pURI | pResponse
)

// ParseCredentials parses params, everything after "Digest " in an
// Authorization header. Parameter names are case-insensitive. Duplicate
// parameters, unterminated quoted strings, control characters, a missing
// username, realm, nonce, uri or response, a qop without cnonce and nc, an
// nc that is not 8 hex digits and username* (RFC 7616 §3.4.4, not
// supported) all give an error wrapping auth.ErrInvalidRequest.
func ParseCredentials(params string) (*Credentials, error) {
	c := new(Credentials)
	var seen uint
	var unknown [maxParams]string
	nUnknown := 0
	p := newParamScanner(params)
	for {
		name, value, ok, err := p.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		bit, err := c.set(name, value)
		if err != nil {
			return nil, err
		}
		if bit == 0 { // unknown: only check it is not repeated
			for _, u := range unknown[:nUnknown] {
				if strings.EqualFold(u, name) {
					return nil, invalidf("duplicate parameter %q", name)
				}
			}
			unknown[nUnknown], nUnknown = name, nUnknown+1
		} else if seen&bit != 0 {
			return nil, invalidf("duplicate parameter %q", name)
		}
		seen |= bit
	}
	return c, c.complete(seen)
}

// set stores one parameter and returns its bit, 0 if unknown.
func (c *Credentials) set(name, value string) (uint, error) {
	var dst *string
	var bit uint
	switch strings.ToLower(name) {
	case "username":
		dst, bit = &c.Username, pUsername
	case "realm":
		dst, bit = &c.Realm, pRealm
	case "nonce":
		dst, bit = &c.Nonce, pNonce
	case "uri":
		dst, bit = &c.URI, pURI
	case "response":
		dst, bit = &c.Response, pResponse
	case "algorithm":
		dst, bit = &c.Algorithm, pAlgorithm
	case "cnonce":
		dst, bit = &c.CNonce, pCNonce
	case "qop":
		dst, bit = &c.QOP, pQOP
	case "nc":
		dst, bit = &c.NC, pNC
	case "opaque":
		dst, bit = &c.Opaque, pOpaque
	case "userhash":
		return pUserHash, c.setUserHash(value)
	case "username*":
		return 0, invalidf("username* (RFC 7616 §3.4.4) is not supported")
	default:
		return 0, nil
	}
	*dst = value
	return bit, nil
}

func (c *Credentials) setUserHash(value string) error {
	switch {
	case strings.EqualFold(value, "true"):
		c.UserHash = true
	case strings.EqualFold(value, "false"):
		c.UserHash = false
	default:
		return invalidf("userhash must be true or false")
	}
	return nil
}

// complete checks that the parameters that must be there are.
func (c *Credentials) complete(seen uint) error {
	if seen&pRequired != pRequired {
		return invalidf("missing one of username, realm, nonce, uri, response")
	}
	if c.QOP != "" && (c.CNonce == "" || c.NC == "") {
		return invalidf("qop without cnonce and nc")
	}
	if c.NC != "" {
		if _, ok := parseNC(c.NC); !ok {
			return invalidf("nc must be 8 hex digits")
		}
	}
	return nil
}

// parseNC parses a nonce count: exactly 8 hex digits (RFC 7616 §3.4).
func parseNC(s string) (uint32, bool) {
	if len(s) != 8 {
		return 0, false
	}
	var n uint32
	for i := 0; i < len(s); i++ {
		d, ok := unhex(s[i])
		if !ok {
			return 0, false
		}
		n = n<<4 | uint32(d)
	}
	return n, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// appendParams appends c in the form ParseCredentials reads, quoting the
// values RFC 7616 §3.4 quotes and any value that is not a token. Clients
// in tests use it to answer challenges; it is not exported so that the
// response does not end up in a log by way of a String method.
func (c *Credentials) appendParams(b []byte) []byte {
	userhash := ""
	if c.UserHash {
		userhash = "true"
	}
	params := [...]struct {
		name, value      string
		quoted, required bool // an empty optional value is left out
	}{
		{"username", c.Username, true, true},
		{"realm", c.Realm, true, true},
		{"nonce", c.Nonce, true, true},
		{"uri", c.URI, true, true},
		{"response", c.Response, true, true},
		{"algorithm", c.Algorithm, false, false},
		{"cnonce", c.CNonce, true, false},
		{"qop", c.QOP, false, false},
		{"nc", c.NC, false, false},
		{"opaque", c.Opaque, true, false},
		{"userhash", userhash, false, false},
	}
	sep := ""
	for _, p := range params {
		if p.value == "" && !p.required {
			continue
		}
		b = append(append(append(b, sep...), p.name...), '=')
		if p.quoted || !isToken(p.value) {
			b = appendQuoted(b, p.value)
		} else {
			b = append(b, p.value...)
		}
		sep = ", "
	}
	return b
}

// MarshalLogObject logs the credentials without the response, which is
// as good as a password to an offline dictionary attack.
func (c *Credentials) MarshalLogObject(e zapcore.ObjectEncoder) error {
	e.AddString("username", c.Username)
	e.AddString("realm", c.Realm)
	e.AddString("uri", c.URI)
	e.AddString("algorithm", c.Algorithm)
	e.AddString("qop", c.QOP)
	e.AddString("nc", c.NC)
	return nil
}
