package digest

import (
	"fmt"

	"github.com/b2bua/b2bua/auth"
	"github.com/b2bua/b2bua/auth/authparam"
)

// maxParams bounds the auth-params of one header, known or not, so a
// hostile header costs a bounded amount of work.
const maxParams = authparam.DefaultMax

// paramScanner walks a comma-separated list of auth-params (RFC 3261 §25.1
// digest-response, RFC 7235 §2.1) with the shared scanner, and turns its
// errors into auth.ErrInvalidRequest (400).
type paramScanner struct {
	authparam.Scanner
}

func newParamScanner(s string) *paramScanner {
	return &paramScanner{authparam.Scanner{S: s, Max: maxParams}}
}

// next returns the next parameter; ok is false at the end of the list.
// Quoted values come back unescaped.
func (p *paramScanner) next() (name, value string, ok bool, err error) {
	param, ok, err := p.Next()
	if err != nil {
		return "", "", false, invalidf("%v", err)
	}
	return param.Name, param.Value, ok, nil
}

// isToken reports whether s is a non-empty token (RFC 3261 §25.1).
func isToken(s string) bool { return authparam.IsToken(s) }

// appendQuoted appends s as a quoted-string, escaping '"' and '\'.
func appendQuoted(b []byte, s string) []byte { return authparam.AppendQuoted(b, s) }

// invalidf returns an error wrapping auth.ErrInvalidRequest.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: digest: %s", auth.ErrInvalidRequest, fmt.Sprintf(format, args...))
}
