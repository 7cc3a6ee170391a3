package auth

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/b2bua/b2bua/auth/authparam"
)

// MaxTokenLength bounds a bearer token. Longer tokens are refused before any
// parsing; real access tokens are well under 2 KB.
const MaxTokenLength = 8 << 10

// maxAuthorizationLength bounds a whole Authorization value (Digest
// parameters included).
const maxAuthorizationLength = 16 << 10

// maxDescriptionLength bounds error_description in a challenge.
const maxDescriptionLength = 256

// Errors of ParseAuthorization, allocated once.
var (
	errHeaderTooLong  = fmt.Errorf("%w: authorization too long", ErrInvalidRequest)
	errHeaderControl  = fmt.Errorf("%w: control character in authorization", ErrInvalidRequest)
	errHeaderScheme   = fmt.Errorf("%w: malformed auth-scheme", ErrInvalidRequest)
	errHeaderEmpty    = fmt.Errorf("%w: no credentials", ErrInvalidRequest)
	errBearerSyntax   = fmt.Errorf("%w: bearer credentials are not a b64token", ErrInvalidRequest)
	errBearerTooLong  = fmt.Errorf("%w: bearer token too long", ErrInvalidRequest)
	errAuthorizEmpty  = fmt.Errorf("%w: empty authorization", ErrInvalidRequest)
	errTokenEmpty     = fmt.Errorf("%w: empty token", ErrInvalidToken)
	errTokenTooLong   = fmt.Errorf("%w: token too long", ErrInvalidToken)
	errTokenMalformed = fmt.Errorf("%w: malformed token", ErrInvalidToken)
)

// ParseAuthorization splits an Authorization header value into its scheme
// and credentials (RFC 7235 §2.1, RFC 3261 §20.7).
//
// The scheme matches case-insensitively and comes back as "Bearer" or
// "Digest" for those two, as written for any other. For Bearer the
// credentials are the token, which must be a b64token (RFC 6750 §2.1:
// token68 syntax) of at most MaxTokenLength bytes. For Digest and other
// schemes they are the raw parameters, trimmed, for auth/digest to parse.
// Missing or malformed credentials, control characters (CR, LF, NUL…) and
// oversized values all wrap ErrInvalidRequest.
func ParseAuthorization(value string) (scheme string, credentials string, err error) {
	v := trimOWS(value)
	switch {
	case v == "":
		return "", "", errAuthorizEmpty
	case len(v) > maxAuthorizationLength:
		return "", "", errHeaderTooLong
	case hasControl(v):
		return "", "", errHeaderControl
	}
	i := strings.IndexAny(v, " \t")
	if i < 0 {
		i = len(v)
	}
	scheme, credentials = v[:i], trimOWS(v[i:])
	if !authparam.IsToken(scheme) { // RFC 3261 §25.1: auth-scheme = token
		return "", "", errHeaderScheme
	}
	if credentials == "" {
		return "", "", errHeaderEmpty
	}
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		if len(credentials) > MaxTokenLength {
			return "", "", errBearerTooLong
		}
		if !isB64Token(credentials) {
			return "", "", errBearerSyntax
		}
		return "Bearer", credentials, nil
	case strings.EqualFold(scheme, "Digest"):
		return "Digest", credentials, nil
	}
	return scheme, credentials, nil
}

// checkToken refuses what cannot be a bearer token before any parsing.
func checkToken(token string) error {
	switch {
	case token == "":
		return errTokenEmpty
	case len(token) > MaxTokenLength:
		return errTokenTooLong
	case !isB64Token(token):
		return errTokenMalformed
	}
	return nil
}

// trimOWS removes leading and trailing spaces and tabs (RFC 7230 OWS).
func trimOWS(s string) string { return strings.Trim(s, " \t") }

// hasControl reports a control character other than HTAB.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return true
		}
	}
	return false
}

// isB64Token reports RFC 6750 §2.1 syntax:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	n := len(s)
	for n > 0 && s[n-1] == '=' {
		n--
	}
	if n == 0 {
		return false
	}
	for i := 0; i < n; i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}

// Challenge is what a Bearer WWW-Authenticate value says (RFC 6750 §3,
// RFC 8898 §2.3).
type Challenge struct {
	// Realm is the protection space, usually the SIP domain.
	Realm string
	// AuthzServer is the authorization server's token endpoint
	// (RFC 8898 §2.3 authz_server).
	AuthzServer string
	// Scope is the scope the request needs; when empty and Err carries a
	// ScopeError, its scope is used.
	Scope string
	// Err selects error=: nil (no error, e.g. no credentials were sent),
	// ErrInvalidToken, ErrInsufficientScope or ErrInvalidRequest, possibly
	// wrapped. Any other error adds no error attribute.
	Err error
	// Description becomes error_description: a short, human-readable
	// reason. Never put a token in it.
	Description string
}

// BearerChallenge renders c as a WWW-Authenticate value, e.g.
//
//	Bearer realm="example.org", authz_server="http://127.0.0.1:8080/oauth/token", error="invalid_token", error_description="token expired"
//
// Empty fields are left out. Every value is a quoted-string: '"' and '\'
// are escaped in realm and authz_server; error_description and scope keep
// to the characters RFC 6750 §3 allows (no '"' or '\'). Control characters
// become spaces and non-ASCII characters '?', so no CR or LF can ever reach
// the header.
func BearerChallenge(c Challenge) string {
	var b strings.Builder
	b.Grow(64 + len(c.Realm) + len(c.AuthzServer) + len(c.Scope) + min(len(c.Description), maxDescriptionLength))
	b.WriteString("Bearer")
	sep := " "
	param := func(name, value string, strict bool) {
		if value == "" {
			return
		}
		b.WriteString(sep)
		b.WriteString(name)
		b.WriteString(`="`)
		writeQuoted(&b, value, strict)
		b.WriteByte('"')
		sep = ", "
	}
	scope := c.Scope
	var se *ScopeError
	if scope == "" && errors.As(c.Err, &se) {
		scope = se.Scope
	}
	param("realm", c.Realm, false)
	param("authz_server", c.AuthzServer, false)
	param("scope", scope, true)
	if code := errorCode(c.Err); code != "" {
		param("error", code, true)
		param("error_description", truncate(c.Description, maxDescriptionLength), true)
	}
	return b.String()
}

// errorCode is the RFC 6750 §3.1 error code of err.
func errorCode(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrInsufficientScope):
		return "insufficient_scope"
	case errors.Is(err, ErrInvalidToken):
		return "invalid_token"
	case errors.Is(err, ErrInvalidRequest):
		return "invalid_request"
	}
	return ""
}

// writeQuoted writes the inside of a quoted-string. strict keeps to
// %x20-21 / %x23-5B / %x5D-7E (RFC 6750 §3) by replacing '"' and '\';
// otherwise they are escaped with a backslash.
func writeQuoted(b *strings.Builder, s string, strict bool) {
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			switch {
			case strict && r == '"':
				b.WriteByte('\'')
			case strict:
				b.WriteByte('/')
			default:
				b.WriteByte('\\')
				b.WriteRune(r)
			}
		case r < 0x20 || r == 0x7f:
			b.WriteByte(' ')
		case r >= utf8.RuneSelf:
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
}

// truncate cuts s to at most n bytes (it is made ASCII afterwards, so a
// split rune only becomes '?').
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
