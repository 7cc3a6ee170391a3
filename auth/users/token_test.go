package users

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws"
)

func TestPasswordGrant(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.addUser(t, "alice", "pw")
	r := f.login(t, "alice", "pw", "sip:register sip:presence")
	if r.status != http.StatusOK {
		t.Fatalf("password grant: %d %v", r.status, r.body)
	}
	if r.header.Get("Cache-Control") != "no-store" || r.str("token_type") != "Bearer" ||
		r.body["expires_in"] != float64(900) || r.str("scope") != "sip:presence sip:register" ||
		len(r.str("refresh_token")) != 43 {
		t.Fatalf("response %v, headers %v", r.body, r.header)
	}
	tok, err := f.verify(t, r.str("access_token"))
	if err != nil {
		t.Fatalf("access token does not verify against the served JWKS: %v", err)
	}
	sub, _ := tok.Subject()
	jti, _ := tok.JwtID()
	nbf, _ := tok.NotBefore()
	exp, _ := tok.Expiration()
	var scope, clientID, sipURI string
	_ = tok.Get("scope", &scope)
	_ = tok.Get("client_id", &clientID)
	_ = tok.Get("sip_uri", &sipURI)
	if sub != "alice" || scope != "sip:presence sip:register" || clientID != "sipua" ||
		sipURI != "sip:alice@localhost" || jti == "" || !nbf.Equal(f.clock.Now()) ||
		!exp.Equal(f.clock.Now().Add(15*time.Minute)) {
		t.Fatalf("claims sub=%q scope=%q client_id=%q sip_uri=%q jti=%q nbf=%v exp=%v",
			sub, scope, clientID, sipURI, jti, nbf, exp)
	}
	msg, err := jws.ParseString(r.str("access_token"))
	if err != nil {
		t.Fatal(err)
	}
	hdr := msg.Signatures()[0].ProtectedHeaders()
	typ, _ := hdr.Type()
	kid, _ := hdr.KeyID()
	alg, _ := hdr.Algorithm()
	if typ != "at+jwt" || alg.String() != "ES256" {
		t.Fatalf("header typ=%q alg=%v", typ, alg)
	}
	if _, ok := f.jwks(t).LookupKeyID(kid); !ok {
		t.Fatalf("kid %q not in the served JWKS", kid)
	}

	all := f.login(t, "alice", "pw", "")
	if all.str("scope") != "sip:call sip:presence sip:register" {
		t.Fatalf("absent scope granted %q, want all of the user's", all.str("scope"))
	}
}

func TestTokenErrors(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.addUser(t, "alice", "pw")
	f.addUser(t, "reg", "pw", "sip:register")
	f.addUser(t, "off", "pw")
	if err := f.svc.SetDisabled("off", true); err != nil {
		t.Fatal(err)
	}
	pw := func(user, password, scope string) url.Values {
		v := url.Values{"grant_type": {"password"}, "client_id": {"sipua"}, "username": {user}, "password": {password}}
		if scope != "" {
			v.Set("scope", scope)
		}
		return v
	}
	tests := []struct {
		name   string
		form   url.Values
		basic  string
		status int
		code   string
	}{
		{"wrong password", pw("alice", "nope", ""), "", 400, "invalid_grant"},
		{"unknown user", pw("bob", "pw", ""), "", 400, "invalid_grant"},
		{"disabled user", pw("off", "pw", ""), "", 400, "invalid_grant"},
		{"scope not granted", pw("reg", "pw", "sip:register sip:call"), "", 400, "invalid_scope"},
		{"unknown scope", pw("alice", "pw", "admin"), "", 400, "invalid_scope"},
		{"malformed scope", pw("alice", "pw", "sip:call\\"), "", 400, "invalid_request"},
		{"no password", pw("alice", "", ""), "", 400, "invalid_request"},
		{"unsupported grant", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}}, "", 400, "unsupported_grant_type"},
		{"implicit grant", url.Values{"grant_type": {"token"}}, "", 400, "unsupported_grant_type"},
		{"no grant type", url.Values{"username": {"alice"}}, "", 400, "invalid_request"},
		{"unknown client", url.Values{"grant_type": {"password"}, "client_id": {"evil"}}, "", 401, "invalid_client"},
		{"public client with secret", url.Values{"grant_type": {"password"}, "client_id": {"sipua"}, "client_secret": {"x"}}, "", 401, "invalid_client"},
		{"public client, client_credentials", url.Values{"grant_type": {"client_credentials"}, "client_id": {"sipua"}}, "", 400, "unauthorized_client"},
		{"admin client, password grant", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"pw"}}, "admin:s3cret", 400, "unauthorized_client"},
		{"client_id differs from Basic", pw("alice", "pw", ""), "admin:s3cret", 400, "invalid_request"},
		{"two auth methods", url.Values{"grant_type": {"client_credentials"}, "client_secret": {"s3cret"}}, "admin:s3cret", 400, "invalid_request"},
		{"refresh token missing", url.Values{"grant_type": {"refresh_token"}}, "", 400, "invalid_request"},
		{"refresh token unknown", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}}, "", 400, "invalid_grant"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := f.post(t, PathToken, tc.form, tc.basic)
			wantOAuthError(t, r, tc.status, tc.code)
			if tc.status == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("401 without WWW-Authenticate: Basic: %v", r.header)
			}
		})
	}
}

