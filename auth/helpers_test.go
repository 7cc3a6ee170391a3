package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"go.uber.org/zap"
)

// Test constants shared by the bearer tests.
const (
	testIssuer   = "https://idp.example.org"
	testAudience = "sip.example.org"
	testDomain   = "example.org"
)

// testEpoch is the fake clock's start: fixed so that tokens are stable.
var testEpoch = time.Unix(1_800_000_000, 0)

// fakeClock is a settable clock for BearerConfig.Now.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(testEpoch.UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// Raw keys are generated once per test binary: RSA generation is slow.
var (
	rsaKey = sync.OnceValue(func() *rsa.PrivateKey { k, _ := rsa.GenerateKey(rand.Reader, 2048); return k })
	ecKey  = sync.OnceValue(func() *ecdsa.PrivateKey { k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); return k })
	edKey  = sync.OnceValue(func() ed25519.PrivateKey { _, k, _ := ed25519.GenerateKey(rand.Reader); return k })
)

// testKey is a signing key and the JWK of its public half.
type testKey struct {
	kid  string
	alg  string
	priv crypto.Signer
}

// Keys of the local set: kid → alg. "noalg" is published without alg.
var (
	keyES    = testKey{"es-1", "ES256", nil}
	keyRS    = testKey{"rs-1", "RS256", nil}
	keyEd    = testKey{"ed-1", "EdDSA", nil}
	keyPS    = testKey{"ps-1", "PS256", nil}
	keyRS384 = testKey{"rs384-1", "RS384", nil}
	keyNoAlg = testKey{"noalg", "ES256", nil}
)

// signer returns k with its private key filled in.
func (k testKey) signer() testKey {
	switch k.alg {
	case "ES256":
		k.priv = ecKey()
	case "EdDSA":
		k.priv = edKey()
	default:
		k.priv = rsaKey()
	}
	return k
}

// publicJWK is k's public key as a JWK with kid and, if withAlg, alg.
func publicJWK(t testing.TB, k testKey, withAlg bool) jwk.Key {
	t.Helper()
	pub, err := jwk.Import(k.signer().priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	must(t, pub.Set(jwk.KeyIDKey, k.kid))
	if withAlg {
		alg, _ := jwa.LookupSignatureAlgorithm(k.alg)
		must(t, pub.Set(jwk.AlgorithmKey, alg))
	}
	return pub
}

// keySet builds a public JWK set of keys, all with alg but "noalg".
func keySet(t testing.TB, keys ...testKey) jwk.Set {
	t.Helper()
	set := jwk.NewSet()
	for _, k := range keys {
		must(t, set.AddKey(publicJWK(t, k, k.kid != keyNoAlg.kid)))
	}
	return set
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// claims are good claims at now for subject alice.
func claims(now time.Time) map[string]any {
	return map[string]any{
		"iss": testIssuer, "aud": testAudience, "sub": "alice",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "jti-1",
		"scope": "sip:register sip:call",
	}
}

// sign signs claims with k (jwx), with header typ when typ != "".
func sign(t testing.TB, k testKey, typ string, c map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(c)
	must(t, err)
	h := jws.NewHeaders()
	must(t, h.Set(jws.KeyIDKey, k.kid))
	if typ != "" {
		must(t, h.Set(jws.TypeKey, typ))
	}
	alg, _ := jwa.LookupSignatureAlgorithm(k.alg)
	out, err := jws.Sign(payload, jws.WithKey(alg, k.signer().priv, jws.WithProtectedHeaders(h)))
	must(t, err)
	return string(out)
}

// rawJWT builds a compact JWS from a header and claims with the signature
// mac returns (nil: empty signature), for tokens no library would sign.
func rawJWT(t testing.TB, hdr, c map[string]any, mac func(input []byte) []byte) string {
	t.Helper()
	h, err := json.Marshal(hdr)
	must(t, err)
	p, err := json.Marshal(c)
	must(t, err)
	input := b64(h) + "." + b64(p)
	var sig []byte
	if mac != nil {
		sig = mac([]byte(input))
	}
	return input + "." + b64(sig)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// hmacWithPublicKey is the classic alg-confusion attack: HS256 keyed with
// the bytes of the RSA public key the verifier trusts.
func hmacWithPublicKey(input []byte) []byte {
	der, _ := x509.MarshalPKIXPublicKey(rsaKey().Public())
	m := hmac.New(sha256.New, der)
	m.Write(input)
	return m.Sum(nil)
}

// testConfig is a config trusting the local test keys, on clock.
func testConfig(clock *fakeClock, set jwk.Set) BearerConfig {
	return BearerConfig{
		Issuer: testIssuer, Audience: testAudience, Domain: testDomain,
		LocalKeys: func() jwk.Set { return set },
		Now:       clock.Now,
	}
}

// newTestBearer builds a Bearer and closes it when the test ends.
func newTestBearer(t testing.TB, cfg BearerConfig) *Bearer {
	t.Helper()
	b, err := NewBearer(cfg, zap.NewNop())
	must(t, err)
	t.Cleanup(b.Close)
	return b
}
