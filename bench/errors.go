package bench

import "errors"

var (
	// ErrTooManyFailures is returned by Run when the share of failed logical
	// requests exceeds Config.MaxFailures.
	ErrTooManyFailures = errors.New("bench: failure ratio above limit")
	// ErrNothingSent is returned by Run when not one request went out.
	ErrNothingSent = errors.New("bench: no request was sent")
	// ErrBadConfig wraps every validation error of Config.
	ErrBadConfig = errors.New("bench: bad config")
	// ErrUnknownScenario is returned by NewScenario for a name it does not know.
	ErrUnknownScenario = errors.New("bench: unknown scenario")
	// ErrNotSIP is returned by ParseResponse when the input does not start
	// with a SIP/2.0 status line.
	ErrNotSIP = errors.New("bench: not a SIP response")
	// ErrIncomplete is returned by the parsers when the header ends before
	// the blank line; on TCP it means more bytes are needed.
	ErrIncomplete = errors.New("bench: incomplete message")
	// ErrMissingHeader is returned when Call-ID or CSeq is absent or bad.
	ErrMissingHeader = errors.New("bench: missing Call-ID or CSeq")
	// ErrBadChallenge is returned when a WWW-Authenticate or
	// Proxy-Authenticate header cannot be answered.
	ErrBadChallenge = errors.New("bench: unusable digest challenge")
	// ErrToken is returned when bearer tokens cannot be loaded or fetched.
	ErrToken = errors.New("bench: token")
)
