package bench

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"

	"github.com/b2bua/b2bua/auth/authparam"
)

// Challenge is a parsed Digest challenge of WWW-Authenticate or
// Proxy-Authenticate (RFC 2617 §3.2.1, RFC 7616 §3.3, RFC 8760 for SIP).
type Challenge struct {
	Realm     string
	Nonce     string
	Opaque    string
	Algorithm string
	// QOP lists the offered qop values; empty means the RFC 2069 form.
	QOP []string
}

// Credentials answer a Challenge.
type Credentials struct {
	Username string
	Password string
}

// digestHash returns the hash function of a Digest algorithm token and
// whether it is a -sess variant.
func digestHash(alg string) (func() hash.Hash, bool, error) {
	base, sess := strings.CutSuffix(strings.ToUpper(alg), "-SESS")
	switch base {
	case "", "MD5":
		return md5.New, sess, nil
	case "SHA-256":
		return sha256.New, sess, nil
	case "SHA-512-256":
		return sha512.New512_256, sess, nil
	}
	return nil, false, fmt.Errorf("%w: algorithm %q", ErrBadChallenge, alg)
}

// ParseChallenge reads a "Digest k=v, k="v"" header value.
func ParseChallenge(v []byte) (*Challenge, error) {
	s := strings.TrimSpace(string(v))
	scheme, rest := s, ""
	if i := strings.IndexAny(s, " \t\r\n"); i >= 0 {
		scheme, rest = s[:i], s[i+1:]
	}
	if !strings.EqualFold(scheme, "Digest") {
		return nil, fmt.Errorf("%w: scheme %q", ErrBadChallenge, scheme)
	}
	params, err := parseAuthParams(rest)
	if err != nil {
		return nil, err
	}
	c := &Challenge{Realm: params["realm"], Nonce: params["nonce"], Opaque: params["opaque"],
		Algorithm: params["algorithm"]}
	for q := range strings.SplitSeq(params["qop"], ",") {
		if q = strings.TrimSpace(q); q != "" {
			c.QOP = append(c.QOP, q)
		}
	}
	if _, _, err := digestHash(c.Algorithm); err != nil {
		return nil, err
	}
	if c.Nonce == "" {
		return nil, fmt.Errorf("%w: no nonce", ErrBadChallenge)
	}
	return c, nil
}

// parseAuthParams reads comma-separated auth-params (RFC 7235 §2.1, RFC
// 3261 §25.1) with the repository's one scanner; names are lower-cased,
// quoted values unescaped.
func parseAuthParams(s string) (map[string]string, error) {
	m := map[string]string{}
	p := authparam.Scanner{S: strings.TrimLeft(s, " \t\r\n")}
	for {
		param, ok, err := p.Next()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadChallenge, err)
		}
		if !ok {
			return m, nil
		}
		m[strings.ToLower(param.Name)] = param.Value
	}
}

// Response computes the request-digest (RFC 2617 §3.2.2.1, RFC 7616
// §3.4.1). With qop "auth" it is H(HA1:nonce:nc:cnonce:auth:HA2); without
// qop, the RFC 2069 form H(HA1:nonce:HA2). HA1 is H(user:realm:password),
// for -sess H(that:nonce:cnonce); HA2 is H(method:uri).
func (c *Challenge) Response(cred Credentials, method, uri, cnonce string, nc uint32) (string, error) {
	newHash, sess, err := digestHash(c.Algorithm)
	if err != nil {
		return "", err
	}
	h := func(parts ...string) string {
		d := newHash()
		d.Write([]byte(strings.Join(parts, ":")))
		return hex.EncodeToString(d.Sum(nil))
	}
	ha1 := h(cred.Username, c.Realm, cred.Password)
	if sess {
		ha1 = h(ha1, c.Nonce, cnonce)
	}
	ha2 := h(method, uri)
	qop, err := c.qop()
	if err != nil {
		return "", err
	}
	if qop == "" {
		return h(ha1, c.Nonce, ha2), nil
	}
	return h(ha1, c.Nonce, fmt.Sprintf("%08x", nc), cnonce, qop, ha2), nil
}

// qop picks "auth" when offered; auth-int alone is not supported (the
// generator does not hash bodies).
func (c *Challenge) qop() (string, error) {
	if len(c.QOP) == 0 {
		return "", nil
	}
	for _, q := range c.QOP {
		if strings.EqualFold(q, "auth") {
			return "auth", nil
		}
	}
	return "", fmt.Errorf("%w: qop %v without auth", ErrBadChallenge, c.QOP)
}

// Authorization returns the value of the Authorization (or
// Proxy-Authorization) header answering c (RFC 2617 §3.2.2).
func (c *Challenge) Authorization(cred Credentials, method, uri, cnonce string, nc uint32) (string, error) {
	resp, err := c.Response(cred, method, uri, cnonce, nc)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, `Digest username=%s, realm=%s, nonce=%s, uri=%s, response=%s`,
		quote(cred.Username), quote(c.Realm), quote(c.Nonce), quote(uri), quote(resp))
	if c.Algorithm != "" {
		fmt.Fprintf(&b, ", algorithm=%s", c.Algorithm)
	}
	if c.Opaque != "" {
		fmt.Fprintf(&b, ", opaque=%s", quote(c.Opaque))
	}
	if qop, _ := c.qop(); qop != "" {
		fmt.Fprintf(&b, `, qop=%s, nc=%08x, cnonce=%s`, qop, nc, quote(cnonce))
	}
	return b.String(), nil
}

// newCnonce returns 16 random hex digits.
func newCnonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// quote makes a quoted-string (RFC 3261 §25.1): backslash and double quote
// are escaped.
func quote(s string) string { return string(authparam.AppendQuoted(nil, s)) }
