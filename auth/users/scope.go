package users

import (
	"fmt"
	"slices"
	"strings"
)

// validScope reports whether s is an RFC 6749 §3.3 scope-token:
// 1*( %x21 / %x23-5B / %x5D-7E ).
func validScope(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func validScopes(scopes []string) error {
	for _, sc := range scopes {
		if !validScope(sc) {
			return fmt.Errorf("%w: %q", ErrInvalidScope, sc)
		}
	}
	return nil
}

// parseScope splits a scope parameter (RFC 6749 §3.3: space-delimited)
// into its sorted, deduplicated tokens. ok is false for a malformed value.
func parseScope(s string) (scopes []string, ok bool) {
	for _, f := range strings.Split(s, " ") {
		if f == "" {
			continue
		}
		if !validScope(f) {
			return nil, false
		}
		scopes = append(scopes, f)
	}
	slices.Sort(scopes)
	return slices.Compact(scopes), true
}

// subset reports whether every scope of want is in have.
func subset(want, have []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// intersect returns the scopes of a that are also in b, in a's order.
func intersect(a, b []string) []string {
	out := make([]string, 0, len(a))
	for _, s := range a {
		if slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

// grantScopes decides the scopes of a grant: requested (nil = absent) must
// be a subset of allowed, and absent means all of allowed (RFC 6749 §3.3
// lets the server pick a default).
func grantScopes(requested, allowed []string) ([]string, error) {
	if requested == nil {
		return slices.Clone(allowed), nil
	}
	if !subset(requested, allowed) {
		return nil, ErrInvalidScope
	}
	return requested, nil
}
