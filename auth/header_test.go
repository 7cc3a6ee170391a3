package auth

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/b2bua/b2bua/auth/authparam"
)

func TestParseAuthorization(t *testing.T) {
	digest := `username="alice", realm="example.org", nonce="4a2f", uri="sip:example.org", response="6629fae49393a05397450978507c4ef1"`
	cases := []struct {
		name, in, scheme, cred string
		ok                     bool
	}{
		{"bearer", "Bearer mF_9.B5f-4.1JqM", "Bearer", "mF_9.B5f-4.1JqM", true},
		{"all b64token chars", "Bearer aZ09-._~+/==", "Bearer", "aZ09-._~+/==", true},
		{"lower case", "bearer abc", "Bearer", "abc", true},
		{"upper case, tab, OWS", " \tBEARER\t abc  ", "Bearer", "abc", true},
		{"digest", "Digest " + digest, "Digest", digest, true},
		{"digest lower case, UTF-8", `digest username="ålice"`, "Digest", `username="ålice"`, true},
		{"other scheme", "Basic dXNlcjpwYXNz", "Basic", "dXNlcjpwYXNz", true},
		{"empty", "", "", "", false},
		{"blank", " \t ", "", "", false},
		{"scheme only", "Bearer", "", "", false},
		{"scheme and space", "Bearer ", "", "", false},
		{"two tokens", "Bearer abc def", "", "", false},
		{"= inside", "Bearer abc=def", "", "", false},
		{"= only", "Bearer ==", "", "", false},
		{"quoted", `Bearer "abc"`, "", "", false},
		{"auth-params", `Bearer token="abc"`, "", "", false},
		{"64 KB", "Bearer " + strings.Repeat("A", 64<<10), "", "", false},
		{"just too long", "Bearer " + strings.Repeat("A", MaxTokenLength+1), "", "", false},
		{"longest", "Bearer " + strings.Repeat("A", MaxTokenLength), "Bearer", strings.Repeat("A", MaxTokenLength), true},
		{"CRLF injection", "Bearer abc\r\nVia: x", "", "", false},
		{"NUL", "Digest a=\x00", "", "", false},
		{"bad scheme", "Bear:er abc", "", "", false},
		{"comma scheme", ", Bearer abc", "", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			scheme, cred, err := ParseAuthorization(tc.in)
			if !tc.ok {
				if !errors.Is(err, ErrInvalidRequest) {
					t.Fatalf("ParseAuthorization = %q, %q, %v; want ErrInvalidRequest", scheme, cred, err)
				}
				return
			}
			if err != nil || scheme != tc.scheme || cred != tc.cred {
				t.Fatalf("ParseAuthorization = %q, %q, %v; want %q, %q", scheme, cred, err, tc.scheme, tc.cred)
			}
		})
	}
}

