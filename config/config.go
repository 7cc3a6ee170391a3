// Package config is the server's configuration: defaults < YAML file <
// B2BUA_* environment < command-line flags. The defaults run a working
// server.
//
// Config embeds the Config of each package it configures (edge.Config,
// store.BoltConfig, registrar.Config), so a setting is declared once, in
// its package: the field with its yaml tag, and its default in the
// package's DefaultConfig. The table in settings.go gives a setting its
// flag and B2BUA_* variable. Settings derived from others (the token
// issuer from --http, ...) are filled by Resolve; Validate only checks.
package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/b2bua/b2bua/actors/call"
	"github.com/b2bua/b2bua/actors/messaging"
	"github.com/b2bua/b2bua/actors/presence"
	"github.com/b2bua/b2bua/actors/registrar"
	"github.com/b2bua/b2bua/auth"
	"github.com/b2bua/b2bua/auth/users"
	"github.com/b2bua/b2bua/media"
	"github.com/b2bua/b2bua/sip/edge"
	"github.com/b2bua/b2bua/store"
)

// Config is everything `b2bua serve` needs.
type Config struct {
	Listen    []string `yaml:"listen"` // "udp:HOST:PORT", "tcp:HOST:PORT"
	Data      string   `yaml:"data"`   // data directory; the store is <data>/b2bua.db
	HTTP      string   `yaml:"http"`   // health, metrics, OAuth endpoints, admin API
	Auth      string   `yaml:"auth"`   // "bearer", "digest", "bearer,digest" or "none"
	LogLevel  string   `yaml:"log_level"`
	LogFormat string   `yaml:"log_format"` // "json", "console" or "auto" (console on a terminal)
	// MemoryLimit is the Go runtime's soft memory limit ("800MiB",
	// "2GiB", bytes; "none": no limit; empty: GOMEMLIMIT's when set, else
	// three quarters of the memory the process may use: its cgroup's
	// limit, else the machine's). Near it the collector works harder and
	// returns freed memory to the system (runtime/debug.SetMemoryLimit);
	// it is what keeps GCPercent's larger heap inside the machine.
	MemoryLimit string `yaml:"memory_limit"`
	// GCPercent is the Go collector's GOGC: a collection starts when the
	// heap grew by this percentage of the live heap (0: GOGC's when set,
	// else DefaultGCPercent; -1: off, collections only near MemoryLimit,
	// which must not then be "none"). See README, Performance.
	GCPercent int `yaml:"gc_percent"`
	// BlockProfileRate turns on Go's block profile (/debug/pprof/block):
	// on average one blocking event is sampled per this much time spent
	// blocked (0: off). MutexProfileFraction samples one in that many
	// contended mutex events (/debug/pprof/mutex; 0: off). Both cost a
	// little on every channel operation and lock; for diagnosis.
	BlockProfileRate     time.Duration `yaml:"block_profile_rate"`
	MutexProfileFraction int           `yaml:"mutex_profile_fraction"`
	// Edge is the SIP edge: domain, aliases, max_inflight at the top level
	// of the file. Its Listen and Auth are built from Listen and Auth above.
	Edge edge.Config `yaml:",inline"`
	// Store is the bbolt store: fsync at the top level. Its Path is
	// <Data>/b2bua.db.
	Store     store.BoltConfig `yaml:",inline"`
	Registrar registrar.Config `yaml:"registrar"`
	Presence  presence.Config  `yaml:"presence"`
	Messaging messaging.Config `yaml:"messaging"`
	Calls     call.Config      `yaml:"calls"`
	Media     media.Config     `yaml:"media"`
	Tokens    Tokens           `yaml:"tokens"`
	// DigestAlgorithms are offered in this order, one challenge each (RFC
	// 8760 §2.4). MD5 comes first by default, unlike auth/digest's own
	// default: many phones and tools read only the first challenge and
	// know only MD5 (sipsak fails on a SHA-256 one). A fleet of RFC 8760
	// clients should say "SHA-256,MD5" or "SHA-256".
	DigestAlgorithms []string `yaml:"digest_algorithms"`
	// AuthChallenges picks the challenges of each 401 (auth.ChallengePolicy):
	// rules "ua:PATTERN=PROFILE", "domain:NAME=PROFILE" and
	// "default=PROFILE", first match wins; profiles phone (one Digest
	// challenge), full (every Digest algorithm, then Bearer) and auto (full
	// without User-Agent, else phone). Empty: default=auto, under which
	// phones and RFC 8898 clients both register.
	AuthChallenges []string `yaml:"auth_challenges"`
}

