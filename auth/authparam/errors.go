package authparam

import "errors"

// Errors of Scanner.Next; each returned error wraps exactly one, with the
// offset or parameter name in its text.
var (
	// ErrSyntax: not an auth-param list (a missing name, '=' or ',').
	ErrSyntax = errors.New("authparam: syntax error")
	// ErrUnterminated: a quoted-string without its closing quote.
	ErrUnterminated = errors.New("authparam: unterminated quoted string")
	// ErrControl: a control character inside a quoted-string.
	ErrControl = errors.New("authparam: control character in quoted string")
	// ErrTooMany: more parameters than the scanner's bound.
	ErrTooMany = errors.New("authparam: too many parameters")
)
