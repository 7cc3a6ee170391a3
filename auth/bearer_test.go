package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// localKeys is the local set of the tests: every test key.
func localKeys(t testing.TB) *Bearer {
	t.Helper()
	set := keySet(t, keyES, keyRS, keyEd, keyPS, keyRS384, keyNoAlg)
	return newTestBearer(t, testConfig(newFakeClock(), set))
}

// with returns good claims changed by kv pairs (a nil value deletes).
func with(kv ...any) map[string]any {
	c := claims(testEpoch)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(c, kv[i].(string))
			continue
		}
		c[kv[i].(string)] = kv[i+1]
	}
	return c
}

func TestVerifyRejects(t *testing.T) {
	b := localKeys(t)
	good := sign(t, keyES, "at+jwt", claims(testEpoch))
	parts := strings.Split(good, ".")
	other := sign(t, keyES, "at+jwt", with("sub", "mallory"))
	// Flip a bit of the decoded signature: flipping a base64url character
	// may make it no base64 at all (or a '.'), depending on the random key.
	raw, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	raw[10] ^= 0x01
	sig := base64.RawURLEncoding.EncodeToString(raw)
	cases := []struct {
		name  string
		token string
		want  error
		why   string // expected reason (error_description)
	}{
		{"expired", sign(t, keyES, "", with("exp", testEpoch.Add(-time.Hour).Unix())), ErrInvalidToken, "token expired"},
		{"expired beyond leeway", sign(t, keyES, "", with("exp", testEpoch.Add(-31*time.Second).Unix())), ErrInvalidToken, "token expired"},
		{"no exp", sign(t, keyES, "", with("exp", nil)), ErrInvalidToken, "missing required claim (exp)"},
		{"nbf in the future", sign(t, keyES, "", with("nbf", testEpoch.Add(time.Hour).Unix())), ErrInvalidToken, "token not yet valid"},
		{"iat in the future", sign(t, keyES, "", with("iat", testEpoch.Add(time.Hour).Unix())), ErrInvalidToken, "token issued in the future"},
		{"wrong iss", sign(t, keyES, "", with("iss", "https://evil.example")), ErrInvalidToken, "wrong issuer"},
		{"no iss", sign(t, keyES, "", with("iss", nil)), ErrInvalidToken, "wrong issuer"},
		{"wrong aud", sign(t, keyES, "", with("aud", "other.example")), ErrInvalidToken, "wrong audience"},
		{"no aud", sign(t, keyES, "", with("aud", nil)), ErrInvalidToken, "wrong audience"},
		{"alg none", rawJWT(t, map[string]any{"alg": "none", "kid": keyES.kid}, claims(testEpoch), nil), ErrInvalidToken, "unsigned token (alg none)"},
		{"alg None", rawJWT(t, map[string]any{"alg": "None", "kid": keyES.kid}, claims(testEpoch), nil), ErrInvalidToken, "unsigned token (alg none)"},
		{"no alg", rawJWT(t, map[string]any{"kid": keyES.kid}, claims(testEpoch), nil), ErrInvalidToken, "unsigned token (alg none)"},
		{"HS256 keyed with the public key", rawJWT(t, map[string]any{"alg": "HS256", "kid": keyRS.kid}, claims(testEpoch), hmacWithPublicKey), ErrInvalidToken, "signature algorithm not allowed"},
		{"PS256 not allowed", sign(t, keyPS, "", claims(testEpoch)), ErrInvalidToken, "signature algorithm not allowed"},
		{"RS384 not allowed", sign(t, keyRS384, "", claims(testEpoch)), ErrInvalidToken, "signature algorithm not allowed"},
		{"unknown kid", sign(t, testKey{"nope", "ES256", nil}, "", claims(testEpoch)), ErrInvalidToken, "unknown signing key"},
		{"alg not a string", rawJWT(t, map[string]any{"alg": 256, "kid": keyES.kid}, claims(testEpoch), nil), ErrInvalidToken, "malformed JOSE header"},
		{"kid not a string", rawJWT(t, map[string]any{"alg": "ES256", "kid": []string{keyES.kid}}, claims(testEpoch), nil), ErrInvalidToken, "malformed JOSE header"},
		{"header not an object", b64([]byte(`"ES256"`)) + ".e30.", ErrInvalidToken, "malformed JOSE header"},
		{"no kid", rawJWT(t, map[string]any{"alg": "ES256"}, claims(testEpoch), nil), ErrInvalidToken, "no key id (kid)"},
		{"key without alg", sign(t, keyNoAlg, "", claims(testEpoch)), ErrInvalidToken, "signing key has no alg"},
		{"alg of another key", sign(t, testKey{keyES.kid, "RS256", nil}, "", claims(testEpoch)), ErrInvalidToken, "algorithm does not match the key"},
		{"tampered payload", parts[0] + "." + strings.Split(other, ".")[1] + "." + parts[2], ErrInvalidToken, "bad signature"},
		{"tampered signature", parts[0] + "." + parts[1] + "." + string(sig), ErrInvalidToken, "bad signature"},
		{"truncated signature", parts[0] + "." + parts[1] + "." + parts[2][:20], ErrInvalidToken, "bad signature"},
		{"typ dpop+jwt", sign(t, keyES, "dpop+jwt", claims(testEpoch)), ErrInvalidToken, "not an access token (typ)"},
		{"crit header", rawJWT(t, map[string]any{"alg": "ES256", "kid": keyES.kid, "crit": []string{"exp"}}, claims(testEpoch), nil), ErrInvalidToken, "unsupported critical header"},
		{"garbage", "not a token!", ErrInvalidToken, "malformed token"},
		{"garbage JWT", "abc.def.ghi", ErrInvalidToken, "malformed JOSE header"},
		{"header not JSON", b64([]byte("{{")) + ".e30.", ErrInvalidToken, "malformed JOSE header"},
		{"payload not JSON", parts[0] + "." + b64([]byte("[1,2")) + "." + parts[2], ErrInvalidToken, ""},
		{"empty", "", ErrInvalidToken, "empty token"},
		{"whitespace", "  \t", ErrInvalidToken, "malformed token"},
		{"64 KB", strings.Repeat("a", 64<<10), ErrInvalidToken, "token too long"},
		{"opaque without introspection", "2YotnFZFEjr1zCsicMWpAA", ErrInvalidToken, "not a JWT and no introspection"},
		{"sub not a SIP user", sign(t, keyES, "", with("sub", "a b")), ErrInvalidToken, "identity claim missing or not a SIP address"},
		{"no sub", sign(t, keyES, "", with("sub", nil)), ErrInvalidToken, "identity claim missing or not a SIP address"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, err := b.Verify(context.Background(), tc.token)
			if !errors.Is(err, tc.want) || id != nil {
				t.Fatalf("Verify = %v, %v; want %v", id, err, tc.want)
			}
			if tc.why != "" && !strings.HasSuffix(err.Error(), ": "+tc.why) {
				t.Errorf("reason = %q, want %q", err, tc.why)
			}
			if len(tc.token) > 20 && strings.Contains(err.Error(), tc.token[len(tc.token)-20:]) {
				t.Errorf("error %q quotes the token", err)
			}
		})
	}
}