// Tokens configures bearer verification (auth.BearerConfig) and the
// built-in authorization server (users.Config). It is not one package's
// Config: the two share issuer and audience, and the YAML keeps them
// together under `tokens:`.
type Tokens struct {
	Issuer        string        `yaml:"issuer"`         // iss of our tokens and required of any; derived: http://<http>
	Audience      string        `yaml:"audience"`       // aud; derived: sip:<domain>
	IdentityClaim string        `yaml:"identity_claim"` // claim naming the SIP user
	JWKSURI       string        `yaml:"jwks_uri"`       // an external JWKS (key rotation without restart)
	Introspection Introspection `yaml:"introspection"`
	AccessTTL     time.Duration `yaml:"access_ttl"`
	RefreshTTL    time.Duration `yaml:"refresh_ttl"`
	// Algorithms is the allow-list of token signature algorithms; empty
	// means auth's own (ES256, RS256, EdDSA). none and HMAC are never
	// accepted.
	Algorithms []string `yaml:"algorithms"`
	// Leeway is the clock skew allowed for exp, nbf and iat.
	Leeway time.Duration `yaml:"leeway"`
	// Scopes maps a SIP method to the scope its bearer token needs; it
	// replaces the default map (REGISTER: sip:register, ...) when given.
	Scopes map[string]string `yaml:"scopes"`
	// Clients are OAuth clients besides the built-in public "sipua".
	Clients []Client `yaml:"clients"`
}

// Client is an OAuth 2.0 client of the built-in authorization server.
type Client struct {
	ID     string   `yaml:"id"`
	Secret string   `yaml:"secret"` // confidential when set; "$argon2id$..." is taken as a hash
	Grants []string `yaml:"grants"` // default client_credentials (confidential) or password, refresh_token
	Scopes []string `yaml:"scopes"`
}

// Introspection is an RFC 7662 endpoint for opaque tokens.
type Introspection struct {
	URL          string `yaml:"url"`
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
}

// Default returns the defaults: UDP and TCP on 0.0.0.0:5060, data in
// ./data, HTTP on 127.0.0.1:8080, Bearer and Digest authentication
// required, and each package's DefaultConfig (domain localhost, 5000
// requests in flight, no fsync, 8 registrar shards per CPU, ...). The
// derived settings stay empty until Resolve.
func Default() Config {
	return Config{
		Listen:           []string{"udp:0.0.0.0:5060", "tcp:0.0.0.0:5060"},
		Data:             "./data",
		HTTP:             "127.0.0.1:8080",
		Auth:             "bearer,digest",
		DigestAlgorithms: []string{"MD5", "SHA-256"},
		LogLevel:         "info",
		LogFormat:        "auto",
		Edge:             edge.DefaultConfig(),
		Store:            store.DefaultBoltConfig(),
		Registrar:        registrar.DefaultConfig(),
		Presence:         presence.DefaultConfig(),
		Messaging:        messaging.DefaultConfig(),
		Calls:            call.DefaultConfig(),
		Media:            media.DefaultConfig(),
		Tokens: Tokens{IdentityClaim: auth.DefaultIdentityClaim, Leeway: auth.DefaultLeeway,
			AccessTTL: users.DefaultAccessTTL, RefreshTTL: users.DefaultRefreshTTL},
	}
}

// Load returns the defaults overlaid with the YAML file at path (when not
// empty) and then with the environment read through getenv. Overlay the
// flags next (AddFlags), then call Resolve and Validate.
func Load(path string, getenv func(string) (string, bool)) (Config, error) {
	c := Default()
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(raw)))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) { // empty file: defaults
			return c, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	if err := c.applyEnv(getenv); err != nil {
		return c, err
	}
	return c, nil
}

// AuthSchemes returns the schemes --auth turns on: bearer, digest or none.
func (c *Config) AuthSchemes() (bearer, digest bool) {
	for _, s := range splitList(c.Auth) {
		switch strings.ToLower(s) {
		case "bearer":
			bearer = true
		case "digest":
			digest = true
		}
	}
	return bearer, digest
}

// Resolve fills the settings derived from others, which a default cannot
// give before the flags are known: the token issuer (http://<http>) and
// audience (sip:<domain>) when empty, and a zero shard count or in-flight
// bound (the documented "0: default") with the package default.
func (c *Config) Resolve() {
	if c.Tokens.Issuer == "" {
		c.Tokens.Issuer = "http://" + c.HTTP
	}
	if c.Tokens.Audience == "" {
		c.Tokens.Audience = "sip:" + c.Edge.Domain
	}
	if c.Registrar.Shards == 0 {
		c.Registrar.Shards = registrar.DefaultConfig().Shards
	}
	if c.Presence.Shards == 0 {
		c.Presence.Shards = presence.DefaultConfig().Shards
	}
	if c.Messaging.Shards == 0 {
		c.Messaging.Shards = messaging.DefaultConfig().Shards
	}
	if c.Calls.Shards == 0 {
		c.Calls.Shards = call.DefaultConfig().Shards
	}
	if c.Edge.MaxInFlight == 0 {
		c.Edge.MaxInFlight = edge.DefaultConfig().MaxInFlight
	}
}

// StorePath is the store's file: <Data>/b2bua.db.
func (c *Config) StorePath() string { return filepath.Join(c.Data, "b2bua.db") }

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
