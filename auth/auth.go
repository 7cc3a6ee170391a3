// Package auth authenticates SIP requests at the edge: bearer tokens
// (RFC 8898, RFC 6750) verified against a JWK set or by introspection
// (RFC 7662), and Digest (RFC 3261 §22, RFC 7616, RFC 8760) in auth/digest.
// The users service and OAuth 2.0 server that issue the tokens are in
// auth/users.
//
// auth imports no actor package and no sipgo server type: the edge calls
// it with header values and gets an *Identity or an error back.
package auth

import (
	"errors"
	"slices"
	"time"
)

// Identity is who a request was authenticated as.
type Identity struct {
	// Subject is the token's subject (or the configured identity claim),
	// or the Digest username.
	Subject string
	// URI is the SIP address-of-record this identity may act as,
	// normalised like registrar.AOR: "sip:user@domain".
	URI string
	// Scopes granted, e.g. "sip:register", "sip:presence", "sip:call".
	Scopes []string
	// Method is "bearer" or "digest".
	Method string
	// TokenID identifies the credential in logs without revealing it: the
	// token's jti, else a short hash prefix of the token.
	TokenID string
	// Expires is when the credential stops being valid; zero when unknown.
	Expires time.Time
}

// HasScope reports whether the identity was granted scope.
func (id *Identity) HasScope(scope string) bool { return slices.Contains(id.Scopes, scope) }

// Scopes the server knows (RFC 8898 leaves their names to the deployment).
const (
	ScopeRegister = "sip:register"
	ScopePresence = "sip:presence"
	ScopeCall     = "sip:call"
	// ScopeAdmin lets a token use the admin HTTP API for every user (e.g.
	// /api/v1/presence/{aor}/watchers); without it a token acts for its
	// own identity only.
	ScopeAdmin = "b2bua:admin"
)

var (
	// ErrNoCredentials: the request carries no Authorization we accept.
	// 401 with a challenge, without error= (RFC 6750 §3.1).
	ErrNoCredentials = errors.New("auth: no credentials")
	// ErrInvalidToken: a bearer token was given but is malformed, expired,
	// revoked, for another issuer or audience, or badly signed.
	// 401 with error="invalid_token".
	ErrInvalidToken = errors.New("auth: invalid token")
	// ErrInvalidRequest: a malformed Authorization header (RFC 6750 §3.1
	// invalid_request): 400.
	ErrInvalidRequest = errors.New("auth: invalid request")
	// ErrInsufficientScope: authenticated, but the token lacks the scope
	// the method needs: 403 with error="insufficient_scope" and scope=.
	ErrInsufficientScope = errors.New("auth: insufficient scope")
	// ErrIdentityMismatch: authenticated, but as someone else than the AOR
	// the request acts for (To of REGISTER, From otherwise): 403.
	ErrIdentityMismatch = errors.New("auth: identity does not match the address-of-record")
	// ErrBadCredentials: Digest with a wrong password or unknown user:
	// 401 with a fresh challenge.
	ErrBadCredentials = errors.New("auth: bad credentials")
	// ErrStaleNonce: Digest with a nonce that expired: 401 with stale=true.
	ErrStaleNonce = errors.New("auth: stale nonce")
	// ErrReplay: Digest with a nonce count already seen: 401.
	ErrReplay = errors.New("auth: replayed nonce count")
	// ErrUnavailable: the authority could not be asked (JWKS or
	// introspection endpoint down): 503, never an acceptance.
	ErrUnavailable = errors.New("auth: authority unavailable")
	// ErrBadChallengeRule: a challenge policy rule that does not parse: a
	// configuration error, never a request's.
	ErrBadChallengeRule = errors.New("auth: bad challenge rule")
)
