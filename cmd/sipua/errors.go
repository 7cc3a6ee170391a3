package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/b2bua/b2bua/sip/ua"
)

// Exit codes, documented in README.md and in `sipua --help`.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2 // a bad flag, argument or command
	exitAuth  = 3 // the server refused the credentials
)

// usageError is a command line that cannot run as written.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usageError.
func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// opError is a failed step of a command ("register", "message"): its text is
// the step, then what the SDK said, without the SDK's "ua: " prefix.
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string { return e.op + ": " + describe(e.err) }
func (e *opError) Unwrap() error { return e.err }

// fail wraps err as a failure of op; nil stays nil.
func fail(op string, err error) error {
	if err == nil {
		return nil
	}
	return &opError{op: op, err: err}
}

// describe is the one line sipua prints for err.
func describe(err error) string {
	var op *opError
	if errors.As(err, &op) && op == err {
		return op.Error()
	}
	var s *ua.StatusError
	if errors.As(err, &s) {
		return fmt.Sprintf("%d %s", s.Code, s.Reason)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "no answer in time (--timeout)"
	}
	return strings.TrimPrefix(err.Error(), "ua: ")
}

// exitCode maps err to the process's exit code.
func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) {
		return exitUsage
	}
	if errors.Is(err, ua.ErrAuth) {
		return exitAuth
	}
	var s *ua.StatusError
	if errors.As(err, &s) && (s.Code == 401 || s.Code == 403 || s.Code == 407) {
		return exitAuth
	}
	return exitError
}
