package users

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"go.uber.org/zap"
)

// Claims of our access tokens beyond the registered ones (RFC 9068 §2.2).
const (
	claimClientID = "client_id"
	claimScope    = "scope"
	claimSIPURI   = "sip_uri"
)

// grant is what one access token carries.
type grant struct {
	subject  string
	clientID string
	scopes   []string
	sipURI   string // empty for client_credentials
}

// randomToken returns n random bytes, base64url without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// signAccess makes an RFC 9068 access token: ES256, typ at+jwt, kid of the
// current signing key.
func (s *Service) signAccess(g grant) (token, jti string, exp time.Time, err error) {
	now := s.now().Truncate(time.Second)
	exp = now.Add(s.cfg.AccessTTL)
	jti = randomToken(16)
	b := jwt.NewBuilder().Issuer(s.cfg.Issuer).Subject(g.subject).Audience([]string{s.cfg.Audience}).
		IssuedAt(now).NotBefore(now).Expiration(exp).JwtID(jti).
		Claim(claimClientID, g.clientID).Claim(claimScope, strings.Join(g.scopes, " "))
	if g.sipURI != "" {
		b = b.Claim(claimSIPURI, g.sipURI)
	}
	tok, err := b.Build()
	if err != nil {
		return "", "", time.Time{}, fmt.Errorf("users: token: %w", err)
	}
	k := s.signer()
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.TypeKey, "at+jwt"); err != nil {
		return "", "", time.Time{}, err
	}
	if err := hdr.Set(jws.KeyIDKey, k.kid); err != nil {
		return "", "", time.Time{}, err
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), k.priv, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", "", time.Time{}, fmt.Errorf("users: sign: %w", err)
	}
	return string(signed), jti, exp, nil
}

// IssueAccessToken makes an access token for user name with scopes (nil:
// all of the user's scopes), as the `b2bua token` command does; its
// client_id is CLIClientID. It returns ErrNoSuchUser, ErrUserDisabled or
// ErrInvalidScope.
func (s *Service) IssueAccessToken(name string, scopes []string) (token string, exp time.Time, err error) {
	u, err := s.lookup(name)
	if err != nil {
		return "", time.Time{}, err
	}
	if err := validScopes(scopes); err != nil {
		return "", time.Time{}, err
	}
	granted, err := grantScopes(scopes, u.Scopes)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%w: %q not all granted to %q", ErrInvalidScope, scopes, name)
	}
	token, jti, exp, err := s.signAccess(grant{subject: name, clientID: CLIClientID, scopes: granted, sipURI: s.SIPURI(name)})
	if err == nil {
		s.log.Info("access token issued", zap.String("user", name), zap.String("jti", jti), zap.String("client_id", CLIClientID))
	}
	return token, exp, err
}

// refreshRecord is what the refresh_tokens bucket holds under the token's
// hash: the token itself is never stored.
type refreshRecord struct {
	User    string    `json:"user"`
	Client  string    `json:"client"`
	Scopes  []string  `json:"scopes"`
	Family  string    `json:"family"` // shared by every token rotated from one login
	Issued  time.Time `json:"issued"`
	Expires time.Time `json:"expires"`
	Rotated bool      `json:"rotated,omitempty"` // used once: using it again is reuse
}

// revokedRecord is what the revoked bucket holds under "jti:<jti>" (an
// access token) or "family:<id>" (a refresh token family), until Expires.
type revokedRecord struct {
	Expires time.Time `json:"expires"`
}

// tokenHash is the store key of a refresh token: base64url(SHA-256).
func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// newRefresh makes a refresh token of family and the write that stores it.
func (s *Service) newRefresh(user, client string, scopes []string, family string) (string, write) {
	token := randomToken(32)
	now := s.now()
	rec := &refreshRecord{User: user, Client: client, Scopes: scopes, Family: family,
		Issued: now, Expires: now.Add(s.cfg.RefreshTTL)}
	return token, write{KindRefreshTokens, tokenHash(token), rec}
}

// familyRevoked reports whether a refresh token family was revoked.
func (s *Service) familyRevoked(family string) (bool, error) {
	var rec revokedRecord
	return s.load(KindRevoked, "family:"+family, &rec)
}

// revokeFamilies marks families revoked for as long as a token of theirs
// may live. A minute of margin covers a rotation racing the revocation.
func (s *Service) revokeFamilies(families ...string) []write {
	rec := &revokedRecord{Expires: s.now().Add(s.cfg.RefreshTTL + time.Minute)}
	ws := make([]write, 0, len(families))
	for _, f := range families {
		ws = append(ws, write{KindRevoked, "family:" + f, rec})
	}
	return ws
}

// revokeUserTokens revokes every refresh token family of user name and
// deletes its refresh tokens (after a password change, disabling or
// deletion).
func (s *Service) revokeUserTokens(name string) error {
	var ws []write
	families := map[string]bool{}
	err := s.st.Scan(KindRefreshTokens, func(key string, val []byte) error {
		var rec refreshRecord
		if json.Unmarshal(val, &rec) == nil && rec.User == name {
			ws = append(ws, write{kind: KindRefreshTokens, key: key})
			families[rec.Family] = true
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("users: revoke tokens of %q: %w", name, err)
	}
	for f := range families {
		ws = append(ws, s.revokeFamilies(f)...)
	}
	if len(ws) == 0 {
		return nil
	}
	s.log.Info("refresh tokens revoked", zap.String("user", name), zap.Int("families", len(families)))
	return s.commit(ws...)
}

// revokeJTI puts an access token's jti on the revocation list until exp.
func (s *Service) revokeJTI(jti string, exp time.Time) error {
	return s.commit(write{KindRevoked, "jti:" + jti, &revokedRecord{Expires: exp}})
}

func (s *Service) jtiRevoked(jti string) (bool, error) {
	var rec revokedRecord
	return s.load(KindRevoked, "jti:"+jti, &rec)
}

// parseAccess verifies an access token of ours: signature against the JWK
// set, iss, aud, exp and nbf at s.now.
func (s *Service) parseAccess(token string) (jwt.Token, error) {
	if strings.Count(token, ".") != 2 {
		return nil, errors.New("users: not a JWT")
	}
	return jwt.ParseString(token, jwt.WithKeySet(s.PublicKeys()), jwt.WithValidate(true),
		jwt.WithIssuer(s.cfg.Issuer), jwt.WithAudience(s.cfg.Audience),
		jwt.WithClock(jwt.ClockFunc(s.now)))
}
