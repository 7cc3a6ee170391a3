package ua

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	stdio "io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// OAuthError is an error answer of a token endpoint (RFC 6749 §5.2). A
// refused grant (invalid_grant, invalid_client, unauthorized_client,
// invalid_scope) also matches ErrAuth, so a registration stops instead of
// retrying.
type OAuthError struct {
	Status      int    // HTTP status
	Code        string // "invalid_grant"
	Description string
}

func (e *OAuthError) Error() string {
	if e.Description == "" {
		return fmt.Sprintf("ua: oauth: %s (HTTP %d)", e.Code, e.Status)
	}
	return fmt.Sprintf("ua: oauth: %s: %s (HTTP %d)", e.Code, e.Description, e.Status)
}

// Is makes a refused grant match ErrAuth.
func (e *OAuthError) Is(target error) bool {
	if target != ErrAuth {
		return false
	}
	switch e.Code {
	case "invalid_grant", "invalid_client", "unauthorized_client", "invalid_scope":
		return true
	}
	return false
}

// PasswordGrant is a TokenSource that logs in at tokenURL (the server's
// /oauth/token) with the password grant (RFC 6749 §4.3) and refreshes with
// the refresh grant (RFC 6749 §6), keeping the rotated refresh token. When
// a refresh fails it logs in with the password again. clientID "" is the
// server's built-in public client.
func PasswordGrant(tokenURL, clientID, user, password string) TokenSource {
	g := &grant{url: tokenURL, client: clientID, user: user, password: password}
	return g.token
}

// RefreshGrant is a TokenSource that starts from a refresh token (one the
// application kept) and refreshes with it, keeping each rotated one.
func RefreshGrant(tokenURL, clientID, refreshToken string) TokenSource {
	g := &grant{url: tokenURL, client: clientID, refresh: refreshToken}
	return g.token
}

// grant is the state of a token source: the last refresh token.
type grant struct {
	url, client    string
	user, password string // "": no password grant to fall back to

	mu      sync.Mutex
	refresh string
}

// oauthClient bounds each call to the token endpoint.
var oauthClient = &http.Client{Timeout: 10 * time.Second}

func (g *grant) token(ctx context.Context, _ string) (Token, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.refresh != "" {
		tok, err := g.post(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {g.refresh}})
		if err == nil || g.password == "" {
			return tok, err
		}
		g.refresh = "" // spent or revoked: log in again
	}
	if g.password == "" {
		return Token{}, fmt.Errorf("%w: no refresh token left", ErrAuth)
	}
	return g.post(ctx, url.Values{"grant_type": {"password"}, "username": {g.user}, "password": {g.password}})
}

// post sends one token request and keeps its refresh token.
func (g *grant) post(ctx context.Context, form url.Values) (Token, error) {
	if g.client != "" {
		form.Set("client_id", g.client)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.url, strings.NewReader(form.Encode()))
	if err != nil {
		return Token{}, fmt.Errorf("ua: oauth: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	res, err := oauthClient.Do(req)
	if err != nil {
		return Token{}, fmt.Errorf("ua: oauth: %w", err)
	}
	defer res.Body.Close()
	raw, err := stdio.ReadAll(stdio.LimitReader(res.Body, 64<<10))
	if err != nil {
		return Token{}, fmt.Errorf("ua: oauth: %w", err)
	}
	var body struct {
		AccessToken  string `json:"access_token"`
		TokenType    string `json:"token_type"`
		ExpiresIn    int64  `json:"expires_in"`
		RefreshToken string `json:"refresh_token"`
		Error        string `json:"error"`
		Description  string `json:"error_description"`
	}
	jerr := json.Unmarshal(raw, &body)
	if res.StatusCode != http.StatusOK {
		if jerr != nil || body.Error == "" {
			return Token{}, &OAuthError{Status: res.StatusCode, Code: "http_error", Description: firstLine(raw)}
		}
		return Token{}, &OAuthError{Status: res.StatusCode, Code: body.Error, Description: body.Description}
	}
	if jerr != nil {
		return Token{}, fmt.Errorf("ua: oauth: token response: %w", jerr)
	}
	if body.AccessToken == "" || !strings.EqualFold(body.TokenType, "bearer") {
		return Token{}, errors.New("ua: oauth: token response without a bearer access_token")
	}
	if body.RefreshToken != "" {
		g.refresh = body.RefreshToken
	}
	tok := Token{AccessToken: body.AccessToken}
	if body.ExpiresIn > 0 {
		tok.Expiry = time.Now().Add(time.Duration(body.ExpiresIn) * time.Second)
	}
	return tok, nil
}

// firstLine is the start of a body that is not an OAuth error, for the
// one error line.
func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}
