package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// allowedAlgorithms are the JWS algorithms BearerConfig.Algorithms may
// name: asymmetric only, so a public key can never serve as an HMAC secret.
var allowedAlgorithms = map[string]struct{}{
	"RS256": {}, "RS384": {}, "RS512": {},
	"PS256": {}, "PS384": {}, "PS512": {},
	"ES256": {}, "ES384": {}, "ES512": {},
	"EdDSA": {}, "Ed25519": {},
}

// maxHeaderLength bounds the encoded JOSE header.
const maxHeaderLength = 1024

// maxTokenIDLength bounds a jti used as Identity.TokenID.
const maxTokenIDLength = 64

// Reasons a JWT is refused; each wraps ErrInvalidToken, and the text after
// the last ": " is what error_description says.
var (
	errJWTHeader     = fmt.Errorf("%w: malformed JOSE header", ErrInvalidToken)
	errAlgNone       = fmt.Errorf("%w: unsigned token (alg none)", ErrInvalidToken)
	errAlgNotAllowed = fmt.Errorf("%w: signature algorithm not allowed", ErrInvalidToken)
	errTyp           = fmt.Errorf("%w: not an access token (typ)", ErrInvalidToken)
	errCrit          = fmt.Errorf("%w: unsupported critical header", ErrInvalidToken)
	errNoKid         = fmt.Errorf("%w: no key id (kid)", ErrInvalidToken)
	errUnknownKid    = fmt.Errorf("%w: unknown signing key", ErrInvalidToken)
	errKeyNoAlg      = fmt.Errorf("%w: signing key has no alg", ErrInvalidToken)
	errKeyAlg        = fmt.Errorf("%w: algorithm does not match the key", ErrInvalidToken)
	errExpired       = fmt.Errorf("%w: token expired", ErrInvalidToken)
	errNotYetValid   = fmt.Errorf("%w: token not yet valid", ErrInvalidToken)
	errIssuedFuture  = fmt.Errorf("%w: token issued in the future", ErrInvalidToken)
	errIssuer        = fmt.Errorf("%w: wrong issuer", ErrInvalidToken)
	errAudience      = fmt.Errorf("%w: wrong audience", ErrInvalidToken)
	errMissingClaim  = fmt.Errorf("%w: missing required claim (exp)", ErrInvalidToken)
	errSignature     = fmt.Errorf("%w: bad signature", ErrInvalidToken)
	errJWTMalformed  = fmt.Errorf("%w: malformed JWT", ErrInvalidToken)
	errIdentity      = fmt.Errorf("%w: identity claim missing or not a SIP address", ErrInvalidToken)
)

// jwtVerifier verifies compact JWS access tokens (RFC 9068).
type jwtVerifier struct {
	local     func() jwk.Set
	remote    *remoteKeys
	allowed   map[string]struct{}
	opts      []jwt.ParseOption // validation; the key set is added per token
	claim     string
	domain    string
	sigChecks *atomic.Int64
}

