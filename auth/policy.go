package auth

import (
	"fmt"
	"strings"
)

// ChallengeProfile says which WWW-Authenticate challenges a 401 carries.
//
// No single 401 suits every client. RFC 8898 §2.1 lets a server offer
// Bearer beside Digest, and RFC 8760 §2.4 lets it offer one Digest
// challenge per algorithm, but deployed phones read them badly: Linphone
// (liblinphone 5.1) crashes on a 401 with Digest MD5, Digest SHA-256 and
// Bearer; baresip (libre) gives up on any scheme or algorithm it does not
// know and registers only when MD5 Digest is the single challenge; sipsak
// and SIPp read only the first. An RFC 8898 client, on the other hand,
// must see the Bearer challenge to learn authz_server and scope.
type ChallengeProfile uint8

const (
	// ProfileAuto is a default only: ProfileFull for a request without
	// User-Agent (a library or tool, not a phone), ProfilePhone otherwise.
	ProfileAuto ChallengeProfile = iota
	// ProfilePhone is one Digest challenge, with the first configured
	// algorithm (MD5 by default): what every phone understands. With
	// Digest off it is the Bearer challenge.
	ProfilePhone
	// ProfileFull is every Digest algorithm, preferred first, then Bearer
	// (RFC 8898 §2.3): for RFC 8898 clients.
	ProfileFull
)

var profileNames = [...]string{ProfileAuto: "auto", ProfilePhone: "phone", ProfileFull: "full"}

func (p ChallengeProfile) String() string {
	if int(p) < len(profileNames) {
		return profileNames[p]
	}
	return fmt.Sprintf("ChallengeProfile(%d)", uint8(p))
}

// ParseChallengeProfile reads "auto", "phone" or "full".
func ParseChallengeProfile(s string) (ChallengeProfile, error) {
	for p, name := range profileNames {
		if strings.EqualFold(s, name) {
			return ChallengeProfile(p), nil
		}
	}
	return 0, fmt.Errorf("%w: profile %q: want phone, full or auto", ErrBadChallengeRule, s)
}

// ChallengeRule gives a profile to the requests it matches. Exactly one of
// UserAgent and Domain is set.
type ChallengeRule struct {
	// UserAgent is a case-insensitive pattern of the User-Agent header,
	// where '*' matches any run of characters: "MyBearerApp/*".
	UserAgent string
	// Domain is the host of the address-of-record the request acts for
	// (To of REGISTER, From otherwise), case-insensitive.
	Domain  string
	Profile ChallengeProfile
}

// ChallengePolicy picks the profile of each 401. The zero value is the
// default: Bearer-carrying requests get ProfileFull, every other request
// ProfileAuto.
type ChallengePolicy struct {
	// Rules are tried in order; the first that matches wins.
	Rules []ChallengeRule
	// Default applies when no rule matches (zero: ProfileAuto).
	Default ChallengeProfile
}

// ChallengeRequest is what the policy looks at in a request.
type ChallengeRequest struct {
	// UserAgent is the User-Agent header; HasUserAgent tells an empty one
	// from none.
	UserAgent    string
	HasUserAgent bool
	// Domain is the host of the AOR the request acts for.
	Domain string
	// Bearer is set when the request carried "Authorization: Bearer".
	Bearer bool
}

// Select returns the profile for r: never ProfileAuto.
//
// A request that carried a bearer token always gets ProfileFull: the client
// speaks RFC 8898 and must read error="invalid_token" (RFC 6750 §3.1) to
// know why its token failed. Then the rules, then Default.
func (p *ChallengePolicy) Select(r ChallengeRequest) ChallengeProfile {
	if r.Bearer {
		return ProfileFull
	}
	prof := ProfileAuto
	if p != nil {
		prof = p.Default
		for _, rule := range p.Rules {
			if rule.matches(r) {
				prof = rule.Profile
				break
			}
		}
	}
	if prof == ProfileAuto {
		if r.HasUserAgent {
			return ProfilePhone
		}
		return ProfileFull
	}
	return prof
}

func (rule *ChallengeRule) matches(r ChallengeRequest) bool {
	switch {
	case rule.UserAgent != "":
		return r.HasUserAgent && globFold(rule.UserAgent, r.UserAgent)
	case rule.Domain != "":
		return strings.EqualFold(rule.Domain, r.Domain)
	}
	return false
}

// ParseChallengePolicy reads rules written as
//
//	ua:PATTERN=PROFILE      User-Agent matches PATTERN ('*' is a wildcard)
//	domain:NAME=PROFILE     the request's AOR is in domain NAME
//	default=PROFILE         the profile when no rule matches
//
// The profile is after the last '='. Rules keep their order.
func ParseChallengePolicy(rules []string) (*ChallengePolicy, error) {
	p := &ChallengePolicy{}
	for _, s := range rules {
		i := strings.LastIndexByte(s, '=')
		if i < 0 {
			return nil, fmt.Errorf("%w: %q: want ua:PATTERN=PROFILE, domain:NAME=PROFILE or default=PROFILE", ErrBadChallengeRule, s)
		}
		match, name := strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:])
		prof, err := ParseChallengeProfile(name)
		if err != nil {
			return nil, err
		}
		kind, value, _ := strings.Cut(match, ":")
		value = strings.TrimSpace(value)
		switch {
		case strings.EqualFold(match, "default"):
			p.Default = prof
		case value == "":
			return nil, fmt.Errorf("%w: %q: empty pattern", ErrBadChallengeRule, s)
		case strings.EqualFold(kind, "ua"):
			p.Rules = append(p.Rules, ChallengeRule{UserAgent: value, Profile: prof})
		case strings.EqualFold(kind, "domain"):
			p.Rules = append(p.Rules, ChallengeRule{Domain: value, Profile: prof})
		default:
			return nil, fmt.Errorf("%w: %q: match ua: or domain:", ErrBadChallengeRule, s)
		}
	}
	return p, nil
}

// globFold matches s against pattern case-insensitively, where '*' matches
// any run of bytes (path.Match would stop '*' at the '/' of "Linphone/5.1").
// Greedy with one backtrack point: O(len(pattern)·len(s)) at worst.
func globFold(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && lower(pattern[p]) == lower(s[i]):
			p++
			i++
		case star >= 0:
			p, mark = star+1, mark+1
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