func TestTokenRequestFraming(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.addUser(t, "alice", "pw")
	body := "grant_type=password&username=alice&password=pw"
	tests := []struct {
		name, ctype, body string
		code              string
	}{
		{"json body", "application/json", `{"grant_type":"password"}`, "invalid_request"},
		{"no content type", "", body, "invalid_request"},
		{"repeated parameter", "application/x-www-form-urlencoded", body + "&password=other", "invalid_request"},
		{"oversized", "application/x-www-form-urlencoded", body + "&pad=" + strings.Repeat("x", maxForm), "invalid_request"},
		{"no client_id means sipua", "application/x-www-form-urlencoded; charset=utf-8", body, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, f.srv.URL+PathToken, strings.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			r := f.do(t, req)
			if tc.code == "" {
				if r.status != 200 || r.str("access_token") == "" {
					t.Fatalf("%d %v", r.status, r.body)
				}
				return
			}
			wantOAuthError(t, r, 400, tc.code)
		})
	}
}

func TestClientCredentials(t *testing.T) {
	phc, err := hashPassword("hashed-secret", cheapHash)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, nil, func(c *Config) {
		c.Clients = append(c.Clients, Client{ID: "presence-gw", Secret: phc, Scopes: []string{"sip:presence"}})
	})
	cc := url.Values{"grant_type": {"client_credentials"}}
	post := url.Values{"grant_type": {"client_credentials"}, "client_id": {"admin"}, "client_secret": {"s3cret"}}
	tests := []struct {
		name   string
		form   url.Values
		basic  string
		status int
		code   string
		scope  string
	}{
		{"basic", cc, "admin:s3cret", 200, "", "users:admin sip:presence"},
		{"client_secret_post", post, "", 200, "", "users:admin sip:presence"},
		{"narrowed scope", url.Values{"grant_type": {"client_credentials"}, "scope": {"sip:presence"}}, "admin:s3cret", 200, "", "sip:presence"},
		{"hashed secret", cc, "presence-gw:hashed-secret", 200, "", "sip:presence"},
		{"wrong secret", cc, "admin:wrong", 401, "invalid_client", ""},
		{"wrong hashed secret", cc, "presence-gw:s3cret", 401, "invalid_client", ""},
		{"no secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {"admin"}}, "", 401, "invalid_client", ""},
		{"scope not granted", url.Values{"grant_type": {"client_credentials"}, "scope": {"sip:call"}}, "admin:s3cret", 400, "invalid_scope", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := f.post(t, PathToken, tc.form, tc.basic)
			if tc.code != "" {
				wantOAuthError(t, r, tc.status, tc.code)
				if r.header.Get("WWW-Authenticate") == "" && tc.status == 401 {
					t.Error("401 without WWW-Authenticate")
				}
				return
			}
			if r.status != 200 || r.str("scope") != tc.scope || r.body["refresh_token"] != nil {
				t.Fatalf("%d %v", r.status, r.body)
			}
			tok, err := f.verify(t, r.str("access_token"))
			if err != nil {
				t.Fatal(err)
			}
			id, _, _ := strings.Cut(tc.basic, ":")
			if id == "" {
				id = "admin"
			}
			var sipURI string
			sub, _ := tok.Subject()
			if sub != id || tok.Get("sip_uri", &sipURI) == nil {
				t.Fatalf("sub=%q sip_uri=%q, want sub=%q and no sip_uri", sub, sipURI, id)
			}
		})
	}
}

