package digest

import (
	"fmt"

	"github.com/b2bua/b2bua/auth"
)

// Errors of Verify. They wrap the auth sentinels, which the edge maps to
// SIP statuses; they are values so the hot path does not allocate.
var (
	errNoCredentials = fmt.Errorf("%w: digest: nil credentials", auth.ErrNoCredentials)
	errForgedNonce   = fmt.Errorf("%w: digest: nonce not issued by this server", auth.ErrBadCredentials)
	errRealm         = fmt.Errorf("%w: digest: realm does not match", auth.ErrBadCredentials)
	errNotOffered    = fmt.Errorf("%w: digest: algorithm not offered", auth.ErrBadCredentials)
	errResponse      = fmt.Errorf("%w: digest: response does not match", auth.ErrBadCredentials)
	errStoredHA1     = fmt.Errorf("%w: digest: stored HA1 is malformed", auth.ErrBadCredentials)
	errExpired       = fmt.Errorf("%w: digest: nonce expired", auth.ErrStaleNonce)
	errEvicted       = fmt.Errorf("%w: digest: nonce evicted from the replay cache", auth.ErrStaleNonce)
	errReplay        = fmt.Errorf("%w: digest: nonce count not above the last one accepted", auth.ErrReplay)
	errUserHash      = fmt.Errorf("%w: digest: userhash (RFC 7616 §3.4.4) is not supported", auth.ErrInvalidRequest)
	errQOP           = fmt.Errorf("%w: digest: only qop=auth is supported", auth.ErrInvalidRequest)
	errNoQOP         = fmt.Errorf("%w: digest: qop=auth is required for this algorithm", auth.ErrInvalidRequest)
	errNC            = fmt.Errorf("%w: digest: nc must be 8 hex digits above 00000000", auth.ErrInvalidRequest)
	errMissing       = fmt.Errorf("%w: digest: empty username, uri or cnonce", auth.ErrInvalidRequest)
)
