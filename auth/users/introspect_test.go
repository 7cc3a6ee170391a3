package users

import (
	"net/url"
	"slices"
	"testing"
	"time"
)

func (f *fixture) introspect(t *testing.T, token, basic string) reply {
	t.Helper()
	return f.post(t, PathIntrospect, url.Values{"token": {token}}, basic)
}

func (f *fixture) revoke(t *testing.T, token, basic string) reply {
	t.Helper()
	form := url.Values{"token": {token}}
	if basic == "" {
		form.Set("client_id", PublicClientID)
	}
	return f.post(t, PathRevoke, form, basic)
}

func TestIntrospectAuth(t *testing.T) {
	f := newFixture(t, nil, nil)
	wantOAuthError(t, f.introspect(t, "x", "admin:wrong"), 401, "invalid_client")
	wantOAuthError(t, f.post(t, PathIntrospect, url.Values{"token": {"x"}, "client_id": {"sipua"}}, ""), 401, "invalid_client")
	wantOAuthError(t, f.post(t, PathIntrospect, url.Values{"token": {"x"}}, ""), 401, "invalid_client")
	wantOAuthError(t, f.introspect(t, "", "admin:s3cret"), 400, "invalid_request")
}

func TestIntrospect(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.addUser(t, "alice", "pw")
	login := f.login(t, "alice", "pw", "sip:register")
	at, rt := login.str("access_token"), login.str("refresh_token")
	cc := f.post(t, PathToken, url.Values{"grant_type": {"client_credentials"}}, "admin:s3cret").str("access_token")

	r := f.introspect(t, at, "admin:s3cret")
	exp := float64(f.clock.Now().Add(15 * time.Minute).Unix())
	if r.status != 200 || r.body["active"] != true || r.str("sub") != "alice" || r.str("scope") != "sip:register" ||
		r.str("client_id") != "sipua" || r.str("token_type") != "Bearer" || r.body["exp"] != exp ||
		r.str("sip_uri") != "sip:alice@localhost" || r.str("username") != "alice" || r.str("iss") != f.cfg.Issuer {
		t.Fatalf("access token: %d %v", r.status, r.body)
	}
	r = f.introspect(t, rt, "admin:s3cret")
	if r.body["active"] != true || r.str("token_type") != "refresh_token" || r.str("sub") != "alice" ||
		r.str("client_id") != "sipua" || r.str("scope") != "sip:register" {
		t.Fatalf("refresh token: %v", r.body)
	}
	r = f.introspect(t, cc, "admin:s3cret")
	if r.body["active"] != true || r.str("sub") != "admin" || r.body["sip_uri"] != nil || r.body["username"] != nil {
		t.Fatalf("client token: %v", r.body)
	}

	other := newFixture(t, nil, nil) // same claims, another key
	other.addUser(t, "alice", "pw")
	foreign, _, _ := other.svc.IssueAccessToken("alice", nil)
	tampered := at[:len(at)-4] + "AAAA"
	for name, tok := range map[string]string{"garbage": "nope", "jwt-like": "a.b.c", "foreign key": foreign,
		"tampered": tampered} {
		if r := f.introspect(t, tok, "admin:s3cret"); r.status != 200 || len(r.body) != 1 || r.body["active"] != false {
			t.Errorf("%s: %d %v, want {active:false}", name, r.status, r.body)
		}
	}

	_ = f.svc.SetDisabled("alice", true)
	for _, tok := range []string{at, rt} {
		if r := f.introspect(t, tok, "admin:s3cret"); r.body["active"] != false {
			t.Fatalf("token of a disabled user active: %v", r.body)
		}
	}
	f.clock.Advance(15 * time.Minute)
	if r := f.introspect(t, cc, "admin:s3cret"); r.body["active"] != false {
		t.Fatalf("expired token active: %v", r.body)
	}
}

