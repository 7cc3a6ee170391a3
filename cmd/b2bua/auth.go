package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/b2bua/b2bua/auth"
	"github.com/b2bua/b2bua/auth/digest"
	"github.com/b2bua/b2bua/auth/users"
	"github.com/b2bua/b2bua/config"
	"github.com/b2bua/b2bua/sip/edge"
	"github.com/b2bua/b2bua/store"
)

// secrets is the store bucket of the server's own secrets.
const secrets store.Kind = "server_secrets"

// openUsers opens the users service and authorization server on st.
func openUsers(c config.Config, st store.Store, log *zap.Logger) (*users.Service, error) {
	clients := make([]users.Client, 0, len(c.Tokens.Clients))
	for _, cl := range c.Tokens.Clients {
		clients = append(clients, users.Client{ID: cl.ID, Secret: cl.Secret, Grants: cl.Grants, Scopes: cl.Scopes})
	}
	return users.New(st, users.Config{
		Issuer: c.Tokens.Issuer, Audience: c.Tokens.Audience, Domain: c.Edge.Domain,
		AccessTTL: c.Tokens.AccessTTL, RefreshTTL: c.Tokens.RefreshTTL, Clients: clients,
	}, log.Named("users"))
}

// buildAuth returns what the edge authenticates with, per --auth, and a
// function that stops the verifiers' background work.
func buildAuth(c config.Config, st store.Store, svc *users.Service, log *zap.Logger) (*edge.Auth, func(), error) {
	bearerOn, digestOn := c.AuthSchemes()
	scopes := edge.DefaultScopes() // from the edge's method table
	if len(c.Tokens.Scopes) > 0 {
		scopes = auth.ScopeMap{}
		for m, sc := range c.Tokens.Scopes {
			scopes[strings.ToUpper(m)] = sc
		}
	}
	policy, err := auth.ParseChallengePolicy(c.AuthChallenges)
	if err != nil {
		return nil, nil, err
	}
	a := &edge.Auth{Scopes: scopes, Realm: c.Edge.Domain, AuthzServer: c.Tokens.Issuer + "/oauth/token", Policy: policy}
	stop := func() {}
	if bearerOn {
		cfg := auth.BearerConfig{
			Issuer: c.Tokens.Issuer, Audience: c.Tokens.Audience, IdentityClaim: c.Tokens.IdentityClaim,
			Domain: c.Edge.Domain, LocalKeys: svc.PublicKeys, JWKSURI: c.Tokens.JWKSURI,
			Algorithms: c.Tokens.Algorithms, Leeway: c.Tokens.Leeway,
		}
		if in := c.Tokens.Introspection; in.URL != "" {
			cfg.Introspection = &auth.IntrospectionConfig{URL: in.URL, ClientID: in.ClientID, ClientSecret: in.ClientSecret}
		}
		b, err := auth.NewBearer(cfg, log.Named("bearer"))
		if err != nil {
			return nil, nil, err
		}
		a.Bearer, stop = b, b.Close
	}
	if digestOn {
		secret, err := loadSecret(st, "digest_nonce")
		if err != nil {
			stop()
			return nil, nil, err
		}
		d, err := digest.New(digest.Config{Realm: c.Edge.Domain, Secret: secret, Algorithms: c.DigestAlgorithms}, log.Named("digest"))
		if err != nil {
			stop()
			return nil, nil, err
		}
		a.Digest = &digestVerifier{server: d, ha1: svc.DigestHA1}
	}
	return a, stop, nil
}

// digestVerifier joins the Digest server and the users service's HA1s.
type digestVerifier struct {
	server *digest.Server
	ha1    digest.HA1Func
}

func (d *digestVerifier) Challenges(stale bool) []string { return d.server.Challenges(stale) }

func (d *digestVerifier) Verify(method, params string) (*auth.Identity, error) {
	c, err := digest.ParseCredentials(params)
	if err != nil {
		return nil, err
	}
	return d.server.Verify(method, c, d.ha1)
}

// loadSecret returns the named 32-byte secret from the store, creating it
// on first use, so Digest nonces stay valid across restarts.
func loadSecret(st store.Store, name string) ([]byte, error) {
	v, err := st.Load(secrets, name)
	if err == nil && len(v) == 32 {
		return v, nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	v = make([]byte, 32)
	if _, err := rand.Read(v); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	st.Save(secrets, name, v, func(err error) { done <- err })
	if err := <-done; err != nil {
		return nil, fmt.Errorf("save %s secret: %w", name, err)
	}
	return v, nil
}
