package users

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"go.uber.org/zap"
)

// tokenResponse is the RFC 6749 §5.1 success response.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
}

// serveToken is the token endpoint (RFC 6749 §3.2).
func (s *Service) serveToken(w http.ResponseWriter, r *http.Request) {
	resp, err := s.token(w, r)
	if err != nil {
		s.writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Service) token(w http.ResponseWriter, r *http.Request) (*tokenResponse, error) {
	form, err := readForm(w, r)
	if err != nil {
		return nil, err
	}
	gt := form.Get("grant_type")
	if gt == "" {
		return nil, errRequest("grant_type missing")
	}
	if gt != GrantPassword && gt != GrantRefreshToken && gt != GrantClientCredentials {
		return nil, &oauthError{http.StatusBadRequest, "unsupported_grant_type", "grant_type not supported", 0}
	}
	c, err := s.authenticateClient(r, form)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(c.Grants, gt) {
		return nil, errUnauthorizedClient
	}
	var requested []string // nil: scope absent
	if form.Has("scope") {
		var ok bool
		if requested, ok = parseScope(form.Get("scope")); !ok {
			return nil, errRequest("malformed scope")
		}
		if requested == nil {
			requested = []string{}
		}
	}
	switch gt {
	case GrantPassword:
		return s.passwordGrant(r, c, form, requested)
	case GrantRefreshToken:
		return s.refreshGrant(c, form, requested)
	default:
		return s.clientGrant(c, requested)
	}
}

// passwordGrant is RFC 6749 §4.3: the resource owner's name and password.
// Failures are rate limited per name and per source address.
func (s *Service) passwordGrant(r *http.Request, c *Client, form url.Values, requested []string) (*tokenResponse, error) {
	name, password := form.Get("username"), form.Get("password")
	if name == "" || password == "" {
		return nil, errRequest("username and password required")
	}
	source := sourceAddr(r)
	if d := s.limits.wait(name, source); d > 0 {
		s.log.Info("password grant rate limited", zap.String("user", name), zap.String("source", source))
		return nil, &oauthError{http.StatusTooManyRequests, "temporarily_unavailable",
			"too many failed attempts", retryAfter(d)}
	}
	u, err := s.checkPassword(name, password)
	if err != nil {
		if errors.Is(err, ErrNoSuchUser) || errors.Is(err, ErrUserDisabled) || errors.Is(err, errWrongPassword) {
			s.limits.fail(name, source)
			s.log.Info("password grant failed", zap.String("user", name), zap.String("source", source), zap.Error(err))
			return nil, errGrant("invalid username or password")
		}
		return nil, err
	}
	allowed := u.Scopes
	if len(c.Scopes) > 0 {
		allowed = intersect(allowed, c.Scopes)
	}
	scopes, err := grantScopes(requested, allowed)
	if err != nil {
		return nil, errScope
	}
	resp, ws, err := s.userTokens(u.Name, c, scopes, scopes, randomToken(16))
	if err != nil {
		return nil, err
	}
	return resp, s.commit(ws...)
}

var errWrongPassword = errors.New("users: wrong password")

// checkPassword returns the enabled user whose password this is. An
// unknown name costs one argon2id run as well, so timing does not tell
// which names exist.
func (s *Service) checkPassword(name, password string) (*userRecord, error) {
	u, err := s.lookup(name)
	phc := s.dummyPHC
	if err == nil {
		phc = u.PHC
	} else if !errors.Is(err, ErrNoSuchUser) && !errors.Is(err, ErrUserDisabled) {
		return nil, err
	}
	ok, verr := s.verify(phc, password)
	switch {
	case err != nil:
		return nil, err
	case verr != nil:
		return nil, verr
	case !ok:
		return nil, errWrongPassword
	}
	return u, nil
}

// sourceAddr is the address a request came from. X-Forwarded-For is not
// trusted: behind a proxy every client shares the proxy's budget.
func sourceAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// userTokens makes the tokens of a user grant: an access token with
// access scopes and, for clients allowed to refresh, a refresh token of
// family with refresh scopes. The caller commits the returned writes.
func (s *Service) userTokens(name string, c *Client, access, refresh []string, family string) (*tokenResponse, []write, error) {
	tok, jti, exp, err := s.signAccess(grant{subject: name, clientID: c.ID, scopes: access, sipURI: s.SIPURI(name)})
	if err != nil {
		return nil, nil, err
	}
	resp := &tokenResponse{AccessToken: tok, TokenType: "Bearer",
		ExpiresIn: int64(s.cfg.AccessTTL.Seconds()), Scope: strings.Join(access, " ")}
	var ws []write
	if slices.Contains(c.Grants, GrantRefreshToken) {
		var w write
		resp.RefreshToken, w = s.newRefresh(name, c.ID, refresh, family)
		ws = append(ws, w)
	}
	s.log.Info("access token issued", zap.String("user", name), zap.String("jti", jti),
		zap.String("client_id", c.ID), zap.Time("exp", exp))
	return resp, ws, nil
}

// refreshGrant is RFC 6749 §6 with rotation (RFC 9700 §4.14.2): each
// refresh token works once; using one again revokes its whole family.
func (s *Service) refreshGrant(c *Client, form url.Values, requested []string) (*tokenResponse, error) {
	token := form.Get("refresh_token")
	if token == "" {
		return nil, errRequest("refresh_token missing")
	}
	h := tokenHash(token)
	mu := &s.refreshMu[int(h[0])%len(s.refreshMu)]
	mu.Lock()
	defer mu.Unlock()
	rec, err := s.usableRefresh(h, c)
	if err != nil {
		return nil, err
	}
	u, err := s.lookup(rec.User)
	if errors.Is(err, ErrNoSuchUser) || errors.Is(err, ErrUserDisabled) {
		return nil, errGrant("refresh token invalid")
	} else if err != nil {
		return nil, err
	}
	// RFC 6749 §6: at most the scope originally granted; absent means all
	// of it. Scopes the user lost since are dropped silently.
	scopes, err := grantScopes(requested, rec.Scopes)
	if err != nil {
		return nil, errScope
	}
	resp, ws, err := s.userTokens(u.Name, c, intersect(scopes, u.Scopes), rec.Scopes, rec.Family)
	if err != nil {
		return nil, err
	}
	rec.Rotated = true
	return resp, s.commit(append(ws, write{KindRefreshTokens, h, rec})...)
}

// usableRefresh loads the refresh token with hash h for client c, and
// handles reuse of a rotated one.
func (s *Service) usableRefresh(h string, c *Client) (*refreshRecord, error) {
	var rec refreshRecord
	found, err := s.load(KindRefreshTokens, h, &rec)
	if err != nil {
		return nil, err
	}
	if !found || !s.now().Before(rec.Expires) || rec.Client != c.ID {
		return nil, errGrant("refresh token invalid")
	}
	revoked, err := s.familyRevoked(rec.Family)
	if err != nil {
		return nil, err
	}
	if revoked {
		return nil, errGrant("refresh token invalid")
	}
	if rec.Rotated {
		s.log.Warn("refresh token reused: family revoked", zap.String("user", rec.User),
			zap.String("token_hash", h[:8]), zap.String("family", prefix(rec.Family)))
		if err := s.commit(s.revokeFamilies(rec.Family)...); err != nil {
			return nil, err
		}
		return nil, errGrant("refresh token invalid")
	}
	return &rec, nil
}

// clientGrant is RFC 6749 §4.4: a confidential client for itself.
func (s *Service) clientGrant(c *Client, requested []string) (*tokenResponse, error) {
	scopes, err := grantScopes(requested, c.Scopes)
	if err != nil {
		return nil, errScope
	}
	tok, jti, _, err := s.signAccess(grant{subject: c.ID, clientID: c.ID, scopes: scopes})
	if err != nil {
		return nil, err
	}
	s.log.Info("access token issued", zap.String("client_id", c.ID), zap.String("jti", jti))
	// RFC 6749 §4.4.3: no refresh token.
	return &tokenResponse{AccessToken: tok, TokenType: "Bearer",
		ExpiresIn: int64(s.cfg.AccessTTL.Seconds()), Scope: strings.Join(scopes, " ")}, nil
}

// prefix shortens an identifier for logs.
func prefix(id string) string { return id[:min(len(id), 8)] }
