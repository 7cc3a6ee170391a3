package users

import (
	"net/http"
	"strings"

	"go.uber.org/zap"
)

// introspection is the RFC 7662 §2.2 response.
type introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Username  string `json:"username,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	Exp       int64  `json:"exp,omitempty"`
	Iat       int64  `json:"iat,omitempty"`
	Sub       string `json:"sub,omitempty"`
	Aud       string `json:"aud,omitempty"`
	Iss       string `json:"iss,omitempty"`
	Jti       string `json:"jti,omitempty"`
	SIPURI    string `json:"sip_uri,omitempty"`
}

var inactive = &introspection{Active: false}

// serveIntrospect is RFC 7662. Only confidential clients may ask (§2.1
// requires some authorization, and a token must not be probed by anyone who
// holds one). The SIP edge does not use this endpoint: it verifies tokens
// against PublicKeys in process.
func (s *Service) serveIntrospect(w http.ResponseWriter, r *http.Request) {
	form, err := readForm(w, r)
	if err == nil {
		var c *Client
		c, err = s.authenticateClient(r, form)
		if err == nil && !c.confidential() {
			err = errClient
		}
	}
	if err != nil {
		s.writeError(w, err)
		return
	}
	token := form.Get("token")
	if token == "" {
		s.writeError(w, errRequest("token missing"))
		return
	}
	var resp *introspection
	if strings.Count(token, ".") == 2 {
		resp, err = s.introspectAccess(token)
	} else {
		resp, err = s.introspectRefresh(token)
	}
	if err != nil {
		s.writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// introspectAccess answers for an access token: active while its signature,
// iss, aud and times verify, its jti is not revoked and, for a user's
// token, the user still exists and is enabled.
func (s *Service) introspectAccess(token string) (*introspection, error) {
	t, err := s.parseAccess(token)
	if err != nil {
		return inactive, nil
	}
	jti, _ := t.JwtID()
	if revoked, err := s.jtiRevoked(jti); err != nil || revoked {
		return inactive, err
	}
	var scope, clientID, sipURI string
	_ = t.Get(claimScope, &scope)
	_ = t.Get(claimClientID, &clientID)
	_ = t.Get(claimSIPURI, &sipURI)
	sub, _ := t.Subject()
	if sipURI != "" {
		if _, err := s.lookup(sub); err != nil {
			return inactive, nil
		}
	}
	exp, _ := t.Expiration()
	iat, _ := t.IssuedAt()
	resp := &introspection{Active: true, Scope: scope, ClientID: clientID, TokenType: "Bearer",
		Exp: exp.Unix(), Iat: iat.Unix(), Sub: sub, Aud: s.cfg.Audience, Iss: s.cfg.Issuer, Jti: jti, SIPURI: sipURI}
	if sipURI != "" {
		resp.Username = sub
	}
	return resp, nil
}

// introspectRefresh answers for a refresh token from the store.
func (s *Service) introspectRefresh(token string) (*introspection, error) {
	var rec refreshRecord
	found, err := s.load(KindRefreshTokens, tokenHash(token), &rec)
	if err != nil || !found || rec.Rotated || !s.now().Before(rec.Expires) {
		return inactive, err
	}
	if revoked, err := s.familyRevoked(rec.Family); err != nil || revoked {
		return inactive, err
	}
	if _, err := s.lookup(rec.User); err != nil {
		return inactive, nil
	}
	return &introspection{Active: true, Scope: strings.Join(rec.Scopes, " "), ClientID: rec.Client,
		Username: rec.User, TokenType: "refresh_token", Exp: rec.Expires.Unix(), Iat: rec.Issued.Unix(),
		Sub: rec.User, Iss: s.cfg.Issuer, SIPURI: s.SIPURI(rec.User)}, nil
}

// serveRevoke is RFC 7009. A refresh token revokes its whole family; an
// access token goes on the revocation list until it expires, which
// introspection consults but the SIP edge, verifying tokens locally, does
// not: there a revoked access token works until its exp (at most
// AccessTTL). Unknown and invalid tokens get 200 as well (§2.2). A public
// client may revoke only its own tokens; confidential clients any.
func (s *Service) serveRevoke(w http.ResponseWriter, r *http.Request) {
	form, err := readForm(w, r)
	if err != nil {
		s.writeError(w, err)
		return
	}
	c, err := s.authenticateClient(r, form)
	if err != nil {
		s.writeError(w, err)
		return
	}
	token := form.Get("token")
	if token == "" {
		s.writeError(w, errRequest("token missing"))
		return
	}
	if strings.Count(token, ".") == 2 {
		err = s.revokeAccess(c, token)
	} else {
		err = s.revokeRefresh(c, token)
	}
	if err != nil {
		s.writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (s *Service) revokeAccess(c *Client, token string) error {
	t, err := s.parseAccess(token)
	if err != nil {
		return nil // expired or not ours: nothing to revoke
	}
	var clientID string
	_ = t.Get(claimClientID, &clientID)
	if !c.confidential() && clientID != c.ID {
		return errOtherClient
	}
	jti, _ := t.JwtID()
	exp, _ := t.Expiration()
	if err := s.revokeJTI(jti, exp); err != nil {
		return err
	}
	sub, _ := t.Subject()
	s.log.Info("access token revoked", zap.String("sub", sub), zap.String("jti", jti))
	return nil
}

func (s *Service) revokeRefresh(c *Client, token string) error {
	h := tokenHash(token)
	var rec refreshRecord
	found, err := s.load(KindRefreshTokens, h, &rec)
	if err != nil || !found {
		return err
	}
	if !c.confidential() && rec.Client != c.ID {
		return errOtherClient
	}
	if err := s.commit(s.revokeFamilies(rec.Family)...); err != nil {
		return err
	}
	s.log.Info("refresh token family revoked", zap.String("user", rec.User), zap.String("token_hash", h[:8]))
	return nil
}
