package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// introspectionCacheMax bounds how long an introspected token is cached:
// revocation at the authorization server takes effect within this time.
const introspectionCacheMax = 60 * time.Second

// maxIntrospectionBody bounds an introspection response.
const maxIntrospectionBody = 64 << 10

var errInactive = fmt.Errorf("%w: token not active", ErrInvalidToken)

// introspector asks an RFC 7662 endpoint about tokens.
type introspector struct {
	url      string
	authz    string // HTTP Basic credentials of this server
	client   *http.Client
	claim    string
	domain   string
	issuer   string
	audience string
	leeway   time.Duration
}

func newIntrospector(cfg BearerConfig, client *http.Client) *introspector {
	in := cfg.Introspection
	// RFC 6749 §2.3.1: client id and secret are form-urlencoded before
	// they go into the Basic credentials.
	creds := url.QueryEscape(in.ClientID) + ":" + url.QueryEscape(in.ClientSecret)
	return &introspector{
		url: in.URL, authz: "Basic " + base64.StdEncoding.EncodeToString([]byte(creds)),
		client: client, claim: cfg.IdentityClaim, domain: cfg.Domain,
		issuer: cfg.Issuer, audience: cfg.Audience, leeway: cfg.Leeway,
	}
}

// introspect returns the identity of an active token and how long it may
// be cached: until its exp, at most introspectionCacheMax.
func (in *introspector) introspect(ctx context.Context, token, hash string, now time.Time) (*Identity, time.Time, error) {
	m, err := in.post(ctx, token)
	if err != nil {
		return nil, time.Time{}, err
	}
	id, err := in.identity(m, hash, now)
	if err != nil {
		return nil, time.Time{}, err
	}
	until := now.Add(introspectionCacheMax)
	if !id.Expires.IsZero() && id.Expires.Before(until) {
		until = id.Expires
	}
	return id, until, nil
}

// post sends the RFC 7662 §2.1 request and decodes the §2.2 response. Any
// failure to get an answer is ErrUnavailable, never an acceptance.
func (in *introspector) post(ctx context.Context, token string) (map[string]any, error) {
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.url, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("%w: introspection request: %v", ErrUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", in.authz)
	resp, err := in.client.Do(req)
	if err != nil {
		// err names the URL (without a password) and the transport failure,
		// never the request body that holds the token.
		return nil, fmt.Errorf("%w: introspection endpoint unreachable: %v", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxIntrospectionBody+1))
	if err != nil || resp.StatusCode != http.StatusOK || len(body) > maxIntrospectionBody {
		return nil, fmt.Errorf("%w: introspection endpoint answered HTTP %d", ErrUnavailable, resp.StatusCode)
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, fmt.Errorf("%w: introspection response is not a JSON object", ErrUnavailable)
	}
	return m, nil
}

// identity checks an introspection response and builds its Identity. iss
// and aud are checked when the response has them and the config asks.
func (in *introspector) identity(m map[string]any, hash string, now time.Time) (*Identity, error) {
	if active, _ := m["active"].(bool); !active {
		return nil, errInactive
	}
	exp, hasExp := numericDate(m["exp"])
	nbf, hasNbf := numericDate(m["nbf"])
	switch {
	case hasExp && !now.Before(exp.Add(in.leeway)):
		return nil, errExpired
	case hasNbf && now.Add(in.leeway).Before(nbf):
		return nil, errNotYetValid
	case in.issuer != "" && m["iss"] != nil && m["iss"] != in.issuer:
		return nil, errIssuer
	case in.audience != "" && m["aud"] != nil && !slices.Contains(scopeList(m["aud"]), in.audience):
		return nil, errAudience
	}
	value, _ := m[in.claim].(string)
	if value == "" && in.claim == "sub" {
		value, _ = m["username"].(string) // RFC 7662 §2.2
	}
	uri, ok := identityURI(value, in.domain)
	if !ok {
		return nil, errIdentity
	}
	id := &Identity{Subject: value, URI: uri, Scopes: scopeList(m["scope"]), Method: "bearer", TokenID: hash}
	if hasExp {
		id.Expires = exp
	}
	if jti, _ := m["jti"].(string); jti != "" {
		id.TokenID = truncate(jti, maxTokenIDLength)
	}
	return id, nil
}

// numericDate reads a JSON NumericDate (RFC 7519 §2): seconds since the
// epoch, possibly with a fraction.
func numericDate(v any) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil || f <= 0 || f > 1e11 {
		return time.Time{}, false
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true
}