func newJWTVerifier(cfg BearerConfig, remote *remoteKeys, sigChecks *atomic.Int64) *jwtVerifier {
	v := &jwtVerifier{
		local: cfg.LocalKeys, remote: remote, allowed: map[string]struct{}{},
		claim: cfg.IdentityClaim, domain: cfg.Domain, sigChecks: sigChecks,
	}
	for _, a := range cfg.Algorithms {
		v.allowed[a] = struct{}{}
	}
	v.opts = []jwt.ParseOption{
		jwt.WithValidate(true),
		jwt.WithAcceptableSkew(cfg.Leeway),
		jwt.WithClock(jwt.ClockFunc(cfg.Now)),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
	}
	if cfg.Issuer != "" {
		v.opts = append(v.opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		v.opts = append(v.opts, jwt.WithAudience(cfg.Audience))
	}
	return v
}

// joseHeader holds the protected header fields looked at before the
// signature is (RFC 7515 §4.1).
type joseHeader struct {
	alg, kid, typ string
	crit          bool
}

// verify checks the header, picks the key set holding its kid, then lets
// jwx verify the signature and validate the claims.
func (v *jwtVerifier) verify(ctx context.Context, token, hash string) (*Identity, error) {
	h, err := v.header(token)
	if err != nil {
		return nil, err
	}
	set, err := v.keySet(ctx, h.kid)
	if err != nil {
		return nil, err
	}
	key, _ := set.LookupKeyID(h.kid)
	ka, ok := key.Algorithm()
	if !ok || ka.String() == "" {
		return nil, errKeyNoAlg
	}
	if ka.String() != h.alg {
		return nil, errKeyAlg
	}
	v.sigChecks.Add(1)
	opts := append(v.opts[:len(v.opts):len(v.opts)], jwt.WithKeySet(set))
	tok, err := jwt.ParseString(token, opts...)
	if err != nil {
		return nil, jwtError(err)
	}
	return v.identity(tok, hash)
}

// header decodes and checks the JOSE header: an allowed alg, a kid, an
// access-token typ and no crit extension. Names match exactly (a struct
// would let encoding/json match "ALG" as "alg", and a second spelling could
// then read differently here and in jwx).
func (v *jwtVerifier) header(token string) (joseHeader, error) {
	var h joseHeader
	seg, _, _ := strings.Cut(token, ".")
	if len(seg) > maxHeaderLength {
		return h, errJWTHeader
	}
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	var m map[string]any
	if err != nil || json.Unmarshal(raw, &m) != nil || m == nil {
		return h, errJWTHeader
	}
	var ok [3]bool
	h.alg, ok[0] = stringField(m, "alg")
	h.kid, ok[1] = stringField(m, "kid")
	h.typ, ok[2] = stringField(m, "typ")
	_, h.crit = m["crit"]
	switch _, allowed := v.allowed[h.alg]; {
	case ok != [3]bool{true, true, true}:
		return h, errJWTHeader
	case h.alg == "" || strings.EqualFold(h.alg, "none"):
		return h, errAlgNone
	case !allowed:
		return h, errAlgNotAllowed
	case h.crit:
		return h, errCrit // RFC 7515 §4.1.11: we understand no extension
	case h.kid == "":
		return h, errNoKid
	case !accessTokenType(h.typ):
		return h, errTyp
	}
	return h, nil
}

// stringField reads m[k]: ok is false when it is there but not a string.
func stringField(m map[string]any, k string) (string, bool) {
	v, present := m[k]
	if !present {
		return "", true
	}
	s, ok := v.(string)
	return s, ok
}

// accessTokenType accepts RFC 9068 "at+jwt" and plain JWTs, and refuses
// other typed JWTs (ID tokens with typ, logout tokens, DPoP proofs…) so
// they cannot be replayed as access tokens.
func accessTokenType(typ string) bool {
	switch strings.ToLower(typ) {
	case "", "jwt", "at+jwt", "application/at+jwt":
		return true
	}
	return false
}

// keySet returns the set that holds kid: the local keys first, else the
// remote set, refreshed (rate-limited) when kid is unknown.
func (v *jwtVerifier) keySet(ctx context.Context, kid string) (jwk.Set, error) {
	if v.local != nil {
		if s := v.local(); s != nil {
			if _, ok := s.LookupKeyID(kid); ok {
				return s, nil
			}
		}
	}
	if v.remote == nil {
		return nil, errUnknownKid
	}
	return v.remote.keySet(ctx, kid)
}

// jwtError maps a jwx error to a fixed reason: jwx messages may quote
// parts of the token, which must not reach logs or error_description.
func jwtError(err error) error {
	switch {
	case errors.Is(err, jwt.TokenExpiredError()):
		return errExpired
	case errors.Is(err, jwt.TokenNotYetValidError()):
		return errNotYetValid
	case errors.Is(err, jwt.InvalidIssuedAtError()):
		return errIssuedFuture
	case errors.Is(err, jwt.InvalidIssuerError()):
		return errIssuer
	case errors.Is(err, jwt.InvalidAudienceError()):
		return errAudience
	case errors.Is(err, jwt.MissingRequiredClaimError()):
		return errMissingClaim
	case errors.Is(err, jws.VerifyError()), errors.Is(err, jws.VerificationError()):
		return errSignature
	}
	return errJWTMalformed
}

// identity builds the Identity of a verified token.
func (v *jwtVerifier) identity(tok jwt.Token, hash string) (*Identity, error) {
	var value string
	if v.claim == jwt.SubjectKey {
		value, _ = tok.Subject()
	} else if err := tok.Get(v.claim, &value); err != nil {
		value = ""
	}
	uri, ok := identityURI(value, v.domain)
	if !ok {
		return nil, errIdentity
	}
	exp, _ := tok.Expiration()
	id := &Identity{Subject: value, URI: uri, Scopes: tokenScopes(tok), Method: "bearer", TokenID: hash, Expires: exp}
	if jti, ok := tok.JwtID(); ok && jti != "" {
		id.TokenID = truncate(jti, maxTokenIDLength)
	}
	return id, nil
}

// tokenScopes reads "scope" (a space-separated string, RFC 9068 §2.2.3,
// RFC 8693 §4.2) or else "scp" (an array, as some servers issue it).
func tokenScopes(tok jwt.Token) []string {
	for _, name := range [...]string{"scope", "scp"} {
		var v any
		if tok.Get(name, &v) != nil {
			continue
		}
		if s := scopeList(v); s != nil {
			return s
		}
	}
	return nil
}

// scopeList turns a decoded scope claim into its scopes.
func scopeList(v any) []string {
	switch v := v.(type) {
	case string:
		return strings.Fields(v)
	case []string:
		return v
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
