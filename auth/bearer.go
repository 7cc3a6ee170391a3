package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"go.uber.org/zap"
)

// Defaults of BearerConfig.
const (
	// DefaultLeeway is the clock skew allowed for exp, nbf and iat.
	DefaultLeeway = 30 * time.Second
	// DefaultCacheSize is how many validated tokens are cached.
	DefaultCacheSize = 100_000
	// DefaultHTTPTimeout bounds a JWKS fetch or an introspection request.
	DefaultHTTPTimeout = 5 * time.Second
	// DefaultIdentityClaim is the claim naming the SIP identity.
	DefaultIdentityClaim = "sub"
)

// BearerConfig configures a Bearer verifier. Zero fields take the defaults
// documented on each; at least one of LocalKeys, JWKSURI and Introspection
// must be set.
type BearerConfig struct {
	// Issuer is the required iss ("" = not checked).
	Issuer string
	// Audience is the required aud ("" = not checked).
	Audience string
	// Leeway is the clock skew allowed for exp, nbf and iat; default 30 s.
	Leeway time.Duration
	// Algorithms is the allow-list of JWS algorithms; default RS256, ES256,
	// EdDSA. Only asymmetric algorithms are accepted: never "none", never HS*.
	Algorithms []string
	// IdentityClaim is the claim naming the SIP identity; default "sub".
	// E.g. "sip_uri" or "preferred_username".
	IdentityClaim string
	// Domain is the SIP domain: a claim value without "sip:" and "@"
	// becomes sip:<value>@<Domain>.
	Domain string
	// LocalKeys returns the public keys of the built-in users service (may
	// be nil). It is called on every verification that misses the token
	// cache, so it must be cheap; it changes on key rotation.
	LocalKeys func() jwk.Set
	// JWKSURI is a remote JWK set (may be ""), fetched honouring
	// Cache-Control, refreshed in the background and, at most once per
	// 10 s, when a token names an unknown kid.
	JWKSURI string
	// Introspection is an RFC 7662 endpoint for opaque tokens (may be nil).
	Introspection *IntrospectionConfig
	// CacheSize bounds the validated-token cache; default 100000.
	CacheSize int
	// HTTPClient fetches the JWKS and asks the introspection endpoint;
	// default a client with a 5 s timeout.
	HTTPClient *http.Client
	// Now is the clock, for tests; default time.Now.
	Now func() time.Time
}

// IntrospectionConfig names an RFC 7662 token introspection endpoint.
type IntrospectionConfig struct {
	// URL of the endpoint; the request is a POST (RFC 7662 §2.1).
	URL string
	// ClientID and ClientSecret authenticate this server to the endpoint
	// with HTTP Basic (RFC 6749 §2.3.1).
	ClientID, ClientSecret string
	// Always introspects every token, JWTs too, instead of verifying JWTs
	// locally: revocation then takes effect within the 60 s cache time.
	Always bool
}

// Bearer verifies RFC 6750 bearer tokens: JWTs (RFC 9068 access tokens or
// plain JWTs) against local and remote JWK sets, and opaque tokens by
// introspection. Validated tokens are cached until they expire. A Bearer
// is safe for concurrent use; Close stops its background work.
type Bearer struct {
	cfg    BearerConfig
	log    *zap.Logger
	now    func() time.Time
	client *http.Client
	ownsHC bool // client was made here: Close closes its idle connections

	jwt    *jwtVerifier  // nil when neither LocalKeys nor JWKSURI is set
	remote *remoteKeys   // nil without JWKSURI
	intro  *introspector // nil without Introspection
	cache  *tokenCache   // validated tokens by sha256
	closed atomic.Bool

	// sigChecks counts signature verifications (a test hook: cache hits
	// must not add to it).
	sigChecks atomic.Int64
}

// NewBearer checks cfg, fills in its defaults and starts the background
// refresh of the remote JWK set, if any. Close the Bearer when done.
func NewBearer(cfg BearerConfig, log *zap.Logger) (*Bearer, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	b := &Bearer{cfg: cfg, log: log, now: cfg.Now, client: cfg.HTTPClient}
	if b.client == nil {
		b.client, b.ownsHC = newHTTPClient(), true
	}
	cache, err := newTokenCache(cfg.CacheSize)
	if err != nil {
		return nil, err
	}
	b.cache = cache
	if cfg.Introspection != nil {
		b.intro = newIntrospector(cfg, b.client)
	}
	if cfg.JWKSURI != "" {
		b.remote = newRemoteKeys(cfg.JWKSURI, b.client, cfg.Now, log)
	}
	if cfg.LocalKeys != nil || b.remote != nil {
		b.jwt = newJWTVerifier(cfg, b.remote, &b.sigChecks)
	}
	if b.remote != nil {
		b.remote.start()
	}
	return b, nil
}