func TestVerifyAccepts(t *testing.T) {
	b := localKeys(t)
	cases := []struct {
		name   string
		token  string
		scopes []string
	}{
		{"ES256 at+jwt", sign(t, keyES, "at+jwt", claims(testEpoch)), []string{ScopeRegister, ScopeCall}},
		{"RS256 JWT", sign(t, keyRS, "JWT", claims(testEpoch)), []string{ScopeRegister, ScopeCall}},
		{"EdDSA no typ", sign(t, keyEd, "", claims(testEpoch)), []string{ScopeRegister, ScopeCall}},
		{"application/at+jwt", sign(t, keyES, "application/at+jwt", with("jti", "x")), []string{ScopeRegister, ScopeCall}},
		{"scp array", sign(t, keyES, "", with("scope", nil, "scp", []string{ScopePresence})), []string{ScopePresence}},
		{"no scope", sign(t, keyES, "", with("scope", nil)), nil},
		{"expired within leeway", sign(t, keyES, "", with("exp", testEpoch.Add(-10*time.Second).Unix(), "jti", "y")), []string{ScopeRegister, ScopeCall}},
		{"aud array", sign(t, keyES, "", with("aud", []string{"x", testAudience}, "jti", "z")), []string{ScopeRegister, ScopeCall}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, err := b.Verify(context.Background(), tc.token)
			if err != nil {
				t.Fatal(err)
			}
			if id.URI != "sip:alice@example.org" || id.Subject != "alice" || id.Method != "bearer" {
				t.Errorf("identity = %+v", id)
			}
			if !slices.Equal(id.Scopes, tc.scopes) {
				t.Errorf("scopes = %q, want %q", id.Scopes, tc.scopes)
			}
			if id.Expires.IsZero() || id.TokenID == "" {
				t.Errorf("expires %v, token id %q", id.Expires, id.TokenID)
			}
		})
	}
}

