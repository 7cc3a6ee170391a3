package auth

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseAuthorization: whatever the input, a parsed value has a token
// scheme and credentials taken from the input, a Bearer token is a b64token
// that verification's own syntax check accepts, and parsing the
// re-assembled value gives the same result. Seeds: testdata/fuzz/.
func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		"Bearer mF_9.B5f-4.1JqM", "bearer  abc==", "Digest username=\"alice\", nonce=\"x\"",
		"Bearer", "Bearer a b", " \tBEARER\tx ", "Basic dXNlcjpwYXNz", "Bearer abc\r\nVia: x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		scheme, cred, err := ParseAuthorization(value)
		if err != nil {
			if !errors.Is(err, ErrInvalidRequest) || scheme != "" || cred != "" {
				t.Fatalf("error %v with %q, %q", err, scheme, cred)
			}
			return
		}
		if !tokenRE.MatchString(scheme) || cred == "" || !strings.Contains(value, cred) || hasControl(cred) {
			t.Fatalf("ParseAuthorization(%q) = %q, %q", value, scheme, cred)
		}
		if strings.EqualFold(scheme, "bearer") {
			if scheme != "Bearer" || !b64tokenRE.MatchString(cred) || len(cred) > MaxTokenLength || checkToken(cred) != nil {
				t.Fatalf("bearer credentials %q of %q", cred, value)
			}
		}
		s2, c2, err := ParseAuthorization(scheme + " " + cred)
		if err != nil || s2 != scheme || c2 != cred {
			t.Fatalf("round trip of %q: %q, %q, %v; want %q, %q", value, s2, c2, err, scheme, cred)
		}
	})
}

// FuzzBearerChallenge: the output always parses as a Bearer challenge with
// a well-formed auth-param list, carries no CR, LF or other control
// character, keeps printable values intact (unescaped), and keeps
// error_description and scope within RFC 6750 §3's characters.
func FuzzBearerChallenge(f *testing.F) {
	f.Add("example.org", "http://127.0.0.1:8080/oauth/token", "sip:register", "token expired", uint8(1))
	f.Add(`a"b\c`, "", "", "line\r\nVia: x", uint8(2))
	f.Add("", "", "", "ünïcode \x00\x7f", uint8(3))
	f.Fuzz(func(t *testing.T, realm, authz, scope, desc string, kind uint8) {
		errs := []error{nil, ErrInvalidToken, ErrInsufficientScope, ErrInvalidRequest, ErrUnavailable}
		c := Challenge{Realm: realm, AuthzServer: authz, Scope: scope, Err: errs[int(kind)%len(errs)], Description: desc}
		out := BearerChallenge(c)
		if strings.ContainsAny(out, "\r\n\x00") || hasControl(out) {
			t.Fatalf("control character in %q", out)
		}
		scheme, params, err := parseChallenge(out)
		if err != nil || scheme != "Bearer" {
			t.Fatalf("%q does not parse: %v", out, err)
		}
		got := map[string]string{}
		for _, p := range params {
			if _, dup := got[p.name]; dup {
				t.Fatalf("duplicate %s in %q", p.name, out)
			}
			got[p.name] = p.value
		}
		checkValue(t, got, "realm", realm, false)
		checkValue(t, got, "authz_server", authz, false)
		checkValue(t, got, "scope", scope, true)
		if code := errorCode(c.Err); code != got["error"] {
			t.Fatalf("error = %q, want %q", got["error"], code)
		}
		if c.Err != nil && errorCode(c.Err) != "" {
			checkValue(t, got, "error_description", truncate(desc, maxDescriptionLength), true)
		}
	})
}

// checkValue checks one parameter of a challenge against its input: absent
// when empty, equal when printable ASCII (and, if strict, without '"' and
// '\'), else at least printable ASCII.
func checkValue(t *testing.T, got map[string]string, name, in string, strict bool) {
	t.Helper()
	v, ok := got[name]
	if ok != (in != "") {
		t.Fatalf("%s present %v for input %q", name, ok, in)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e || (strict && (c == '"' || c == '\\')) {
			t.Fatalf("%s = %q has %q", name, v, c)
		}
	}
	printable := !strings.ContainsFunc(in, func(r rune) bool {
		return r < 0x20 || r > 0x7e || (strict && (r == '"' || r == '\\'))
	})
	if printable && v != in {
		t.Fatalf("%s = %q, want %q", name, v, in)
	}
}
