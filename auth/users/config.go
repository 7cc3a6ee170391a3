package users

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/b2bua/b2bua/auth"
)

// Grant types the token endpoint supports (RFC 6749 §4.3, §4.4, §6).
const (
	GrantPassword          = "password"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// PublicClientID is the built-in public client that SIP user agents use:
// password and refresh_token grants, no secret.
const PublicClientID = "sipua"

// CLIClientID is the client_id claim of tokens made by IssueAccessToken
// (the `b2bua token` command), so they can be told apart in logs.
const CLIClientID = "b2bua-cli"

// Defaults of Config.
const (
	DefaultAccessTTL  = 15 * time.Minute    // lifetime of an access token
	DefaultRefreshTTL = 30 * 24 * time.Hour // lifetime of a refresh token
)

// Config configures the users service and its OAuth 2.0 endpoints.
type Config struct {
	// Issuer is the base URL the endpoints are served under, e.g.
	// "http://127.0.0.1:8080": the iss of issued tokens and of the RFC 8414
	// metadata. Required.
	Issuer string
	// Audience is the aud of access tokens; default "sip:" + Domain.
	Audience string
	// Domain is the SIP domain: user alice is sip:alice@Domain, and Domain
	// is the Digest realm of the stored HA1s. Required.
	Domain string
	// AccessTTL is the lifetime of access tokens; default 15 minutes.
	AccessTTL time.Duration
	// RefreshTTL is the lifetime of a refresh token; each rotation starts
	// a new one. Default 30 days.
	RefreshTTL time.Duration
	// Clients are the configured OAuth clients. The public client
	// PublicClientID is always present and may not be redefined.
	Clients []Client
	// DefaultScopes are given to users added without scopes; default
	// sip:register sip:presence sip:call.
	DefaultScopes []string
	// Hash sets the argon2id cost of new password hashes; zero fields take
	// the OWASP defaults (19 MiB, 2 passes, 1 lane).
	Hash HashParams
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Client is an OAuth 2.0 client (RFC 6749 §2.1).
type Client struct {
	// ID is the client_id.
	ID string
	// Secret makes the client confidential. It is compared in constant
	// time; a value starting with "$argon2id$" is taken as a PHC hash of the
	// secret instead.
	Secret string
	// Grants the client may use; default client_credentials for a
	// confidential client, password and refresh_token for a public one.
	Grants []string
	// Scopes bound what the client may obtain: for client_credentials they
	// are what it gets, for user grants they narrow the user's scopes.
	// Empty: no narrowing for user grants, nothing for client_credentials.
	Scopes []string
}

func (c *Client) confidential() bool { return c.Secret != "" }

// withDefaults returns cfg with zero fields filled in.
func (cfg Config) withDefaults() Config {
	cfg.Issuer = strings.TrimRight(cfg.Issuer, "/")
	if cfg.Audience == "" {
		cfg.Audience = "sip:" + strings.ToLower(cfg.Domain)
	}
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = DefaultAccessTTL
	}
	if cfg.RefreshTTL <= 0 {
		cfg.RefreshTTL = DefaultRefreshTTL
	}
	if cfg.DefaultScopes == nil {
		cfg.DefaultScopes = []string{auth.ScopeRegister, auth.ScopePresence, auth.ScopeCall}
	}
	cfg.Hash = cfg.Hash.withDefaults()
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Clients = slices.Clone(cfg.Clients)
	for i := range cfg.Clients {
		c := &cfg.Clients[i]
		if len(c.Grants) == 0 && c.confidential() {
			c.Grants = []string{GrantClientCredentials}
		}
	}
	cfg.Clients = append(cfg.Clients, Client{ID: PublicClientID,
		Grants: []string{GrantPassword, GrantRefreshToken}})
	return cfg
}

// Validate reports the first problem of a Config after defaults.
func (cfg Config) Validate() error {
	u, err := url.Parse(cfg.Issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%w: issuer %q is not an http(s) URL without query", ErrInvalidConfig, cfg.Issuer)
	}
	if cfg.Domain == "" || strings.ContainsAny(cfg.Domain, "@:; \t\r\n\"") {
		return fmt.Errorf("%w: domain %q", ErrInvalidConfig, cfg.Domain)
	}
	if err := validScopes(cfg.DefaultScopes); err != nil {
		return fmt.Errorf("%w: default scopes: %w", ErrInvalidConfig, err)
	}
	seen := map[string]bool{}
	for _, c := range cfg.Clients {
		if c.ID == "" || seen[c.ID] {
			return fmt.Errorf("%w: client id %q empty or repeated (%q is built in)", ErrInvalidConfig, c.ID, PublicClientID)
		}
		seen[c.ID] = true
		for _, g := range c.Grants {
			if g != GrantPassword && g != GrantRefreshToken && g != GrantClientCredentials {
				return fmt.Errorf("%w: client %q: unknown grant %q", ErrInvalidConfig, c.ID, g)
			}
		}
		if slices.Contains(c.Grants, GrantClientCredentials) && !c.confidential() {
			return fmt.Errorf("%w: client %q: client_credentials needs a secret", ErrInvalidConfig, c.ID)
		}
		if err := validScopes(c.Scopes); err != nil {
			return fmt.Errorf("%w: client %q: %w", ErrInvalidConfig, c.ID, err)
		}
	}
	return nil
}

// client returns the configured client id, or nil.
func (s *Service) client(id string) *Client {
	for i := range s.cfg.Clients {
		if s.cfg.Clients[i].ID == id {
			return &s.cfg.Clients[i]
		}
	}
	return nil
}