func TestIdentityClaim(t *testing.T) {
	set := keySet(t, keyES)
	cases := []struct {
		name, claim, domain string
		extra               map[string]any
		want                string // "" = rejected
	}{
		{"sub in domain", "sub", testDomain, nil, "sip:alice@example.org"},
		{"sub without domain", "sub", "", nil, ""},
		{"sub with host", "sub", "", map[string]any{"sub": "dave@Other.Example"}, "sip:dave@other.example"},
		{"sip_uri", "sip_uri", testDomain, map[string]any{"sip_uri": "sips:Bob@Example.ORG:5061;transport=tls"}, "sip:Bob@example.org"},
		{"sip_uri without user", "sip_uri", testDomain, map[string]any{"sip_uri": "sip:example.org"}, ""},
		{"sip_uri not a string", "sip_uri", testDomain, map[string]any{"sip_uri": 42}, ""},
		{"preferred_username", "preferred_username", "Example.ORG", map[string]any{"preferred_username": "carol"}, "sip:carol@example.org"},
		{"preferred_username missing", "preferred_username", testDomain, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(newFakeClock(), set)
			cfg.IdentityClaim, cfg.Domain = tc.claim, tc.domain
			b := newTestBearer(t, cfg)
			c := claims(testEpoch)
			maps.Copy(c, tc.extra)
			id, err := b.Verify(context.Background(), sign(t, keyES, "", c))
			switch {
			case tc.want == "" && !errors.Is(err, ErrInvalidToken):
				t.Fatalf("Verify = %+v, %v; want ErrInvalidToken", id, err)
			case tc.want != "" && (err != nil || id.URI != tc.want):
				t.Fatalf("Verify = %+v, %v; want URI %s", id, err, tc.want)
			}
		})
	}
}

func TestNewBearerConfig(t *testing.T) {
	keys := keySet(t, keyES)
	local := BearerConfig{LocalKeys: func() jwk.Set { return keys }}
	cases := []struct {
		name string
		mod  func(*BearerConfig)
		ok   bool
	}{
		{"defaults", func(*BearerConfig) {}, true},
		{"no key source", func(c *BearerConfig) { c.LocalKeys = nil }, false},
		{"HS256", func(c *BearerConfig) { c.Algorithms = []string{"HS256"} }, false},
		{"none", func(c *BearerConfig) { c.Algorithms = []string{"ES256", "none"} }, false},
		{"ES384 and PS256", func(c *BearerConfig) { c.Algorithms = []string{"ES384", "PS256"} }, true},
		{"negative leeway", func(c *BearerConfig) { c.Leeway = -time.Second }, false},
		{"introspection without URL", func(c *BearerConfig) { c.Introspection = &IntrospectionConfig{ClientID: "x"} }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := local
			tc.mod(&cfg)
			b, err := NewBearer(cfg, nil)
			if (err == nil) != tc.ok {
				t.Fatalf("NewBearer err = %v, want ok %v", err, tc.ok)
			}
			if b != nil {
				b.Close()
				b.Close() // idempotent
			}
		})
	}
}

func TestVerifyCache(t *testing.T) {
	clock := newFakeClock()
	b := newTestBearer(t, testConfig(clock, keySet(t, keyES)))
	tok := sign(t, keyES, "at+jwt", with("exp", testEpoch.Add(time.Minute).Unix()))
	first, err := b.Verify(context.Background(), tok)
	must(t, err)
	second, err := b.Verify(context.Background(), tok)
	must(t, err)
	if n := b.sigChecks.Load(); n != 1 || first != second {
		t.Fatalf("signature checks = %d (want 1), same identity %v", n, first == second)
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = b.Verify(context.Background(), tok) }); allocs != 0 {
		t.Errorf("cached Verify allocates %v times", allocs)
	}
	clock.Advance(time.Minute) // at exp the cache no longer answers (jwx still accepts: leeway)
	if _, err := b.Verify(context.Background(), tok); err != nil || b.sigChecks.Load() != 2 {
		t.Fatalf("at exp: %v, signature checks %d (want 2)", err, b.sigChecks.Load())
	}
	clock.Advance(time.Minute) // beyond the leeway
	if _, err := b.Verify(context.Background(), tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("after exp+leeway: %v", err)
	}
}

func TestVerifyCacheIsBounded(t *testing.T) {
	cfg := testConfig(newFakeClock(), keySet(t, keyES))
	cfg.CacheSize = 2
	b := newTestBearer(t, cfg)
	for i := range 5 {
		_, err := b.Verify(context.Background(), sign(t, keyES, "", with("jti", string(rune('a'+i)))))
		must(t, err)
	}
	if n := b.cache.lru.Len(); n != 2 {
		t.Fatalf("cache holds %d tokens, want 2", n)
	}
}

func TestCachedNeverVerifies(t *testing.T) {
	b := newTestBearer(t, testConfig(newFakeClock(), keySet(t, keyES)))
	tok := sign(t, keyES, "", claims(testEpoch))
	if _, ok := b.Cached(tok); ok {
		t.Fatal("an unverified token is cached")
	}
	if _, err := b.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if id, ok := b.Cached(tok); !ok || id.Subject == "" {
		t.Fatalf("a verified token is not cached: %v %v", id, ok)
	}
	if _, ok := b.Cached(strings.Repeat("a", MaxTokenLength+1)); ok {
		t.Fatal("an oversized token is cached")
	}
}
