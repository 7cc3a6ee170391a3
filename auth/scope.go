package auth

import (
	"fmt"
	"strings"
)

// ScopeMap maps a SIP method to the scope a bearer token needs for it.
// Methods match exactly: SIP method names are case-sensitive (RFC 3261
// §7.1). A method that is not in the map, or maps to "", needs no scope.
type ScopeMap map[string]string

// DefaultScopes is the server's default method → scope map:
//
//	REGISTER                                    sip:register
//	PUBLISH, SUBSCRIBE, NOTIFY                  sip:presence
//	INVITE, MESSAGE, REFER, UPDATE, INFO, PRACK sip:call
//
// BYE, ACK, CANCEL and OPTIONS need no scope: ACK and CANCEL cannot be
// challenged (RFC 3261 §22.1), OPTIONS is the phones' keep-alive and
// capability probe, and a BYE belongs to a dialog that was authorised when
// its INVITE was (and the callee, who may hold no token, sends it too).
func DefaultScopes() ScopeMap {
	return ScopeMap{
		"REGISTER":  ScopeRegister,
		"PUBLISH":   ScopePresence,
		"SUBSCRIBE": ScopePresence,
		"NOTIFY":    ScopePresence,
		"INVITE":    ScopeCall,
		"MESSAGE":   ScopeCall,
		"REFER":     ScopeCall,
		"UPDATE":    ScopeCall,
		"INFO":      ScopeCall,
		"PRACK":     ScopeCall,
	}
}

// Check returns nil when id may use method, else a *ScopeError (which
// wraps ErrInsufficientScope and names the scope for the challenge's
// scope= attribute). A nil id has no scope.
func (m ScopeMap) Check(method string, id *Identity) error {
	need := m[method]
	if need == "" || (id != nil && id.HasScope(need)) {
		return nil
	}
	return &ScopeError{Method: method, Scope: need}
}

// ScopeError is an ErrInsufficientScope that names the missing scope.
type ScopeError struct {
	// Method is the SIP method that was refused.
	Method string
	// Scope is the scope it needs.
	Scope string
}

// Error reads "auth: insufficient scope: REGISTER needs sip:register".
func (e *ScopeError) Error() string {
	return ErrInsufficientScope.Error() + ": " + e.Method + " needs " + e.Scope
}

// Unwrap makes errors.Is(err, ErrInsufficientScope) true.
func (e *ScopeError) Unwrap() error { return ErrInsufficientScope }

// RequiredScope is the scope to put in the challenge (RFC 6750 §3 scope).
func (e *ScopeError) RequiredScope() string { return e.Scope }

// MatchIdentity returns nil when id may act as aor, else an error wrapping
// ErrIdentityMismatch. aor is a normalised address-of-record,
// "sip:user@domain"; the user part must match exactly and the host
// case-insensitively (RFC 3261 §19.1.4). sip and sips name the same AOR.
func MatchIdentity(id *Identity, aor string) error {
	if id == nil {
		return fmt.Errorf("%w: no identity", ErrIdentityMismatch)
	}
	iu, ih, ok1 := splitAOR(id.URI)
	au, ah, ok2 := splitAOR(aor)
	if !ok1 || !ok2 || iu != au || !strings.EqualFold(ih, ah) {
		return fmt.Errorf("%w: %q may not act as %q", ErrIdentityMismatch, id.URI, aor)
	}
	return nil
}

// splitAOR splits "sip:user@host" (or sips:) into user and host.
func splitAOR(s string) (user, host string, ok bool) {
	rest, ok := cutScheme(s)
	if !ok {
		return "", "", false
	}
	user, host, ok = strings.Cut(rest, "@")
	return user, host, ok && user != "" && host != ""
}

// cutScheme removes a case-insensitive "sip:" or "sips:".
func cutScheme(s string) (string, bool) {
	for _, p := range [...]string{"sip:", "sips:"} {
		if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
			return s[len(p):], true
		}
	}
	return s, false
}

// identityURI turns an identity claim into a normalised AOR like the
// registrar's (RFC 3261 §10.3 step 5): "sip:user@host" with the host in
// lower case and no port, parameters or headers. A value without "sip:"
// and "@" is a user name in domain. ok is false when no AOR can be made.
func identityURI(v, domain string) (string, bool) {
	rest, hasScheme := cutScheme(v)
	user, host, hasAt := strings.Cut(rest, "@")
	switch {
	case hasAt:
	case hasScheme || domain == "":
		return "", false
	default:
		host = domain
	}
	host = bareHost(host)
	if user == "" || host == "" || strings.ContainsAny(user, "@ \t\r\n\"<>") || strings.ContainsAny(host, " \t\r\n\"<>@") {
		return "", false
	}
	return "sip:" + user + "@" + strings.ToLower(host), true
}

// bareHost strips parameters, headers and the port from a hostport.
func bareHost(h string) string {
	if i := strings.IndexAny(h, ";?"); i >= 0 {
		h = h[:i]
	}
	if strings.HasPrefix(h, "[") { // IPv6 reference
		if i := strings.IndexByte(h, ']'); i >= 0 {
			return h[:i+1]
		}
		return ""
	}
	if i := strings.IndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	return h
}
