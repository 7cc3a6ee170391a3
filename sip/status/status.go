// Package status is the one place that maps errors to SIP status codes.
//
// Errors arise as sentinels in the packages that detect them (registrar, auth,
// edge sanity checks, ...); the edge calls Of once per failed request. An
// error that knows its own status implements SIPStatus() and answers for
// itself (cf. Caddy's HandlerError, livekit's inviteClassifier).
package status

import (
	"context"
	"errors"

	"github.com/b2bua/b2bua/actors/dialog"
	"github.com/b2bua/b2bua/actors/messaging"
	"github.com/b2bua/b2bua/actors/outbound"
	"github.com/b2bua/b2bua/actors/presence"
	"github.com/b2bua/b2bua/actors/registrar"
	"github.com/b2bua/b2bua/actors/shard"
	"github.com/b2bua/b2bua/auth"
	"github.com/b2bua/b2bua/media"
	"github.com/b2bua/b2bua/media/relay"
	"github.com/b2bua/b2bua/media/sdp"
	"github.com/b2bua/b2bua/pidf"
	"github.com/b2bua/b2bua/store"
)

// SIP status codes the server sends. sipgo has no constants for 412 and 489
// and spells 423 "IntervalToBrief", so every code we send is defined here.
const (
	Trying               = 100
	Ringing              = 180
	OK                   = 200
	Accepted             = 202
	BadRequest           = 400
	Unauthorized         = 401
	Forbidden            = 403
	NotFound             = 404
	MethodNotAllowed     = 405
	RequestTimeout       = 408
	ConditionalFailed    = 412
	RequestTooLarge      = 413
	UnsupportedMediaType = 415
	UnsupportedURIScheme = 416
	BadExtension         = 420
	BusyHere             = 486
	RequestTerminated    = 487
	NotAcceptableHere    = 488
	RequestPending       = 491
	SessionTooSmall      = 422
	IntervalTooBrief     = 423
	TemporarilyUnavail   = 480
	NoSuchDialog         = 481
	LoopDetected         = 482
	TooManyHops          = 483
	BadEvent             = 489
	ServerInternalError  = 500
	NotImplemented       = 501
	ServiceUnavailable   = 503
	VersionNotSupported  = 505
)

// Reason returns the RFC 3261 reason phrase for code.
func Reason(code int) string {
	if r, ok := reasons[code]; ok {
		return r
	}
	return "Unknown"
}

var reasons = map[int]string{
	Trying:               "Trying",
	Ringing:              "Ringing",
	OK:                   "OK",
	Accepted:             "Accepted",
	BadRequest:           "Bad Request",
	Unauthorized:         "Unauthorized",
	Forbidden:            "Forbidden",
	NotFound:             "Not Found",
	MethodNotAllowed:     "Method Not Allowed",
	RequestTimeout:       "Request Timeout",
	ConditionalFailed:    "Conditional Request Failed",
	RequestTooLarge:      "Request Entity Too Large",
	UnsupportedMediaType: "Unsupported Media Type",
	UnsupportedURIScheme: "Unsupported URI Scheme",
	BadExtension:         "Bad Extension",
	BusyHere:             "Busy Here",
	RequestTerminated:    "Request Terminated",
	NotAcceptableHere:    "Not Acceptable Here",
	RequestPending:       "Request Pending",
	SessionTooSmall:      "Session Interval Too Small",
	IntervalTooBrief:     "Interval Too Brief",
	TemporarilyUnavail:   "Temporarily Unavailable",
	NoSuchDialog:         "Call/Transaction Does Not Exist",
	LoopDetected:         "Loop Detected",
	TooManyHops:          "Too Many Hops",
	BadEvent:             "Bad Event",
	ServerInternalError:  "Server Internal Error",
	NotImplemented:       "Not Implemented",
	ServiceUnavailable:   "Service Unavailable",
	VersionNotSupported:  "Version Not Supported",
}

// Error is an error that carries its own SIP status and reason phrase, for
// failures detected at the edge (e.g. "Missing Call-ID").
type Error struct {
	Code   int
	Phrase string
	Err    error
}

// New returns an *Error with code and a reason phrase.
func New(code int, phrase string) *Error { return &Error{Code: code, Phrase: phrase} }

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Phrase + ": " + e.Err.Error()
	}
	return e.Phrase
}

// Unwrap returns the wrapped cause.
func (e *Error) Unwrap() error { return e.Err }

// SIPStatus reports the status and reason phrase of e.
func (e *Error) SIPStatus() (int, string) { return e.Code, e.Phrase }

// Classifier is implemented by errors that know their SIP status.
type Classifier interface {
	SIPStatus() (code int, reason string)
}

type entry struct {
	err    error
	code   int
	reason string
}