func TestRefreshRotation(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.addUser(t, "alice", "pw")
	first := f.login(t, "alice", "pw", "sip:register sip:call")
	rt1 := first.str("refresh_token")

	second := f.refresh(t, rt1)
	rt2 := second.str("refresh_token")
	if second.status != 200 || rt2 == "" || rt2 == rt1 || second.str("access_token") == first.str("access_token") {
		t.Fatalf("refresh: %d %v", second.status, second.body)
	}
	if second.str("scope") != "sip:call sip:register" {
		t.Fatalf("refreshed scope %q", second.str("scope"))
	}
	if _, err := f.verify(t, second.str("access_token")); err != nil {
		t.Fatal(err)
	}
	// A narrower scope for the access token; the refresh token keeps the
	// original grant (RFC 6749 §6).
	narrow := f.post(t, PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt2},
		"scope": {"sip:register"}}, "")
	if narrow.status != 200 || narrow.str("scope") != "sip:register" {
		t.Fatalf("narrowed refresh: %d %v", narrow.status, narrow.body)
	}
	rt3 := narrow.str("refresh_token")
	wider := f.post(t, PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt3},
		"scope": {"sip:register sip:presence"}}, "")
	wantOAuthError(t, wider, 400, "invalid_scope")

	// rt1 was rotated: using it again is reuse, and revokes the family,
	// rt3 (never used) included.
	wantOAuthError(t, f.refresh(t, rt1), 400, "invalid_grant")
	wantOAuthError(t, f.refresh(t, rt3), 400, "invalid_grant")

	// A new login starts a new family.
	if r := f.refresh(t, f.login(t, "alice", "pw", "").str("refresh_token")); r.status != 200 {
		t.Fatalf("refresh of a new family: %d %v", r.status, r.body)
	}
}

func TestRefreshInvalidated(t *testing.T) {
	tests := []struct {
		name   string
		change func(f *fixture)
	}{
		{"expired", func(f *fixture) { f.clock.Advance(30*24*time.Hour + time.Second) }},
		{"password changed", func(f *fixture) { _ = f.svc.SetPassword("alice", "new") }},
		{"user disabled", func(f *fixture) { _ = f.svc.SetDisabled("alice", true) }},
		{"user deleted and re-added", func(f *fixture) {
			_ = f.svc.DeleteUser("alice")
			_ = f.svc.AddUser("alice", "pw", nil)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil, nil)
			f.addUser(t, "alice", "pw")
			rt := f.login(t, "alice", "pw", "").str("refresh_token")
			tc.change(f)
			wantOAuthError(t, f.refresh(t, rt), 400, "invalid_grant")
		})
	}
	t.Run("other client", func(t *testing.T) {
		f := newFixture(t, nil, func(c *Config) {
			c.Clients = append(c.Clients, Client{ID: "softphone", Grants: []string{GrantPassword, GrantRefreshToken}})
		})
		f.addUser(t, "alice", "pw")
		rt := f.login(t, "alice", "pw", "").str("refresh_token")
		r := f.post(t, PathToken, url.Values{"grant_type": {"refresh_token"}, "client_id": {"softphone"},
			"refresh_token": {rt}}, "")
		wantOAuthError(t, r, 400, "invalid_grant")
	})
}

