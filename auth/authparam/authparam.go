// Package authparam scans and writes the auth-param lists of SIP and HTTP
// authentication headers (RFC 3261 §25.1 digest-response and challenge,
// RFC 7235 §2.1 auth-param):
//
//	auth-param = token SWS "=" SWS ( token / quoted-string )
//	list       = auth-param *( SWS "," SWS auth-param )
//
// It is the one scanner of the repository: auth/digest reads credentials
// with it, auth checks schemes and its tests read challenges with it, and
// bench reads the server's challenges with it.
package authparam

import "fmt"

// DefaultMax bounds the parameters of one list when Scanner.Max is zero,
// so a hostile header costs a bounded amount of work. Digest credentials
// have at most 12 known parameters.
const DefaultMax = 32

// Scanner walks an auth-param list: everything after the scheme and its
// space. The zero value with S set is ready to use.
//
// Names must be tokens; they come back as written (compare them with
// strings.EqualFold: RFC 7235 §2.1 makes them case-insensitive). Quoted
// values come back unescaped and unquoted values as written. Unquoted
// values are read leniently, up to the next comma, space or quote, since
// some phones send uri=sip:host;transport=udp unquoted. White space around
// '=' and ',' may include line folding (CRLF followed by a space or tab).
type Scanner struct {
	S   string
	Max int // parameters allowed; 0 means DefaultMax

	i int
	n int // parameters returned so far
}

// Param is one auth-param.
type Param struct {
	Name, Value string
	// Quoted reports whether Value was written as a quoted-string.
	Quoted bool
}

// Next returns the next parameter; ok is false at the end of the list.
// After an error the scanner stays at the error.
func (p *Scanner) Next() (param Param, ok bool, err error) {
	p.skipSpace()
	if p.i == len(p.S) {
		return Param{}, false, nil
	}
	if p.n > 0 {
		if p.S[p.i] != ',' {
			return Param{}, false, fmt.Errorf("%w: expected ',' at offset %d", ErrSyntax, p.i)
		}
		p.i++
		p.skipSpace()
	}
	max := p.Max
	if max <= 0 {
		max = DefaultMax
	}
	if p.n++; p.n > max {
		return Param{}, false, fmt.Errorf("%w: more than %d", ErrTooMany, max)
	}
	start := p.i
	for p.i < len(p.S) && IsTokenChar(p.S[p.i]) {
		p.i++
	}
	if param.Name = p.S[start:p.i]; param.Name == "" {
		return Param{}, false, fmt.Errorf("%w: expected a parameter name at offset %d", ErrSyntax, start)
	}
	p.skipSpace()
	if p.i == len(p.S) || p.S[p.i] != '=' {
		return Param{}, false, fmt.Errorf("%w: parameter %q has no value", ErrSyntax, param.Name)
	}
	p.i++
	p.skipSpace()
	if p.i < len(p.S) && p.S[p.i] == '"' {
		param.Quoted = true
		param.Value, err = p.quoted()
	} else {
		param.Value, err = p.bare()
	}
	if err != nil {
		return Param{}, false, fmt.Errorf("parameter %q: %w", param.Name, err)
	}
	return param, true, nil
}

// bare reads an unquoted value.
func (p *Scanner) bare() (string, error) {
	start := p.i
	for p.i < len(p.S) && isBareChar(p.S[p.i]) {
		p.i++
	}
	if p.i == start {
		return "", fmt.Errorf("%w: empty or malformed value at offset %d", ErrSyntax, start)
	}
	return p.S[start:p.i], nil
}

// quoted reads a quoted-string starting at the opening quote (RFC 3261
// §25.1: quoted-pair is "\" followed by any character but CR and LF). It
// returns a substring when nothing is escaped, so the common case does not
// allocate. Control characters other than HTAB are refused, escaped or not.
func (p *Scanner) quoted() (string, error) {
	start := p.i + 1
	var b []byte // the unescaped value once the first backslash is seen
	for p.i = start; p.i < len(p.S); p.i++ {
		c := p.S[p.i]
		switch c {
		case '"':
			p.i++
			if b == nil {
				return p.S[start : p.i-1], nil
			}
			return string(b), nil
		case '\\':
			if b == nil {
				b = append(make([]byte, 0, len(p.S)-start), p.S[start:p.i]...)
			}
			if p.i++; p.i == len(p.S) {
				return "", ErrUnterminated
			}
			c = p.S[p.i]
		}
		if isCTL(c) {
			return "", ErrControl
		}
		if b != nil {
			b = append(b, c)
		}
	}
	return "", ErrUnterminated
}

// skipSpace skips SWS: spaces, tabs and line folds (RFC 3261 §25.1 LWS).
func (p *Scanner) skipSpace() {
	for p.i < len(p.S) {
		switch {
		case p.S[p.i] == ' ' || p.S[p.i] == '\t':
			p.i++
		case p.S[p.i] == '\r' && p.i+2 < len(p.S) && p.S[p.i+1] == '\n' && (p.S[p.i+2] == ' ' || p.S[p.i+2] == '\t'):
			p.i += 3
		default:
			return
		}
	}
}

// IsTokenChar reports whether c may appear in a token (RFC 3261 §25.1:
// alphanumerics and -.!%*_+`'~).
func IsTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '!', '%', '*', '_', '+', '`', '\'', '~':
		return true
	}
	return false
}

// IsToken reports whether s is a non-empty token.
func IsToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if !IsTokenChar(s[i]) {
			return false
		}
	}
	return s != ""
}

// isBareChar reports whether c may appear in an unquoted value.
func isBareChar(c byte) bool {
	return c > ' ' && c != 0x7f && c != ',' && c != '"' && c != '\\'
}

// isCTL reports a control character other than HTAB (RFC 5234 CTL).
func isCTL(c byte) bool { return (c < 0x20 && c != '\t') || c == 0x7f }

// AppendQuoted appends s as a quoted-string, escaping '"' and '\'. It does
// not check s: a caller that takes s from outside must refuse CR, LF and
// other control characters first (the scanner reads them back as errors).
func AppendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// AppendParam appends name=value, as a token when value is one and as a
// quoted-string otherwise (or always, when quote is set).
func AppendParam(b []byte, name, value string, quote bool) []byte {
	b = append(append(b, name...), '=')
	if quote || !IsToken(value) {
		return AppendQuoted(b, value)
	}
	return append(b, value...)
}