func TestRevoke(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.addUser(t, "alice", "pw")
	first := f.login(t, "alice", "pw", "")
	second := f.refresh(t, first.str("refresh_token"))
	at, rt := second.str("access_token"), second.str("refresh_token")

	// RFC 7009 §2.2: unknown and invalid tokens are answered 200 too.
	for _, tok := range []string{"unknown", "a.b.c", "x.y"} {
		if r := f.revoke(t, tok, ""); r.status != 200 {
			t.Fatalf("revoke %q: %d %v", tok, r.status, r.body)
		}
	}
	wantOAuthError(t, f.revoke(t, at, "admin:wrong"), 401, "invalid_client")

	// A public client revokes its own access token: introspection sees it,
	// local verification (the SIP edge) does until exp.
	if r := f.revoke(t, at, ""); r.status != 200 || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("revoke access token: %d %v", r.status, r.body)
	}
	if r := f.introspect(t, at, "admin:s3cret"); r.body["active"] != false {
		t.Fatalf("revoked access token active: %v", r.body)
	}
	if _, err := f.verify(t, at); err != nil {
		t.Fatalf("local verification should not know of revocation: %v", err)
	}

	// The refresh token: its family is revoked.
	if r := f.introspect(t, rt, "admin:s3cret"); r.body["active"] != true {
		t.Fatalf("refresh token inactive before revocation: %v", r.body)
	}
	if r := f.revoke(t, rt, ""); r.status != 200 {
		t.Fatalf("revoke refresh token: %d %v", r.status, r.body)
	}
	wantOAuthError(t, f.refresh(t, rt), 400, "invalid_grant")
	if r := f.introspect(t, rt, "admin:s3cret"); r.body["active"] != false {
		t.Fatalf("revoked refresh token active: %v", r.body)
	}

	// A confidential client may revoke anyone's token; the record of a
	// revoked jti goes away once the token has expired.
	at2 := f.login(t, "alice", "pw", "").str("access_token")
	if r := f.revoke(t, at2, "admin:s3cret"); r.status != 200 {
		t.Fatalf("admin revoke: %d %v", r.status, r.body)
	}
	f.clock.Advance(15 * time.Minute)
	if err := f.svc.Purge(); err != nil {
		t.Fatal(err)
	}
	var left []string
	_ = f.st.Scan(KindRevoked, func(k string, _ []byte) error { left = append(left, k); return nil })
	for _, k := range left {
		if k[:4] == "jti:" {
			t.Fatalf("expired revocation %q not purged (left %q)", k, left)
		}
	}
}

func TestRevokeOtherClientsToken(t *testing.T) {
	f := newFixture(t, nil, func(c *Config) {
		c.Clients = append(c.Clients, Client{ID: "softphone", Grants: []string{GrantPassword, GrantRefreshToken}})
	})
	f.addUser(t, "alice", "pw")
	rt := f.login(t, "alice", "pw", "").str("refresh_token")
	r := f.post(t, PathRevoke, url.Values{"token": {rt}, "client_id": {"softphone"}}, "")
	wantOAuthError(t, r, 400, "unauthorized_client")
	if r := f.refresh(t, rt); r.status != 200 {
		t.Fatalf("refused revocation still revoked: %d %v", r.status, r.body)
	}
}

func TestMetadata(t *testing.T) {
	f := newFixture(t, nil, nil)
	r := f.get(t, PathMetadata)
	base := f.srv.URL
	for key, want := range map[string]string{
		"issuer":                 base,
		"token_endpoint":         base + "/oauth/token",
		"jwks_uri":               base + "/.well-known/jwks.json",
		"introspection_endpoint": base + "/oauth/introspect",
		"revocation_endpoint":    base + "/oauth/revoke",
	} {
		if r.str(key) != want {
			t.Errorf("%s = %q, want %q", key, r.str(key), want)
		}
	}
	list := func(key string) []string {
		var out []string
		for _, v := range r.body[key].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	for key, want := range map[string][]string{
		"grant_types_supported":                 {"password", "refresh_token", "client_credentials"},
		"scopes_supported":                      {"sip:call", "sip:presence", "sip:register", "users:admin"},
		"token_endpoint_auth_methods_supported": {"client_secret_basic", "client_secret_post", "none"},
	} {
		if got := list(key); !slices.Equal(got, want) {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	// The metadata's own endpoint answers what it names.
	if r := f.get(t, "/.well-known/jwks.json"); r.body["keys"] == nil {
		t.Fatalf("jwks_uri: %v", r.body)
	}
}