func TestBearerChallenge(t *testing.T) {
	cases := []struct {
		name string
		c    Challenge
		want string
	}{
		{"bare", Challenge{}, "Bearer"},
		{"no credentials", Challenge{Realm: "example.org", AuthzServer: "http://127.0.0.1:8080/oauth/token"},
			`Bearer realm="example.org", authz_server="http://127.0.0.1:8080/oauth/token"`},
		{"RFC 8898 example", Challenge{Realm: "example.org", AuthzServer: "http://127.0.0.1:8080/oauth/token", Scope: ScopeRegister,
			Err: fmt.Errorf("%w: token expired", ErrInvalidToken), Description: "token expired"},
			`Bearer realm="example.org", authz_server="http://127.0.0.1:8080/oauth/token", scope="sip:register", error="invalid_token", error_description="token expired"`},
		{"scope from the error", Challenge{Realm: "r", Err: DefaultScopes().Check("SUBSCRIBE", &Identity{})},
			`Bearer realm="r", scope="sip:presence", error="insufficient_scope"`},
		{"invalid request", Challenge{Realm: "r", Err: errBearerSyntax}, `Bearer realm="r", error="invalid_request"`},
		{"unavailable has no error code", Challenge{Realm: "r", Err: ErrUnavailable, Description: "down"}, `Bearer realm="r"`},
		{"escaped realm", Challenge{Realm: `a"b\c`}, `Bearer realm="a\"b\\c"`},
		{"description kept to RFC 6750 §3 characters", Challenge{Err: ErrInvalidToken, Description: "bad \"x\" \\ y\r\nVia: évil"},
			`Bearer error="invalid_token", error_description="bad 'x' / y  Via: ?vil"`},
		{"long description", Challenge{Err: ErrInvalidToken, Description: strings.Repeat("x", 1000)},
			`Bearer error="invalid_token", error_description="` + strings.Repeat("x", maxDescriptionLength) + `"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := BearerChallenge(tc.c)
			if got != tc.want {
				t.Fatalf("BearerChallenge =\n%s\nwant\n%s", got, tc.want)
			}
			if _, _, err := parseChallenge(got); err != nil {
				t.Fatalf("output does not parse: %v", err)
			}
		})
	}
}

// authParam is one name=value of a challenge, value unquoted.
type authParam struct{ name, value string }

var (
	tokenRE    = regexp.MustCompile(`^[!#$%&'*+\-.^_` + "`" + `|~0-9A-Za-z]+$`)
	b64tokenRE = regexp.MustCompile(`^[A-Za-z0-9\-._~+/]+=*$`)
)

// parseChallenge parses a challenge (RFC 7235 §2.1, RFC 3261 §25.1):
// auth-scheme, then a space and an auth-param list read by the shared
// scanner (auth/authparam), which knows nothing of BearerChallenge.
func parseChallenge(s string) (string, []authParam, error) {
	scheme, rest, _ := strings.Cut(s, " ")
	if !tokenRE.MatchString(scheme) {
		return "", nil, fmt.Errorf("scheme %q", scheme)
	}
	var params []authParam
	p := authparam.Scanner{S: rest}
	for {
		param, ok, err := p.Next()
		if err != nil {
			return "", nil, err
		}
		if !ok {
			return scheme, params, nil
		}
		if !param.Quoted {
			return "", nil, fmt.Errorf("unquoted %s in %q", param.Name, s)
		}
		params = append(params, authParam{strings.ToLower(param.Name), param.Value})
	}
}

func TestScopeMapCheck(t *testing.T) {
	m := DefaultScopes()
	reg := &Identity{Scopes: []string{ScopeRegister}}
	cases := []struct {
		method string
		id     *Identity
		need   string // "" = allowed
	}{
		{"REGISTER", reg, ""},
		{"REGISTER", &Identity{Scopes: []string{ScopeCall}}, ScopeRegister},
		{"REGISTER", nil, ScopeRegister},
		{"INVITE", reg, ScopeCall},
		{"PRACK", reg, ScopeCall},
		{"SUBSCRIBE", reg, ScopePresence},
		{"PUBLISH", &Identity{Scopes: []string{ScopePresence}}, ""},
		{"BYE", nil, ""},
		{"ACK", nil, ""},
		{"CANCEL", nil, ""},
		{"OPTIONS", nil, ""},
		{"register", nil, ""}, // method names are case-sensitive: unknown method
	}
	for _, tc := range cases {
		t.Run(tc.method+"/"+tc.need, func(t *testing.T) {
			err := m.Check(tc.method, tc.id)
			if tc.need == "" {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			var se *ScopeError
			if !errors.Is(err, ErrInsufficientScope) || !errors.As(err, &se) || se.RequiredScope() != tc.need {
				t.Fatalf("Check = %v, want a ScopeError needing %s", err, tc.need)
			}
			if !strings.HasSuffix(err.Error(), ": "+tc.method+" needs "+tc.need) {
				t.Errorf("message %q", err)
			}
		})
	}
}

func TestMatchIdentity(t *testing.T) {
	cases := []struct {
		uri, aor string
		ok       bool
	}{
		{"sip:alice@example.org", "sip:alice@example.org", true},
		{"sip:alice@example.org", "sip:alice@EXAMPLE.org", true},
		{"sips:alice@example.org", "sip:alice@example.org", true},
		{"SIP:alice@example.org", "sip:alice@example.org", true},
		{"sip:alice@example.org", "sip:Alice@example.org", false},
		{"sip:alice@example.org", "sip:bob@example.org", false},
		{"sip:alice@example.org", "sip:alice@example.com", false},
		{"sip:alice@example.org", "sip:alice@example.org.evil", false},
		{"sip:alice@example.org", "sip:alice", false},
		{"", "sip:alice@example.org", false},
		{"sip:@example.org", "sip:@example.org", false},
		{"tel:+123@example.org", "tel:+123@example.org", false},
	}
	for _, tc := range cases {
		t.Run(tc.uri+"~"+tc.aor, func(t *testing.T) {
			err := MatchIdentity(&Identity{URI: tc.uri}, tc.aor)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrIdentityMismatch)) {
				t.Fatalf("MatchIdentity = %v, want ok %v", err, tc.ok)
			}
		})
	}
	if err := MatchIdentity(nil, "sip:alice@example.org"); !errors.Is(err, ErrIdentityMismatch) {
		t.Fatalf("nil identity: %v", err)
	}
}

func TestIdentityURI(t *testing.T) {
	cases := []struct{ in, domain, want string }{
		{"alice", "example.org", "sip:alice@example.org"},
		{"alice", "", ""},
		{"alice@Example.ORG", "", "sip:alice@example.org"},
		{"sip:alice@example.org:5060;transport=tcp?x=y", "", "sip:alice@example.org"},
		{"SIPS:alice@[2001:DB8::1]:5061", "", "sip:alice@[2001:db8::1]"},
		{"sip:example.org", "example.org", ""},
		{"", "example.org", ""},
		{"al ice", "example.org", ""},
		{"alice@", "example.org", ""},
		{"@example.org", "example.org", ""},
		{"a@b@c", "", ""},
	}
	for _, tc := range cases {
		got, ok := identityURI(tc.in, tc.domain)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("identityURI(%q, %q) = %q, %v; want %q", tc.in, tc.domain, got, ok, tc.want)
		}
	}
}