// table maps the sentinels of the domain packages to statuses. Keep it in
// step with status_test.go.
var table = []entry{
	{registrar.ErrOutOfOrder, ServerInternalError, "CSeq Out of Order"}, // RFC 3261 §10.3 step 7 says 500
	{registrar.ErrBadWildcard, BadRequest, "Invalid Wildcard Contact"},
	{registrar.ErrTooManyContacts, Forbidden, "Too Many Contacts"},
	{registrar.ErrTooLarge, RequestTooLarge, "Registration Too Large"},
	{store.ErrTooLarge, RequestTooLarge, "Registration Too Large"},
	{store.ErrBusy, ServiceUnavailable, "Store Busy"}, // before ErrStore, which wraps it
	{registrar.ErrStore, ServerInternalError, Reason(ServerInternalError)},
	{shard.ErrInternal, ServerInternalError, Reason(ServerInternalError)},
	{shard.ErrUnavailable, ServiceUnavailable, Reason(ServiceUnavailable)},
	{registrar.ErrNoContact, TemporarilyUnavail, Reason(TemporarilyUnavail)}, // RFC 3261 §21.4.18
	{registrar.ErrTooManyHops, TooManyHops, Reason(TooManyHops)},             // RFC 3261 §16.3 step 3
	{registrar.ErrLoop, LoopDetected, Reason(LoopDetected)},                  // RFC 3261 §16.3 step 4
	{dialog.ErrNoDialog, NoSuchDialog, Reason(NoSuchDialog)},                 // RFC 3261 §12.2.2, §15.1.2
	// Presence (RFC 3903, RFC 6665, RFC 3856). The edge adds Allow-Events
	// to 489, Min-Expires to 423 and Retry-After to a rate 503.
	{presence.ErrUnknownETag, ConditionalFailed, Reason(ConditionalFailed)}, // RFC 3903 §6 step 4
	{presence.ErrBadEvent, BadEvent, Reason(BadEvent)},                      // RFC 6665 §7.2.2
	{presence.ErrNoBody, BadRequest, "Missing Body"},
	{presence.ErrNoSubscription, NoSuchDialog, Reason(NoSuchDialog)},
	{presence.ErrForbidden, Forbidden, Reason(Forbidden)},
	{presence.ErrTooManyWatchers, ServiceUnavailable, "Too Many Watchers"},
	{presence.ErrTooManyDialogs, Forbidden, "Too Many Subscriptions"},
	{presence.ErrTooManyPublications, Forbidden, "Too Many Publications"},
	{presence.ErrPublishRate, ServiceUnavailable, "Publish Rate Exceeded"},
	{presence.ErrStore, ServerInternalError, Reason(ServerInternalError)},
	{presence.ErrOutOfOrder, ServerInternalError, "CSeq Out of Order"}, // RFC 3261 §12.2.2
	{presence.ErrBadPolicy, BadRequest, "Unknown Policy"},
	// MESSAGE (RFC 3428). A full box is 486, not 503: it is one
	// recipient's condition, and a 503 would send RFC 3263 clients to
	// another server for nothing (actors/messaging/doc.go).
	{messaging.ErrUnknownUser, NotFound, Reason(NotFound)},
	{messaging.ErrMailboxFull, BusyHere, "Mailbox Full"},
	{messaging.ErrTooLarge, RequestTooLarge, Reason(RequestTooLarge)},
	{messaging.ErrNoBody, BadRequest, "Missing Body"},
	{messaging.ErrStore, ServerInternalError, Reason(ServerInternalError)},
	{pidf.ErrTooLarge, RequestTooLarge, Reason(RequestTooLarge)},
	{pidf.ErrTooDeep, BadRequest, "Malformed PIDF"},
	{pidf.ErrTooManyElements, BadRequest, "Malformed PIDF"},
	{pidf.ErrMalformed, BadRequest, "Malformed PIDF"},
	{context.DeadlineExceeded, RequestTimeout, Reason(RequestTimeout)},
	// The client port (actors/outbound): no final response in time is 408
	// (RFC 3261 §8.1.3.1, Timer F). A request that could not be sent to the
	// contact is 480: RFC 3261 §16.9 has a proxy take a transport error as
	// a 503 of that branch, and §16.7 step 6 forbids passing a 503 upstream,
	// where it would say that this server is unavailable; the user merely
	// cannot be reached now (§21.4.18). A port that is not running or is
	// full is this server's own trouble: 503.
	{outbound.ErrTimeout, RequestTimeout, Reason(RequestTimeout)},
	{outbound.ErrTransport, TemporarilyUnavail, Reason(TemporarilyUnavail)},
	{outbound.ErrUnavailable, ServiceUnavailable, Reason(ServiceUnavailable)},
	// The media relay: no ports is this server's overload (the call adds
	// Retry-After); an SDP or SRTP offer it cannot relay is 488 (RFC 3261
	// §21.4.26).
	{media.ErrExhausted, ServiceUnavailable, "Media Ports Exhausted"},
	{media.ErrNoCrypto, NotAcceptableHere, "No Usable SRTP Crypto"},
	{relay.ErrCrypto, NotAcceptableHere, "No Usable SRTP Crypto"},
	{sdp.ErrMalformed, NotAcceptableHere, "Malformed SDP"},
	// The edge adds the WWW-Authenticate challenges (RFC 8898, RFC 7616).
	{auth.ErrNoCredentials, Unauthorized, Reason(Unauthorized)},
	{auth.ErrInvalidToken, Unauthorized, Reason(Unauthorized)},
	{auth.ErrBadCredentials, Unauthorized, Reason(Unauthorized)},
	{auth.ErrStaleNonce, Unauthorized, Reason(Unauthorized)},
	{auth.ErrReplay, Unauthorized, Reason(Unauthorized)},
	{auth.ErrInvalidRequest, BadRequest, "Bad Authorization Header"},
	{auth.ErrInsufficientScope, Forbidden, "Insufficient Scope"},
	{auth.ErrIdentityMismatch, Forbidden, "Identity Does Not Match"},
	{auth.ErrUnavailable, ServiceUnavailable, "Authorization Server Unavailable"},
}

// Of returns the SIP status for err. Errors that implement SIPStatus answer
// for themselves; unknown errors are 500 Server Internal Error.
func Of(err error) (int, string) {
	var c Classifier
	if errors.As(err, &c) {
		return c.SIPStatus()
	}
	for _, e := range table {
		if errors.Is(err, e.err) {
			return e.code, e.reason
		}
	}
	return ServerInternalError, Reason(ServerInternalError)
}
