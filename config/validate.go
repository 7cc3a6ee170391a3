package config

import (
	"errors"
	"fmt"
	"github.com/b2bua/b2bua/actors/call"
	"github.com/b2bua/b2bua/auth"
	"net"
	"strings"

	"github.com/b2bua/b2bua/sip/edge"
)

// Validate reports settings that cannot work, before anything starts or
// touches the disk. It only reads c: call Resolve first for the derived
// settings.
func (c *Config) Validate() error {
	switch {
	case len(c.Listen) == 0:
		return errors.New("config: no listen address")
	case c.Data == "":
		return errors.New("config: data directory is empty")
	case c.Edge.Domain == "":
		return errors.New("config: domain is empty")
	case c.Edge.MaxInFlight < 1:
		return fmt.Errorf("config: max inflight %d: want at least 1", c.Edge.MaxInFlight)
	case c.Edge.ClientConcurrency < 1:
		return fmt.Errorf("config: client concurrency %d: want at least 1", c.Edge.ClientConcurrency)
	}
	if err := c.validateAddrs(); err != nil {
		return err
	}
	if err := c.Presence.Validate(); err != nil {
		return err
	}
	if err := c.Messaging.Validate(); err != nil {
		return err
	}
	if err := c.Calls.Validate(); err != nil {
		return err
	}
	if c.Calls.Media == call.MediaRelay {
		if err := c.Media.Validate(); err != nil {
			return err
		}
	}
	if c.MemoryLimit != NoMemoryLimit {
		if _, err := ParseBytes(c.MemoryLimit); err != nil {
			return fmt.Errorf("config: memory limit %q: %w", c.MemoryLimit, err)
		}
	}
	switch {
	case c.GCPercent < -1:
		return fmt.Errorf("config: gc percent %d: want -1 (off), 0 (default) or more", c.GCPercent)
	case c.BlockProfileRate < 0 || c.MutexProfileFraction < 0:
		return fmt.Errorf("config: block profile rate %v and mutex profile fraction %d must not be negative", c.BlockProfileRate, c.MutexProfileFraction)
	case c.GCPercent == -1 && c.MemoryLimit == NoMemoryLimit:
		return fmt.Errorf("config: gc percent -1 (collector off) needs a memory limit, not %q", NoMemoryLimit)
	}
	if err := c.Registrar.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := c.validateAuth(); err != nil {
		return err
	}
	switch c.LogFormat {
	case "json", "console", "auto":
	default:
		return fmt.Errorf("config: log format %q: want json, console or auto", c.LogFormat)
	}
	return nil
}

// validateAddrs checks the form of the SIP listeners and the HTTP address,
// port numbers included. It resolves no name and binds nothing.
func (c *Config) validateAddrs() error {
	for _, s := range c.Listen {
		l, err := edge.ParseListener(s)
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		if err := checkPort(l.Network, l.Addr); err != nil {
			return fmt.Errorf("config: listener %q: %w", s, err)
		}
	}
	if err := checkPort("tcp", c.HTTP); err != nil {
		return fmt.Errorf("config: http %q: %w: want HOST:PORT, e.g. 127.0.0.1:8080", c.HTTP, err)
	}
	return nil
}

func checkPort(network, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	_, err = net.LookupPort(network, port)
	return err
}

func (c *Config) validateAuth() error {
	if err := validateSchemes(c.Auth); err != nil {
		return err
	}
	if _, err := auth.ParseChallengePolicy(c.AuthChallenges); err != nil {
		return fmt.Errorf("config: auth_challenges: %w", err)
	}
	if len(c.DigestAlgorithms) == 0 {
		return errors.New("config: no digest algorithm")
	}
	for _, a := range c.DigestAlgorithms {
		switch strings.ToUpper(a) {
		case "MD5", "SHA-256", "MD5-SESS", "SHA-256-SESS":
		default:
			return fmt.Errorf("config: digest algorithm %q: want SHA-256 or MD5", a)
		}
	}
	return c.Tokens.validate()
}

func validateSchemes(list string) error {
	schemes := splitList(list)
	if len(schemes) == 0 {
		return errors.New("config: auth is empty: want bearer, digest, bearer,digest or none")
	}
	for _, s := range schemes {
		switch strings.ToLower(s) {
		case "bearer", "digest":
		case "none":
			if len(schemes) > 1 {
				return errors.New("config: auth none cannot be combined with a scheme")
			}
		default:
			return fmt.Errorf("config: auth scheme %q: want bearer, digest or none", s)
		}
	}
	return nil
}

func (t *Tokens) validate() error {
	for _, a := range t.Algorithms {
		switch a {
		case "ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA":
		default:
			return fmt.Errorf("config: token algorithm %q: want an asymmetric JWS algorithm such as ES256, RS256 or EdDSA", a)
		}
	}
	for _, cl := range t.Clients {
		if cl.ID == "" {
			return errors.New("config: a token client has no id")
		}
	}
	if t.AccessTTL < 0 || t.RefreshTTL < 0 || t.Leeway < 0 {
		return errors.New("config: token lifetimes and leeway must not be negative")
	}
	in := t.Introspection
	if in.URL != "" && (in.ClientID == "" || in.ClientSecret == "") {
		return errors.New("config: introspection needs client_id and client_secret")
	}
	return nil
}