func TestRateLimit(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.addUser(t, "alice", "pw")
	f.addUser(t, "bob", "pw")
	for range userFailures {
		wantOAuthError(t, f.login(t, "alice", "wrong", ""), 400, "invalid_grant")
	}
	r := f.login(t, "alice", "pw", "") // even the right password waits now
	wantOAuthError(t, r, http.StatusTooManyRequests, "temporarily_unavailable")
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
		t.Fatalf("Retry-After = %q", r.header.Get("Retry-After"))
	}
	if r := f.login(t, "bob", "pw", ""); r.status != 200 {
		t.Fatalf("another user is limited too: %d %v", r.status, r.body)
	}
	f.clock.Advance(time.Minute / userFailures)
	if r := f.login(t, "alice", "pw", ""); r.status != 200 {
		t.Fatalf("after the refill: %d %v", r.status, r.body)
	}
	// Successes take nothing: many logins in a row all pass.
	for range 2 * userFailures {
		if r := f.login(t, "bob", "pw", ""); r.status != 200 {
			t.Fatalf("successful logins limited: %d %v", r.status, r.body)
		}
	}
	// The source address: failures spread over many names.
	n := 0
	for ; n <= sourceFailures; n++ {
		if f.login(t, "guess"+strconv.Itoa(n), "x", "").status == http.StatusTooManyRequests {
			break
		}
	}
	if n > sourceFailures {
		t.Fatal("failures from one source are not limited")
	}
	wantOAuthError(t, f.login(t, "bob", "pw", ""), http.StatusTooManyRequests, "temporarily_unavailable")
}

func TestLimiterBounded(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	l := newLimiter(c.Now)
	for i := range maxLimited + 10 {
		l.fail("user"+strconv.Itoa(i), "192.0.2.1")
		c.Advance(time.Millisecond)
	}
	if l.users.Len() > maxLimited || l.sources.Len() != 1 {
		t.Fatalf("users=%d sources=%d", l.users.Len(), l.sources.Len())
	}
	if l.users.has("user0") {
		t.Fatal("the least recently used entry was not evicted")
	}
	c.Advance(time.Hour) // every budget refilled: one eviction pass empties the map
	l.fail("late", "192.0.2.2")
	if l.users.Len() != 1 {
		t.Fatalf("users=%d after refill", l.users.Len())
	}
}

// TestLimiterEviction: a full table drops the entry whose last failure is
// oldest, not the one created first; a look-up (wait) does not count as a
// use; an evicted name starts again with a full budget; and entries whose
// budget has refilled go before any live one.
func TestLimiterEviction(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	l := newLimiter(c.Now)
	for range userFailures {
		l.fail("victim", "192.0.2.1") // victim's budget is spent
	}
	if l.wait("victim", "192.0.2.9") == 0 {
		t.Fatal("victim not limited after its failures")
	}
	for i := 1; i < maxLimited; i++ {
		l.fail("user"+strconv.Itoa(i), "192.0.2.1")
	}
	// Full. Fail user1 again: now victim is the least recently failing.
	l.fail("user1", "192.0.2.1")
	_ = l.wait("victim", "192.0.2.9") // a look-up must not save it
	l.fail("newcomer", "192.0.2.1")
	tests := []struct {
		name string
		held bool
	}{
		{"victim", false}, {"user1", true}, {"user2", true}, {"newcomer", true},
	}
	for _, tt := range tests {
		if got := l.users.has(tt.name); got != tt.held {
			t.Errorf("%s held = %v, want %v", tt.name, got, tt.held)
		}
	}
	if l.users.Len() != maxLimited {
		t.Fatalf("users=%d, want %d", l.users.Len(), maxLimited)
	}
	if d := l.wait("victim", "192.0.2.9"); d != 0 {
		t.Fatalf("evicted victim still waits %v", d)
	}
	// Seconds later nothing has refilled (one failure of userFailures per
	// minute takes 12 s); a minute after the last failures everything has,
	// and one new name prunes them all.
	c.Advance(5 * time.Second)
	l.fail("late", "192.0.2.1")
	if l.users.Len() != maxLimited {
		t.Fatalf("users=%d: live entries were pruned", l.users.Len())
	}
	c.Advance(time.Minute)
	l.fail("later", "192.0.2.1")
	if l.users.Len() != 1 || !l.users.has("later") {
		t.Fatalf("users=%d after refill", l.users.Len())
	}
}
