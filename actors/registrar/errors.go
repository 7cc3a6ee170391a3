package registrar

import (
	"errors"
	"fmt"

	"github.com/b2bua/b2bua/actors/shard"
)

var (
	// ErrOutOfOrder is a REGISTER whose CSeq is not higher than the one of a
	// binding with the same Call-ID: RFC 3261 §10.3 step 7 says 500.
	ErrOutOfOrder = errors.New("registrar: CSeq out of order for this Call-ID")
	// ErrBadWildcard is "Contact: *" with other contacts or a non-zero
	// Expires (RFC 3261 §10.3 step 6): 400.
	ErrBadWildcard = errors.New("registrar: wildcard contact needs Expires: 0 and no other contact")
	// ErrTooManyContacts is a REGISTER that would leave more bindings than
	// the configured maximum.
	ErrTooManyContacts = errors.New("registrar: too many contacts")
	// ErrStore is a change that could not be committed; nothing was
	// acknowledged.
	ErrStore = errors.New("registrar: store write failed")
	// ErrInProgress answers a retransmission that arrived while the
	// original was still being written: the original's answer serves it,
	// and the edge sends nothing for the copy.
	ErrInProgress = errors.New("registrar: retransmission of a request in progress")
	// ErrInternal is a request whose handling failed on a bug (a panic);
	// the actor restarts from the store.
	ErrInternal = shard.ErrInternal
	// ErrTooLarge is a REGISTER whose bindings would make a record larger
	// than the registrar stores (1 MiB): 413.
	ErrTooLarge = errors.New("registrar: registration too large")
	// ErrNoContact is a request for an AOR that has no live binding: 480
	// Temporarily Unavailable (RFC 3261 §21.4.18).
	ErrNoContact = errors.New("registrar: no contact registered")
	// ErrTooManyHops is a request to forward that arrived with
	// Max-Forwards 0: 483 Too Many Hops (RFC 3261 §16.3 step 3).
	ErrTooManyHops = errors.New("registrar: max-forwards exhausted")
	// ErrLoop is a request whose forwarded copy would come back to this
	// server (a contact, source or Path naming one of our listeners): 482
	// Loop Detected (RFC 3261 §16.3 step 4, §21.4.20).
	ErrLoop = errors.New("registrar: contact points back at this server")
)

// IntervalTooBriefError is a request asking for an expiry shorter than the
// minimum: 423 with Min-Expires (RFC 3261 §10.3 step 7 for REGISTER; RFC
// 3903 and RFC 6665 for PUBLISH and SUBSCRIBE, whose kinds use it too).
type IntervalTooBriefError struct {
	MinExpires int
}

func (e *IntervalTooBriefError) Error() string {
	return fmt.Sprintf("interval too brief, min %d s", e.MinExpires)
}

// SIPStatus reports 423 Interval Too Brief.
func (e *IntervalTooBriefError) SIPStatus() (int, string) { return 423, "Interval Too Brief" }
