package presence

import (
	"errors"

	"github.com/b2bua/b2bua/actors/registrar"
)

var (
	// ErrUnknownETag is a PUBLISH whose SIP-If-Match names no live
	// publication (RFC 3903 §6 step 4): 412 Conditional Request Failed.
	ErrUnknownETag = errors.New("presence: unknown entity tag")
	// ErrBadEvent is a PUBLISH or SUBSCRIBE for an event package the
	// server does not serve, or none (RFC 6665 §7.2.2): 489 Bad Event.
	ErrBadEvent = errors.New("presence: unsupported event package")
	// ErrNoBody is an initial PUBLISH without a body (RFC 3903 §6 step
	// 4): 400.
	ErrNoBody = errors.New("presence: initial publication without a body")
	// ErrNoSubscription is an in-dialog request for a subscription that
	// does not exist (any more): 481.
	ErrNoSubscription = errors.New("presence: no such subscription")
	// ErrForbidden is a watcher the presentity's policy refuses, or a
	// watcher-info subscription by someone other than the owner: 403.
	ErrForbidden = errors.New("presence: not authorized to watch")
	// ErrTooManyWatchers is a SUBSCRIBE past the presentity's cap: 503.
	ErrTooManyWatchers = errors.New("presence: too many watchers")
	// ErrTooManyDialogs is a SUBSCRIBE past the cap of dialogs one
	// watcher holds to one presentity: 403.
	ErrTooManyDialogs = errors.New("presence: too many subscriptions from this watcher")
	// ErrTooManyPublications is an initial PUBLISH past the cap of
	// publications of one presentity: 403.
	ErrTooManyPublications = errors.New("presence: too many publications")
	// ErrPublishRate is a PUBLISH past the presentity's rate: 503 with
	// Retry-After.
	ErrPublishRate = errors.New("presence: publish rate exceeded")
	// ErrStore is a change that could not be committed; nothing was
	// acknowledged: 500 (503 when the store is busy).
	ErrStore = errors.New("presence: store write failed")
	// ErrInProgress answers a retransmission of a PUBLISH still being
	// written: the edge sends nothing for the copy.
	ErrInProgress = errors.New("presence: retransmission of a request in progress")
	// ErrOutOfOrder is an in-dialog SUBSCRIBE whose CSeq is not above
	// the last one (RFC 3261 §12.2.2): 500.
	ErrOutOfOrder = errors.New("presence: CSeq out of order in the dialog")
	// ErrBadPolicy is a policy or a visibility level the server does not
	// know (admin API: 400).
	ErrBadPolicy = errors.New("presence: unknown policy or visibility")
)

// IntervalTooBriefError is a PUBLISH or SUBSCRIBE asking for an expiry
// shorter than the minimum: 423 with Min-Expires, the registrar's error
// (one type, so the edge adds Min-Expires for every kind alike).
type IntervalTooBriefError = registrar.IntervalTooBriefError