// setDefaults validates c and fills in its zero fields.
func (c *BearerConfig) setDefaults() error {
	if c.LocalKeys == nil && c.JWKSURI == "" && c.Introspection == nil {
		return errors.New("auth: bearer: no LocalKeys, JWKSURI or Introspection")
	}
	if c.Leeway < 0 || c.CacheSize < 0 {
		return errors.New("auth: bearer: negative Leeway or CacheSize")
	}
	if c.Leeway == 0 {
		c.Leeway = DefaultLeeway
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.IdentityClaim == "" {
		c.IdentityClaim = DefaultIdentityClaim
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.Domain = strings.ToLower(c.Domain)
	if len(c.Algorithms) == 0 {
		c.Algorithms = []string{"RS256", "ES256", "EdDSA"}
	}
	for _, a := range c.Algorithms {
		if _, ok := allowedAlgorithms[a]; !ok {
			return fmt.Errorf("auth: bearer: algorithm %q not allowed (asymmetric JWS algorithms only)", a)
		}
	}
	if in := c.Introspection; in != nil && (in.URL == "" || in.ClientID == "") {
		return errors.New("auth: bearer: introspection needs URL and ClientID")
	}
	return nil
}

func newHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	return &http.Client{Timeout: DefaultHTTPTimeout, Transport: tr}
}

// Verify checks token and returns who it authenticates, with Method
// "bearer". Errors wrap ErrInvalidToken (with a short reason fit for
// error_description) or ErrUnavailable when the JWKS or introspection
// endpoint could not be asked. ctx bounds any remote call.
//
// The returned Identity may be shared with other callers through the
// cache: treat it as read-only.
func (b *Bearer) Verify(ctx context.Context, token string) (*Identity, error) {
	if token == "" || len(token) > MaxTokenLength {
		return nil, checkToken(token)
	}
	key := tokenKey(token)
	now := b.now()
	if id, ok := b.cache.get(key, now); ok {
		return id, nil
	}
	if err := checkToken(token); err != nil {
		return nil, err
	}
	id, until, err := b.verifyUncached(ctx, token, key)
	if err != nil {
		b.logResult(key, nil, err)
		return nil, err
	}
	b.cache.add(key, id, until)
	b.logResult(key, id, nil)
	return id, nil
}

// Cached returns the identity of token when a still valid verification of
// it is cached. It never blocks, so a caller may try it on a goroutine that
// must not wait (the SIP edge's UDP read loop) and call Verify elsewhere
// only on a miss.
func (b *Bearer) Cached(token string) (*Identity, bool) {
	if token == "" || len(token) > MaxTokenLength {
		return nil, false
	}
	return b.cache.get(tokenKey(token), b.now())
}

// verifyUncached verifies token without the cache and returns how long its
// result may be cached.
func (b *Bearer) verifyUncached(ctx context.Context, token string, key [32]byte) (*Identity, time.Time, error) {
	isJWT := strings.Count(token, ".") == 2
	switch {
	case b.intro != nil && (b.cfg.Introspection.Always || !isJWT || b.jwt == nil):
		return b.intro.introspect(ctx, token, tokenHash(key), b.now())
	case b.jwt == nil:
		return nil, time.Time{}, fmt.Errorf("%w: JWT but no keys configured", ErrInvalidToken)
	case !isJWT:
		return nil, time.Time{}, fmt.Errorf("%w: not a JWT and no introspection", ErrInvalidToken)
	}
	id, err := b.jwt.verify(ctx, token, tokenHash(key))
	if err != nil {
		return nil, time.Time{}, err
	}
	return id, id.Expires, nil
}

// logResult logs a verification at debug level: never the token, only its
// hash prefix, sub and jti.
func (b *Bearer) logResult(key [32]byte, id *Identity, err error) {
	ce := b.log.Check(zap.DebugLevel, "bearer token verified")
	if err != nil {
		ce = b.log.Check(zap.DebugLevel, "bearer token rejected")
	}
	if ce == nil {
		return
	}
	if err != nil {
		ce.Write(zap.String("token_id", tokenHash(key)), zap.Error(err))
		return
	}
	ce.Write(zap.String("sub", id.Subject), zap.String("token_id", id.TokenID), zap.Time("expires", id.Expires))
}

// Close stops the background JWKS refresh and waits for it. Verify still
// works afterwards; the remote JWK set is then only refreshed on demand.
func (b *Bearer) Close() {
	if b.closed.Swap(true) {
		return
	}
	if b.remote != nil {
		b.remote.stop()
	}
	if b.ownsHC {
		b.client.CloseIdleConnections()
	}
}

// tokenKey is the cache key of token, its sha256. The bytes are hashed in
// place: []byte(token) would copy up to 8 KB on every request, and
// sha256.Sum256 only reads its argument.
func tokenKey(token string) [32]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}

// tokenHash is the token's id in logs: 8 hex digits of its sha256.
func tokenHash(key [32]byte) string { return hex.EncodeToString(key[:4]) }
