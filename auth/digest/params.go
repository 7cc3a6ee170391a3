package digest

import (
	"errors"
	"fmt"
	"strings"

	"github.com/b2bua/b2bua/auth"
)

// maxParams bounds the auth-params of one header, known or not, so a
// hostile header costs a bounded amount of work.
const maxParams = 32

var (
	errUnterminated = errors.New("unterminated quoted string")
	errControl      = errors.New("control character in quoted string")
)

// paramScanner walks a comma-separated list of auth-params
// (RFC 3261 §25.1 digest-response, RFC 7235 §2.1):
//
//	name SWS "=" SWS ( token / quoted-string ) *( SWS "," SWS ... )
//
// Names are tokens. Unquoted values are read leniently, up to the next
// comma or white space, since some phones send uri=sip:host unquoted.
type paramScanner struct {
	s string
	i int
	n int // params returned so far
}

// next returns the next parameter; ok is false at the end of the list.
// Quoted values come back unescaped.
func (p *paramScanner) next() (name, value string, ok bool, err error) {
	p.skipSpace()
	if p.i == len(p.s) {
		return "", "", false, nil
	}
	if p.n > 0 {
		if p.s[p.i] != ',' {
			return "", "", false, invalidf("expected ',' at offset %d", p.i)
		}
		p.i++
		p.skipSpace()
	}
	if p.n++; p.n > maxParams {
		return "", "", false, invalidf("more than %d parameters", maxParams)
	}
	start := p.i
	for p.i < len(p.s) && isTokenChar(p.s[p.i]) {
		p.i++
	}
	if name = p.s[start:p.i]; name == "" {
		return "", "", false, invalidf("expected a parameter name at offset %d", start)
	}
	p.skipSpace()
	if p.i == len(p.s) || p.s[p.i] != '=' {
		return "", "", false, invalidf("parameter %q has no value", name)
	}
	p.i++
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '"' {
		value, err = p.quoted()
	} else {
		value, err = p.bare()
	}
	if err != nil {
		return "", "", false, invalidf("parameter %q: %v", name, err)
	}
	return name, value, true, nil
}

// bare reads an unquoted value.
func (p *paramScanner) bare() (string, error) {
	start := p.i
	for p.i < len(p.s) && isBareChar(p.s[p.i]) {
		p.i++
	}
	if p.i == start {
		return "", fmt.Errorf("empty or malformed value at offset %d", start)
	}
	return p.s[start:p.i], nil
}

// quoted reads a quoted-string starting at the opening quote. It returns
// a substring when nothing is escaped, so the common case does not
// allocate. Control characters are refused, escaped or not.
func (p *paramScanner) quoted() (string, error) {
	start := p.i + 1
	var b []byte // the unescaped value once the first backslash is seen
	for p.i = start; p.i < len(p.s); p.i++ {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			if b == nil {
				return p.s[start : p.i-1], nil
			}
			return string(b), nil
		case c == '\\':
			if b == nil {
				b = append(make([]byte, 0, len(p.s)-start), p.s[start:p.i]...)
			}
			if p.i++; p.i == len(p.s) {
				return "", errUnterminated
			}
			c = p.s[p.i]
		}
		if isCTL(rune(c)) {
			return "", errControl
		}
		if b != nil {
			b = append(b, c)
		}
	}
	return "", errUnterminated
}

func (p *paramScanner) skipSpace() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// isTokenChar reports whether c may appear in a token (RFC 3261 §25.1).
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-.!%*_+`'~", c) >= 0
}

// isBareChar reports whether c may appear in an unquoted value.
func isBareChar(c byte) bool {
	return c > ' ' && c != 0x7f && c != ',' && c != '"' && c != '\\'
}

// isToken reports whether s is a non-empty token.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return s != ""
}

// appendQuoted appends s as a quoted-string, escaping '"' and '\'.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// invalidf returns an error wrapping auth.ErrInvalidRequest.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: digest: %s", auth.ErrInvalidRequest, fmt.Sprintf(format, args...))
}
