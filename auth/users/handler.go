package users

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"go.uber.org/zap"

	"github.com/b2bua/b2bua/auth"
)

// Paths of the endpoints Handler serves, relative to Config.Issuer.
const (
	PathToken      = "/oauth/token"
	PathIntrospect = "/oauth/introspect"
	PathRevoke     = "/oauth/revoke"
	PathJWKS       = "/.well-known/jwks.json"
	PathMetadata   = "/.well-known/oauth-authorization-server"
)

// maxForm bounds a request body: OAuth forms are a few hundred bytes.
const maxForm = 16 << 10

// Handler returns the OAuth 2.0 endpoints: token (RFC 6749), introspection
// (RFC 7662), revocation (RFC 7009), the JWK set and the RFC 8414 metadata.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathToken, s.serveToken)
	mux.HandleFunc("POST "+PathIntrospect, s.serveIntrospect)
	mux.HandleFunc("POST "+PathRevoke, s.serveRevoke)
	mux.HandleFunc("GET "+PathJWKS, s.serveJWKS)
	mux.HandleFunc("GET "+PathMetadata, s.serveMetadata)
	return mux
}

// oauthError is an RFC 6749 §5.2 error response.
type oauthError struct {
	status      int
	code        string
	description string
	retryAfter  int // seconds, for 429
}

func (e *oauthError) Error() string { return e.code + ": " + e.description }

func errRequest(format string, args ...any) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_request", fmt.Sprintf(format, args...), 0}
}

func errGrant(desc string) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_grant", desc, 0}
}

var (
	errClient             = &oauthError{http.StatusUnauthorized, "invalid_client", "client authentication failed", 0}
	errScope              = &oauthError{http.StatusBadRequest, "invalid_scope", "scope not granted", 0}
	errUnauthorizedClient = &oauthError{http.StatusBadRequest, "unauthorized_client", "grant not allowed for this client", 0}
	errOtherClient        = &oauthError{http.StatusBadRequest, "unauthorized_client", "token was issued to another client", 0}
)

// writeJSON answers v with status; token material is never cached
// (RFC 6749 §5.1).
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers err: an *oauthError as itself, anything else as a
// 500 server_error, logged here and not shown to the client.
func (s *Service) writeError(w http.ResponseWriter, err error) {
	var oe *oauthError
	if !errors.As(err, &oe) {
		s.log.Error("oauth request failed", zap.Error(err))
		oe = &oauthError{http.StatusInternalServerError, "server_error", "internal error", 0}
	}
	switch {
	case oe.status == http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Basic realm="`+s.cfg.Issuer+`"`)
	case oe.retryAfter > 0:
		w.Header().Set("Retry-After", strconv.Itoa(oe.retryAfter))
	}
	writeJSON(w, oe.status, map[string]string{"error": oe.code, "error_description": oe.description})
}

// readForm parses a form-encoded POST body. RFC 6749 §3.2 wants the body
// form-encoded and §3.1 every parameter at most once; the query string is
// ignored.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/x-www-form-urlencoded" {
		return nil, errRequest("content type must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return nil, errRequest("malformed form body")
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			return nil, errRequest("parameter %q repeated", k)
		}
	}
	return r.PostForm, nil
}

// authenticateClient identifies the client of a request (RFC 6749 §2.3):
// HTTP Basic (client_secret_basic), client_id and client_secret in the body
// (client_secret_post), or client_id alone for a public client. A request
// that names no client at all is the built-in public client.
func (s *Service) authenticateClient(r *http.Request, form url.Values) (*Client, error) {
	id, secret, basic := r.BasicAuth()
	if basic {
		if form.Has("client_secret") {
			return nil, errRequest("more than one client authentication method") // RFC 6749 §2.3
		}
		// RFC 6749 §2.3.1: both are form-encoded before Basic encoding.
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return nil, errClient
		}
		if form.Has("client_id") && form.Get("client_id") != id {
			return nil, errRequest("client_id differs from the authenticated client")
		}
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
		if id == "" && secret == "" {
			id = PublicClientID
		}
	}
	c := s.client(id)
	switch {
	case c == nil:
		return nil, errClient
	case c.confidential() && !equalSecret(c.Secret, secret):
		s.log.Info("client authentication failed", zap.String("client_id", id))
		return nil, errClient
	case !c.confidential() && secret != "":
		return nil, errClient
	}
	return c, nil
}

// serveJWKS publishes the public keys; verifiers may cache them for five
// minutes and refetch on an unknown kid.
func (s *Service) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	b, err := json.Marshal(s.PublicKeys())
	if err != nil {
		s.writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "max-age=300")
	_, _ = w.Write(b)
}

// serveMetadata answers the RFC 8414 §3 metadata request.
func (s *Service) serveMetadata(w http.ResponseWriter, _ *http.Request) {
	scopes := slices.Clone(s.cfg.DefaultScopes)
	scopes = append(scopes, auth.ScopeRegister, auth.ScopePresence, auth.ScopeCall)
	for _, c := range s.cfg.Clients {
		scopes = append(scopes, c.Scopes...)
	}
	slices.Sort(scopes)
	authMethods := []string{"client_secret_basic", "client_secret_post", "none"}
	md := map[string]any{
		"issuer":                                s.cfg.Issuer,
		"token_endpoint":                        s.cfg.Issuer + PathToken,
		"jwks_uri":                              s.cfg.Issuer + PathJWKS,
		"introspection_endpoint":                s.cfg.Issuer + PathIntrospect,
		"revocation_endpoint":                   s.cfg.Issuer + PathRevoke,
		"grant_types_supported":                 []string{GrantPassword, GrantRefreshToken, GrantClientCredentials},
		"response_types_supported":              []string{}, // no authorization endpoint
		"scopes_supported":                      slices.Compact(scopes),
		"token_endpoint_auth_methods_supported": authMethods,
		"introspection_endpoint_auth_methods_supported": authMethods[:2],
		"revocation_endpoint_auth_methods_supported":    authMethods,
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=300")
	_ = json.NewEncoder(w).Encode(md)
}
