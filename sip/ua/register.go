package ua

import (
	"context"
	"time"
)

// STUB: the registration helper replaces this file (Register, Unregister,
// states, keepalive, OAuth token source).

// RegState is where a registration stands.
type RegState int

// Registration states, reported on RegEvents.
const (
	Registering RegState = iota
	Registered
	RegFailed
	Unregistered
)

// RegEvent is one change of the registration's state.
type RegEvent struct {
	State   RegState
	Expires time.Duration // granted, when Registered
	Err     error         // why, when RegFailed
	At      time.Time
}

// RegisterOption configures Register.
type RegisterOption func(*registerConfig)

type registerConfig struct {
	cred    Credentials
	expires time.Duration
}

// WithBearer authenticates with a fixed bearer token.
func WithBearer(token string) RegisterOption {
	return func(c *registerConfig) { c.cred = Bearer(token) }
}

// WithTokenSource authenticates with tokens from src, refreshed as they
// expire.
func WithTokenSource(src TokenSource) RegisterOption {
	return func(c *registerConfig) { c.cred = Tokens(src) }
}

// WithDigest authenticates with Digest.
func WithDigest(user, password string) RegisterOption {
	return func(c *registerConfig) { c.cred = Digest(user, password) }
}

// WithExpires asks for this registration lifetime (default 3600 s).
func WithExpires(d time.Duration) RegisterOption {
	return func(c *registerConfig) { c.expires = d }
}

// registrations is the peer's registration state.
type registrations struct{}

func (p *Peer) initRegistrations() {}

// Register registers the peer at registrar (host:port) and keeps the
// registration alive until Unregister or Close.
func (p *Peer) Register(ctx context.Context, registrar string, opts ...RegisterOption) error {
	return errNotYet
}

// Unregister removes the peer's registration (REGISTER Expires: 0).
func (p *Peer) Unregister(ctx context.Context) error { return errNotYet }

// RegEvents reports each registration state change.
func (p *Peer) RegEvents() <-chan RegEvent { return nil }

// PasswordGrant is a TokenSource that logs in at tokenURL (the server's
// /oauth/token) with the password grant and refreshes with the refresh
// grant.
func PasswordGrant(tokenURL, clientID, user, password string) TokenSource {
	return func(ctx context.Context, rejected string) (Token, error) { return Token{}, errNotYet }
}
