package users

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwt"
)

// BenchmarkPasswordGrant is one successful password grant at the default
// (OWASP) argon2id cost, through the handler: the hash check, signing the
// access token and committing the refresh token to bbolt.
func BenchmarkPasswordGrant(b *testing.B) {
	f := newFixture(b, nil, func(c *Config) { c.Hash = HashParams{} })
	f.addUser(b, "alice", "correct horse")
	h := f.svc.Handler()
	body := "grant_type=password&client_id=sipua&username=alice&password=correct+horse"
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, PathToken, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkHashPassword is the argon2id cost alone, at the defaults.
func BenchmarkHashPassword(b *testing.B) {
	p := HashParams{}.withDefaults()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := hashPassword("correct horse", p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIssueAccessToken is a user lookup in the store and an ES256
// signature.
func BenchmarkIssueAccessToken(b *testing.B) {
	f := newFixture(b, nil, nil)
	f.addUser(b, "alice", "pw")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := f.svc.IssueAccessToken("alice", nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyAccessToken is what a verifier holding PublicKeys pays per
// token without a cache of validated tokens.
func BenchmarkVerifyAccessToken(b *testing.B) {
	f := newFixture(b, nil, nil)
	f.addUser(b, "alice", "pw")
	tok, _, err := f.svc.IssueAccessToken("alice", nil)
	if err != nil {
		b.Fatal(err)
	}
	set := f.svc.PublicKeys()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := jwt.ParseString(tok, jwt.WithKeySet(set), jwt.WithValidate(true),
			jwt.WithAudience("sip:localhost"), jwt.WithClock(jwt.ClockFunc(f.clock.Now))); err != nil {
			b.Fatal(err)
		}
	}
}
