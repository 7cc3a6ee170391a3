package ua

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// Credentials authenticate a peer's requests to its server. Make them with
// Bearer, Tokens or Digest.
type Credentials interface {
	// authorize sets the authorization header of req. challenge is the 401
	// or 407 that refused the previous attempt, nil before the first one.
	// It returns false when it has nothing new to offer for the challenge
	// (the caller then reports the refusal).
	authorize(ctx context.Context, req *sip.Request, challenge *sip.Response) (bool, error)
}

// Token is an OAuth 2.0 access token and when it expires (zero: unknown).
type Token struct {
	AccessToken string
	Expiry      time.Time
}

// TokenSource returns a valid access token. rejected is a token the server
// has just refused (401): the source must return another one (a refresh),
// or an error. It is called again when the token it gave is within 10% of
// its lifetime from expiry.
type TokenSource func(ctx context.Context, rejected string) (Token, error)

// ErrAuth reports a request the server refused for its credentials.
var ErrAuth = errors.New("ua: not authorized")

// Bearer authenticates with a fixed access token (RFC 8898), sent with
// every request.
func Bearer(token string) Credentials {
	return Tokens(func(_ context.Context, rejected string) (Token, error) {
		if rejected == token {
			return Token{}, fmt.Errorf("%w: the bearer token was refused", ErrAuth)
		}
		return Token{AccessToken: token}, nil
	})
}

// Tokens authenticates with tokens from src, refreshed before they expire
// and after the server refuses one.
func Tokens(src TokenSource) Credentials { return &tokens{src: src} }

type tokens struct {
	src    TokenSource
	mu     sync.Mutex
	tok    Token
	issued time.Time
}

func (t *tokens) authorize(ctx context.Context, req *sip.Request, challenge *sip.Response) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rejected := ""
	if challenge != nil {
		if findChallenge(challenge, "Bearer") == "" {
			return false, nil
		}
		rejected = t.tok.AccessToken
	}
	if rejected != "" || t.tok.AccessToken == "" || t.stale(time.Now()) {
		tok, err := t.src(ctx, rejected)
		if err != nil {
			return false, err
		}
		if tok.AccessToken == "" || tok.AccessToken == rejected {
			return false, nil
		}
		t.tok, t.issued = tok, time.Now()
	}
	req.RemoveHeader("Authorization")
	req.AppendHeader(sip.NewHeader("Authorization", "Bearer "+t.tok.AccessToken))
	return true, nil
}

// stale: within 10% of the token's lifetime from its expiry.
func (t *tokens) stale(now time.Time) bool {
	if t.tok.Expiry.IsZero() {
		return false
	}
	life := t.tok.Expiry.Sub(t.issued)
	return now.After(t.tok.Expiry.Add(-life / 10))
}

// Digest authenticates with a user name and password (RFC 3261 §22.4,
// RFC 8760), answering each challenge once; a stale nonce is answered
// again.
func Digest(user, password string) Credentials { return &digestCred{user: user, password: password} }

type digestCred struct {
	user, password string
	mu             sync.Mutex
	last           string // the nonce last answered
}

func (d *digestCred) authorize(_ context.Context, req *sip.Request, challenge *sip.Response) (bool, error) {
	if challenge == nil {
		return true, nil // Digest needs a challenge first
	}
	hdr, value := "Authorization", findChallenge(challenge, "Digest")
	if challenge.StatusCode == 407 {
		hdr = "Proxy-Authorization"
	}
	if value == "" {
		return false, nil
	}
	chal, err := digest.ParseChallenge(value)
	if err != nil {
		return false, fmt.Errorf("ua: digest challenge: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if chal.Nonce == d.last && !chal.Stale {
		return false, nil // the same nonce again: the password is wrong
	}
	d.last = chal.Nonce
	chal.Algorithm = strings.ToUpper(chal.Algorithm)
	cred, err := digest.Digest(chal, digest.Options{Method: string(req.Method), URI: req.Recipient.String(),
		Username: d.user, Password: d.password, Count: 1})
	if err != nil {
		return false, fmt.Errorf("ua: digest: %w", err)
	}
	req.RemoveHeader(hdr)
	req.AppendHeader(sip.NewHeader(hdr, cred.String()))
	return true, nil
}

// findChallenge returns the value of the first WWW-Authenticate (or
// Proxy-Authenticate) of res whose scheme is scheme, or "".
func findChallenge(res *sip.Response, scheme string) string {
	for _, name := range []string{"WWW-Authenticate", "Proxy-Authenticate"} {
		for _, h := range res.GetHeaders(name) {
			v := strings.TrimSpace(h.Value())
			if len(v) >= len(scheme) && strings.EqualFold(v[:len(scheme)], scheme) && (len(v) == len(scheme) || v[len(scheme)] == ' ') {
				return v
			}
		}
	}
	return ""
}

// current returns a valid access token (fetched or refreshed as needed),
// for the server's HTTP API.
func (t *tokens) current(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok.AccessToken == "" || t.stale(time.Now()) {
		tok, err := t.src(ctx, "")
		if err != nil {
			return "", err
		}
		if tok.AccessToken == "" {
			return "", fmt.Errorf("%w: no access token", ErrAuth)
		}
		t.tok, t.issued = tok, time.Now()
	}
	return t.tok.AccessToken, nil
}
